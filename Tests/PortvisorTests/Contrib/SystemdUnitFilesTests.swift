// contrib/systemd/: the service's key settings, and every socket unit named after a service of
// the services.json shipped beside them, on its port and protocol (systemd-analyze runs in CI).
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// A systemd unit file: `[Section]` then `Key=value` lines; a key may repeat.
struct UnitFile {
    let name: String
    private(set) var entries: [(section: String, key: String, value: String)] = []

    init(_ relative: String) throws {
        name = URL(fileURLWithPath: relative).lastPathComponent
        var section = ""
        for raw in try Repository.read(relative).split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
            } else if let equals = line.firstIndex(of: "=") {
                entries.append((section, String(line[..<equals]), String(line[line.index(after: equals)...])))
            } else {
                throw TestFailure("\(relative): not a unit file line: \(line)")
            }
        }
    }

    func values(_ section: String, _ key: String) -> [String] {
        entries.filter { $0.section == section && $0.key == key }.map(\.value)
    }

    func value(_ section: String, _ key: String) -> String? { values(section, key).last }
}

@Suite struct SystemdUnitFilesTests {
    static let directory = "contrib/systemd"

    static func socketUnits() throws -> [UnitFile] {
        try FileManager.default.contentsOfDirectory(atPath: Repository.path(directory))
            .filter { $0.hasSuffix(".socket") }.sorted().map { try UnitFile("\(directory)/\($0)") }
    }

    @Test func serviceUnitSettings() throws {
        let unit = try UnitFile("\(Self.directory)/portvisor.service")
        let expected: [String: String] = [
            "Type": "notify", "NotifyAccess": "main", "Restart": "on-failure",
            "ExecStart": "/usr/local/bin/portvisor run --config /etc/portvisor/services.json",
            "ExecReload": "/usr/local/bin/portvisor reload --config /etc/portvisor/services.json",
            "RuntimeDirectory": "portvisor", "RuntimeDirectoryMode": "0700", "Environment": "PORTVISOR_CONTROL=/run/portvisor/control.sock",
            "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "SystemCallArchitectures": "native",
            "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        ]
        for (key, value) in expected { #expect(unit.value("Service", key) == value, "\(key)") }
        // AF_UNIX carries sd_notify and the control socket, AF_NETLINK a daemon's live list.
        #expect(unit.value("Service", "RestrictAddressFamilies").map { Set($0.split(separator: " ")) } == ["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"])
        #expect(unit.value("Service", "WatchdogSec").map { !$0.isEmpty && $0 != "0" } == true)
        #expect(Int(unit.value("Service", "LimitNOFILE") ?? "") ?? 0 >= 4096)
        let noRestart = Set(unit.value("Service", "RestartPreventExitStatus")?.split(separator: " ").compactMap { Int32($0) } ?? [])
        #expect(noRestart == [ExitCode.usage, ExitCode.configUnreadable, ExitCode.configInvalid])
        // Sockets= lists exactly the socket units shipped beside it.
        let listed = Set(unit.value("Service", "Sockets")?.split(separator: " ").map(String.init) ?? [])
        #expect(listed == Set(try Self.socketUnits().map(\.name)))
        // Not a wildcard: the proc subset would hide /proc/sys/net/ipv4/ip_local_port_range.
        #expect(unit.value("Service", "ProcSubset") == nil)
    }

    @Test func everySocketNamesAServiceOnItsPortAndProtocol() throws {
        let config = try ConfigLoader.load(path: Repository.path("\(Self.directory)/services.json"))
        let status = try #require(config.status)
        var names: Set<String> = []
        for unit in try Self.socketUnits() {
            let name = try #require(unit.value("Socket", "FileDescriptorName"), "\(unit.name) has no FileDescriptorName")
            #expect(names.insert(name).inserted, "\(unit.name): \(name) named twice")
            #expect(unit.value("Install", "WantedBy") == "sockets.target", "\(unit.name)")
            let streams = unit.values("Socket", "ListenStream"), datagrams = unit.values("Socket", "ListenDatagram")
            #expect(streams.count + datagrams.count == 1, "\(unit.name): one socket per unit, since one name covers all")
            let listen = (streams + datagrams).first ?? ""
            let port = Int(listen.split(separator: ":").last ?? "")
            if name == "status" {
                #expect(unit.name == "portvisor.socket" && unit.value("Socket", "Service") == nil)
                #expect(listen == "\(status.host):\(status.port)" && datagrams.isEmpty)
                continue
            }
            #expect(unit.value("Socket", "Service") == "portvisor.service", "\(unit.name)")
            let service = try #require(config.services.first { $0.name == name }, "\(unit.name): no service named \(name) in services.json")
            #expect(port == service.port, "\(unit.name): port \(listen) but \(name) is on \(service.port)")
            #expect((service.transport == .udp) == !datagrams.isEmpty, "\(unit.name): the Listen kind must match \(name)'s protocol")
        }
        #expect(names == Set(config.services.filter(\.enabled).map(\.name) + ["status"]), "a socket unit for every service")
    }

    @Test func shippedConfigIsValid() throws {
        let check = try ChildProcess.runPortvisor(["check", "--config", Repository.path("\(Self.directory)/services.json")])
        #expect(check.code == 0, "\(check.err)")
    }
}
