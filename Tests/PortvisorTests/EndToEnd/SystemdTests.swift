// systemd integration without systemd: `systemd-socket-activate` passes named sockets to the
// built binary, and a Unix datagram socket made here receives its sd_notify messages.
import CPortvisor
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// A NOTIFY_SOCKET: collects sd_notify datagrams, counting `WATCHDOG=1` apart.
final class NotifyReceiver {
    let path: String
    private let fd: Int32
    private(set) var watchdogPings = 0

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, CP_SOCK_DGRAM, 0)
        guard fd >= 0 else { throw TestFailure("socket(AF_UNIX): errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw TestFailure("path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind(\(path)): errno \(errno)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next message other than `WATCHDOG=1`, or nil when none came within `timeout` seconds.
    func next(timeout: Double = 5) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline.timeIntervalSinceNow
            guard left > 0, poll(&poller, 1, Int32(max(1, left * 1000))) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count >= 0 else { return nil }
            let message = String(decoding: buffer[0..<count], as: UTF8.self)
            if message == "WATCHDOG=1" { watchdogPings += 1 } else { return message }
        }
    }
}

@Suite(.enabled(if: Repository.hasTool("systemd-socket-activate"), "systemd-socket-activate is not installed (apt-get install systemd)"))
struct SystemdTests {
    /// A port free on 127.0.0.1 a moment ago.
    static func freePort(udp: Bool = false) throws -> Int {
        let address = SocketAddress(ip: .loopbackV4, port: 0)
        let fd = udp ? try Socket.bindDatagram(on: address) : try Socket.listen(on: address)
        defer { close(fd) }
        return Int(try Socket.localAddress(fd).port)
    }

    /// `systemd-socket-activate ARGS portvisor run --config PATH`; it execs portvisor in place
    /// (same pid) on the first connection or datagram.
    static func activate(_ arguments: [String], config: String) throws -> ChildProcess {
        try ChildProcess("/usr/bin/systemd-socket-activate", arguments + [ChildProcess.portvisorPath, "run", "--config", config])
    }

    @Test func adoptsNamedSocketsClosesStraysAndNotifies() throws {
        let directory = try TempDirectory()
        let (passedEcho, passedStatus, stray) = (try Self.freePort(), try Self.freePort(), try Self.freePort())
        let (configuredEcho, configuredStatus) = (try Self.freePort(), try Self.freePort())
        let config = try directory.write("services.json", """
            { "status": { "host": "127.0.0.1", "port": \(configuredStatus) },
              "services": [ { "name": "echo", "kind": "echo", "port": \(configuredEcho) } ] }
            """)
        let notify = try NotifyReceiver(path: directory.file("notify"))
        let child = try Self.activate([
            "-l", "127.0.0.1:\(passedEcho)", "-l", "127.0.0.1:\(passedStatus)", "-l", "127.0.0.1:\(stray)",
            "--fdname=echo:status:stray", "-E", "NOTIFY_SOCKET=\(notify.path)", "-E", "WATCHDOG_USEC=1000000",
        ], config: config)
        try child.waitForStderr("Listening on 127.0.0.1:\(stray)")

        // The first connection makes systemd-socket-activate exec portvisor, which accepts it.
        let client = try TestClient(port: passedEcho, timeout: 10)
        #expect(try client.exchange(Array("through the passed socket".utf8)) == Array("through the passed socket".utf8))
        client.close()
        let ready = try #require(notify.next(timeout: 10))
        #expect(ready.hasPrefix("READY=1\nSTATUS=1 of 1 services running, 0 in backoff, 0 failed;"), "\(ready)")
        let log = try child.waitForStderr("matches no service; closing it")
        #expect(log.contains("echo: using the socket passed by systemd (fd 3)"))
        #expect(log.contains("status: using the socket passed by systemd (fd 4)"))
        #expect(log.contains("echo: the socket passed by systemd is on 127.0.0.1:\(passedEcho), not 127.0.0.1:\(configuredEcho) as configured; using the passed socket"))
        #expect(log.contains("supervisor: systemd passed socket \"stray\" (fd 5) that matches no service; closing it"))
        #expect(log.contains("status: the socket passed by systemd is on 127.0.0.1:\(passedStatus), not 127.0.0.1:\(configuredStatus) as configured"))
        #expect(log.contains("systemd watchdog every 1 s; pinging at half that"))
        #expect(throws: SystemError.self) { _ = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(stray)), timeout: 1) }
        #expect(throws: SystemError.self) { _ = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(configuredEcho)), timeout: 1) }
        let health = try HTTPClient.get("/healthz", from: SocketAddress(ip: .loopbackV4, port: UInt16(passedStatus)))
        #expect(health.status == 200 && health.bodyText.hasPrefix("ok"))

        // WATCHDOG=1 every 500 ms (half of WATCHDOG_USEC), and nothing else meanwhile.
        var unexpected: [String] = []
        let pinged = eventually(timeout: 5) {
            if let message = notify.next(timeout: 0.1) { unexpected.append(message) }
            return notify.watchdogPings >= 3
        }
        #expect(pinged && unexpected.isEmpty, "\(notify.watchdogPings) pings; other messages: \(unexpected)")

        child.signal(SIGHUP)
        let reloading = try #require(notify.next()).split(separator: "\n")
        #expect(reloading.first == "RELOADING=1" && reloading.count == 2)
        let stamp = try #require(reloading.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        let now = SystemdNotifier.monotonicMicroseconds()
        #expect(stamp <= now && now - stamp < 10_000_000, "MONOTONIC_USEC=\(stamp), now \(now)")
        #expect(notify.next()?.hasPrefix("READY=1\nSTATUS=1 of 1 services running") == true)
        try child.waitForStderr("reloaded: 1 unchanged")

        child.signal(SIGTERM)
        #expect(notify.next() == "STOPPING=1\nSTATUS=stopping: draining connections")
        #expect(try child.waitForExit() == 0)
    }

