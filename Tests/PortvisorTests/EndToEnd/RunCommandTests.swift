// `portvisor run` as a process: start-up table, log shape, SIGTERM drain, SIGHUP reload,
// EMFILE recovery under a low descriptor limit, and a listener destroyed with `ss -K`.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// A `portvisor run` child on a temporary config; killed on deinit if still running.
final class RunningPortvisor {
    let directory: TempDirectory
    let configPath: String
    let process: ChildProcess
    let jsonLogs: Bool

    /// Starts `portvisor run`; with `awaitListening`, returns once every enabled service listens.
    init(_ services: [String], status: String = "false", arguments: [String] = [], setup: String? = nil,
         awaitListening: Bool = true) throws {
        directory = try TempDirectory()
        configPath = try directory.write("services.json", Self.config(services, status: status))
        process = try ChildProcess.portvisor(["run", "--config", configPath] + arguments, setup: setup)
        jsonLogs = arguments.contains("json")
        let names = services.compactMap { service -> String? in
            guard let value = try? JSONParser.parse(service), case .string(let name)? = value["name"] else { return nil }
            return value["enabled"] == .bool(false) || !awaitListening ? nil : name
        }
        for name in names {
            try process.waitForStderr(jsonLogs ? #""service":"\#(name)","event":"listening""# : " \(name): listening on ")
        }
    }

    static func config(_ services: [String], status: String = "false") -> String {
        #"{ "status": \#(status), "services": [ \#(services.joined(separator: ",\n")) ] }"#
    }

    /// The port of the latest "NAME: listening on HOST:PORT" line.
    func port(_ name: String) throws -> Int {
        if jsonLogs {
            for line in process.stderrText.split(separator: "\n").reversed() {
                let object = try JSONParser.parse(String(line))
                if object["service"] == .string(name), object["event"] == .string("listening"),
                   case .number(let port)? = object["port"], let value = port.integer {
                    return value
                }
            }
            throw TestFailure("no listening event for \(name)")
        }
        let lines = process.stderrText.split(separator: "\n").filter { $0.contains(" \(name): listening on ") }
        guard let line = lines.last, let colon = line.lastIndex(of: ":"),
              let port = Int(line[line.index(after: colon)...].prefix { $0.isNumber }) else {
            throw TestFailure("no listening line for \(name) in:\n\(process.stderrText)")
        }
        return port
    }

    func rewriteConfig(_ text: String) throws { try directory.write("services.json", text) }
}

@Suite struct RunCommandTests {
    @Test func startupTableAndLogLines() throws {
        let run = try RunningPortvisor([
            #"{ "name": "daytime", "kind": "daytime", "port": 0 }"#,
            #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
            #"{ "name": "off", "kind": "echo", "port": 0, "enabled": false }"#,
        ], arguments: ["--log-level", "debug"])
        try run.process.waitForStdout("off")
        let table = run.process.stdoutText.split(separator: "\n").map(String.init)
        #expect(table.first?.hasPrefix("SERVICE") == true)
        #expect(table.contains { $0.hasPrefix("echo ") && $0.contains("127.0.0.1:\(try! run.port("echo"))") && $0.contains("running") })
        #expect(table.contains { $0.hasPrefix("off ") && $0.contains("stopped") })
        _ = try TestClient(port: run.port("echo")).exchange(Array("x".utf8))
        try run.process.waitForStderr("closed after")
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
        let pattern = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (debug|info|warning|error) [A-Za-z0-9._-]+: .+$"#
        for line in run.process.stderrText.split(separator: "\n") {
            #expect(String(line).range(of: pattern, options: .regularExpression) != nil, "bad log line: \(line)")
        }
        #expect(run.process.stderrText.contains(" debug echo: 127.0.0.1:"))
    }

    @Test func jsonLogs() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#], arguments: ["--log-format", "json", "--log-level", "debug"])
        _ = try TestClient(port: run.port("echo")).exchange(Array("hello".utf8))
        try run.process.waitForStderr("connection-closed")
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
        let lines = run.process.stderrText.split(separator: "\n").map(String.init)
        for line in lines {
            let object = try JSONParser.parse(line)
            for key in ["time", "level", "service", "event", "message"] { #expect(object[key] != nil, "\(key) missing in \(line)") }
        }
        let closed = try #require(lines.map { try JSONParser.parse($0) }.first { $0["event"] == .string("connection-closed") })
        #expect(closed["bytesIn"] == .int(5) && closed["bytesOut"] == .int(5))
        #expect(closed["peer"].map { if case .string(let peer) = $0 { return peer.hasPrefix("127.0.0.1:") } else { return false } } == true)
        #expect(closed["durationMs"] != nil)
    }

    @Test func invalidConfigStartsNothing() throws {
        let dir = try TempDirectory()
        let path = try dir.write("bad.json", #"{ "services": [ { "name": "e", "kind": "echo", "port": 99999 } ] }"#)
        let result = try ChildProcess.runPortvisor(["run", "--config", path])
        #expect(result.code == 78)
        #expect(result.err == "\(path): services[0].port: 99999 is outside 0...65535\n")
        #expect(try ChildProcess.runPortvisor(["run", "--config", dir.file("missing.json")]).code == 66)
    }

    @Test func sigtermStopsAcceptingAndDrains() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#])
        let port = try run.port("echo")
        let client = try TestClient(port: port)
        #expect(try client.exchange(Array("before".utf8), halfClose: false) == Array("before".utf8))
        run.process.signal(SIGTERM)
        try run.process.waitForStderr("SIGTERM received")
        try run.process.waitForStderr("draining 1 connection")
        #expect(throws: SystemError.self) { _ = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 1) }
        #expect(try client.exchange(Array("during".utf8), halfClose: false) == Array("during".utf8))
        let closed = Date()
        client.close()
        #expect(try run.process.waitForExit(timeout: 5) == 0)
        #expect(Date().timeIntervalSince(closed) < 2)
    }

    @Test func drainEndsAfterFiveSeconds() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#])
        let client = try TestClient(port: run.port("echo"))
        _ = try client.exchange(Array("x".utf8), halfClose: false)
        let start = Date()
        run.process.signal(SIGINT)
        #expect(client.waitForClose(timeout: 8))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 4.5 && elapsed < 7)
        #expect(try run.process.waitForExit(timeout: 5) == 0)
        #expect(run.process.stderrText.contains("closing 1 connection still open after the drain"))
    }

    @Test func secondSignalExitsAtOnce() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#])
        let client = try TestClient(port: run.port("echo"))
        _ = try client.exchange(Array("x".utf8), halfClose: false)
        run.process.signal(SIGINT)
        try run.process.waitForStderr("SIGINT received")
        run.process.signal(SIGINT)
        #expect(try run.process.waitForExit(timeout: 3) == 0)
        #expect(run.process.stderrText.contains("SIGINT again"))
    }

    @Test func sighupReloadAppliesAValidConfig() throws {
        let run = try RunningPortvisor([
            #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
            #"{ "name": "daytime", "kind": "daytime", "port": 0 }"#,
        ])
        let echoPort = try run.port("echo"), daytimePort = try run.port("daytime")
        let kept = try TestClient(port: echoPort)
        _ = try kept.exchange(Array("a".utf8), halfClose: false)
        // The same echo (port now fixed to what it got, so it is unchanged only if we keep 0).
        try run.rewriteConfig(RunningPortvisor.config([
            #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
            #"{ "name": "sentence", "kind": "sentence", "port": 0, "sentence": "Reloaded." }"#,
        ]))
        run.process.signal(SIGHUP)
        try run.process.waitForStderr("reloaded: 1 unchanged, 0 changed, 1 added (sentence), 1 removed (daytime)")
        #expect(try kept.exchange(Array("still".utf8)) == Array("still".utf8))
        #expect(try TestClient(port: run.port("sentence")).readLine() == "Reloaded.\r\n")
        #expect(throws: SystemError.self) { _ = try Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(daytimePort)), timeout: 1) }
        #expect(try TestClient(port: echoPort).exchange(Array("same port".utf8)) == Array("same port".utf8))
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    @Test func sighupWithABrokenConfigKeepsTheOldOne() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#])
        let port = try run.port("echo")
        try run.rewriteConfig(#"{ "services": [ { "name": "echo", "kind": "echo", "port": "x" } ] }"#)
        run.process.signal(SIGHUP)
        try run.process.waitForStderr("reload rejected, keeping the running config:")
        #expect(run.process.stderrText.contains(#"services[0].port: expected an integer, found "x""#))
        try run.rewriteConfig("{ not json")
        run.process.signal(SIGHUP)
        try run.process.waitForStderr("not valid JSON")
        #expect(try TestClient(port: port).exchange(Array("ok".utf8)) == Array("ok".utf8))
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    /// Descriptor exhaustion in a child with `ulimit -n 40`: accepting pauses without spinning
    /// and resumes once descriptors are free; another service is unaffected.
    @Test func emfilePausesAcceptingAndRecovers() throws {
        let run = try RunningPortvisor([
            #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
            #"{ "name": "daytime", "kind": "daytime", "port": 0 }"#,
        ], setup: "ulimit -n 40")
        let port = try run.port("echo")
        var clients: [TestClient] = []
        for _ in 0..<60 { clients.append(try TestClient(port: port)) }  // the backlog holds the excess
        try run.process.waitForStderr("out of descriptors")
        // Those accepted echo; the rest wait in the backlog.
        let cpuBefore = try Self.cpuSeconds(pid: run.process.pid)
        _ = eventually(timeout: 1) { false }
        let cpuUsed = try Self.cpuSeconds(pid: run.process.pid) - cpuBefore
        #expect(cpuUsed < 0.1, "used \(cpuUsed) s of CPU in 1 s while out of descriptors")
        let waiting = clients.removeLast()
        do {
            try waiting.send("queued")
        } catch {
            run.process.pump(timeout: 0.2)
            throw TestFailure("\(error); server log:\n\(run.process.stderrText)")
        }
        clients.removeAll()  // frees descriptors in the server as it sees the closes
        let start = Date()
        #expect(try waiting.read(count: 6, timeout: 5) == Array("queued".utf8))
        #expect(Date().timeIntervalSince(start) < 1.5)
        try run.process.waitForStderr("accepting again")
        waiting.close()
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/ss")))
    func listenerDestroyedWithSsKillIsRebound() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0, "restart": { "initialDelay": 0.05 } }"#])
        let port = try run.port("echo")
        let survivor = try TestClient(port: port)
        // Accepted (not still in the listener's queue, which dies with the listener).
        #expect(try survivor.exchange(Array("first".utf8), halfClose: false) == Array("first".utf8))
        let kill = try ChildProcess("/usr/bin/ss", ["-K", "-t", "-l", "sport = :\(port)"])
        #expect(try kill.waitForExit() == 0)
        try run.process.waitForStderr("echo: listening socket: Software caused connection abort (errno: 103); rebinding in")
        #expect(eventually(timeout: 2) { (try? TestClient(port: port)) != nil })
        #expect(try TestClient(port: port).exchange(Array("back".utf8)) == Array("back".utf8))
        #expect(try survivor.exchange(Array("alive".utf8)) == Array("alive".utf8))
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    /// User + system CPU seconds of `pid`, from /proc.
    static func cpuSeconds(pid: pid_t) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let ticks = Double(fields[11])! + Double(fields[12])!
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