    @Test func aSocketOfTheWrongKindFailsTheServiceAtOnce() throws {
        let directory = try TempDirectory()
        let port = try Self.freePort(udp: true)
        let config = try directory.write("services.json", """
            { "status": false, "services": [ { "name": "t", "kind": "echo", "port": \(port) } ] }
            """)
        let child = try Self.activate(["-d", "-l", "127.0.0.1:\(port)", "--fdname=t"], config: config)
        try child.waitForStderr("Listening on 127.0.0.1:\(port)")
        try TestDatagramSocket().send(Array("wake up".utf8), to: port)
        let log = try child.waitForStderr("t: failed:")
        #expect(log.contains("t: failed: the socket passed by systemd is not a tcp socket"))
        #expect(!log.contains("rebinding in"))
        child.signal(SIGTERM)
        #expect(try child.waitForExit() == 0)
    }

    @Test func adoptsADatagramSocket() throws {
        let directory = try TempDirectory()
        let port = try Self.freePort(udp: true)
        let config = try directory.write("services.json", """
            { "status": false, "services": [ { "name": "udp-echo", "kind": "echo", "protocol": "udp", "port": \(port) } ] }
            """)
        let child = try Self.activate(["-d", "-l", "127.0.0.1:\(port)", "--fdname=udp-echo"], config: config)
        try child.waitForStderr("Listening on 127.0.0.1:\(port)")
        let client = try TestDatagramSocket()
        // This datagram wakes systemd-socket-activate; portvisor reads it from the passed socket.
        try client.send(Array("first".utf8), to: port)
        #expect(try client.receive(timeout: 10) == Array("first".utf8))
        try client.send(Array("second".utf8), to: port)
        #expect(try client.receive(timeout: 5) == Array("second".utf8))
        try child.waitForStderr("udp-echo: listening on 127.0.0.1:\(port)/udp")
        #expect(child.stderrText.contains("udp-echo: using the socket passed by systemd (fd 3)"))
        #expect(!child.stderrText.contains("as configured"))
        child.signal(SIGTERM)
        #expect(try child.waitForExit() == 0)
    }

    @Test(.enabled(if: geteuid() == 0 && Repository.hasTool("ss"), "needs root and ss to destroy a listening socket"))
    func aDestroyedPassedSocketIsReboundAtItsAddress() throws {
        let directory = try TempDirectory()
        let port = try Self.freePort()
        let config = try directory.write("services.json", """
            { "status": false, "services": [ { "name": "echo", "kind": "echo", "port": \(port) } ] }
            """)
        let child = try Self.activate(["-l", "127.0.0.1:\(port)", "--fdname=echo"], config: config)
        try child.waitForStderr("Listening on 127.0.0.1:\(port)")
        #expect(try TestClient(port: port, timeout: 10).exchange(Array("one".utf8)) == Array("one".utf8))
        try child.waitForStderr("echo: listening on 127.0.0.1:\(port)")
        let kill = try ChildProcess("/usr/bin/ss", ["-K", "-t", "-l", "sport = :\(port)"])
        #expect(try kill.waitForExit() == 0)
        try child.waitForStderr("the socket passed by systemd no longer listens; binding 127.0.0.1:\(port) anew")
        #expect(eventually(timeout: 5) {
            child.pump(timeout: 0.05)
            return child.stderrText.components(separatedBy: "echo: listening on 127.0.0.1:\(port)").count == 3
        })
        #expect(try TestClient(port: port).exchange(Array("two".utf8)) == Array("two".utf8))
        child.signal(SIGTERM)
        #expect(try child.waitForExit() == 0)
    }
}
