// The control socket (SPEC §9, docs/control.md) against a real supervisor on a real Unix
// socket: the protocol's edges, stop/start/restart/reload/kill through the `portvisor` command
// line, holds that survive reloads, a fresh backoff for a failed service, lastReload, and the
// refusal of another uid (setpriv).
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorCLI

/// A supervisor on a config file in a temporary directory, with its control socket there.
final class ControlledSupervisor {
    let directory: TempDirectory
    let configPath: String
    let controlPath: String
    let supervisor: Supervisor
    let logs = LogSink.memory()

    init(_ services: [String], status: String = "false", extra: String = "") throws {
        directory = try TempDirectory()
        controlPath = directory.file("ctl/control.sock")
        configPath = try directory.write("services.json", Self.config(services, status: status, control: controlPath, extra: extra))
        let config = try ConfigLoader.load(path: configPath)
        guard case .claimed(let socket) = ControlSocket.claim(controlPath) else { throw TestFailure("cannot claim \(controlPath)") }
        supervisor = try Supervisor(config: config, logger: Logger(level: .debug, sink: logs), control: socket)
        try supervisor.start()
    }

    deinit { supervisor.stop(drainSeconds: 0) }

    static func config(_ services: [String], status: String = "false", control: String, extra: String = "") -> String {
        #"{ "status": \#(status), "control": "\#(control)"\#(extra), "services": [ \#(services.joined(separator: ",\n")) ] }"#
    }

    func rewrite(_ services: [String], status: String = "false", extra: String = "") throws {
        try directory.write("services.json", Self.config(services, status: status, control: controlPath, extra: extra))
    }

    /// `portvisor ARGS --control PATH`, run to its end.
    func cli(_ arguments: [String]) throws -> (code: Int32, out: String, err: String) {
        try ChildProcess.runPortvisor(arguments + ["--control", controlPath], timeout: 30)
    }

    func snapshot(_ name: String) throws -> ServiceSnapshot {
        guard let service = supervisor.snapshot(connections: true).services.last(where: { $0.config.name == name }) else {
            throw TestFailure("no service \(name)")
        }
        return service
    }

    func port(_ name: String) throws -> Int {
        guard let port = try snapshot(name).boundPort else { throw TestFailure("\(name) is not bound") }
        return port
    }

    /// Sends `bytes` as they are and returns the answer line.
    func raw(_ bytes: [UInt8], halfClose: Bool = false) throws -> String {
        let fd = try UnixSocket.connect(path: controlPath, timeout: 5)
        defer { Syscall.close(fd) }
        let client = RawUnixClient(fd: fd)
        try client.send(bytes)
        if halfClose { Socket.shutdownWrite(fd) }
        return try client.readToEnd(timeout: 10)
    }
}

/// Blocking-with-deadline I/O on a connected Unix socket.
struct RawUnixClient {
    let fd: Int32

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        let deadline = Date().addingTimeInterval(5)
        while sent < bytes.count {
            guard Date() < deadline else { throw TestFailure("send timed out") }
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + sent, $0.count - sent) }
            if n > 0 { sent += n } else if errno == EAGAIN { usleep(1000) } else { return }  // closed: read the answer
        }
    }

    func readToEnd(timeout: Double) throws -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { return String(decoding: out, as: UTF8.self) }
            out += buffer[0..<n]
        }
        throw TestFailure("no end of answer within \(timeout) s; got \(String(decoding: out, as: UTF8.self))")
    }
}

/// The answer line's members.
func answer(_ line: String) throws -> JSONValue { try JSONParser.parse(line) }

@Suite(.serialized) struct ControlTests {
    static let echo = #"{ "name": "echo", "kind": "echo", "port": 0 }"#
    static let daytime = #"{ "name": "day", "kind": "daytime", "port": 0 }"#

    // MARK: The protocol

    @Test func theProtocolAnswersEveryRequestWithOneLineOfJSON() throws {
        let server = try ControlledSupervisor([Self.echo])
        func code(_ text: String, halfClose: Bool = false) throws -> (Int?, String) {
            let line = try server.raw(Array(text.utf8), halfClose: halfClose)
            #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false, "one line: \(line)")
            guard case .number(let n)? = try answer(line)["code"] else { return (nil, line) }
            return (n.integer, line)
        }
        let info = try answer(try server.raw(Array("info\n".utf8)))
        #expect(info["ok"] == .bool(true) && info["pid"] == .int(Int(getpid())) && info["protocol"] == .int(1))
        #expect(info["config"] == .string(server.configPath) && info["control"] == .string(server.controlPath))
        #expect(info["services"]?.arrayValue?.first?["name"] == .string("echo"))
        #expect(info["services"]?.arrayValue?.first?["port"] == .int(try server.port("echo")))
        #expect(try code("info\r\n").0 == 0)                  // CRLF
        #expect(try code("info", halfClose: true).0 == 0)     // end of file ends the line
        let (unknown, unknownLine) = try code("stpo echo\n")
        #expect(unknown == 64 && unknownLine.contains(#"unknown verb \"stpo\" (did you mean \"stop\"?)"#))
        #expect(try code("stop\n").0 == 64)
        #expect(try code("info now\n").0 == 64)
        #expect(try code("kill echo\n").0 == 64)
        #expect(try code("kill echo 1.2.3.4\n").0 == 64)
        #expect(try code("reload --force\n").0 == 64)
        #expect(try code("stop ../etc\n").0 == 64)
        #expect(try code("stop \u{1}\n").0 == 64)
        #expect(try code(String(repeating: "a", count: 5000)).0 == 64)
        let invalidUTF8 = try answer(try server.raw([0x73, 0xFF, 0x0A]))
        #expect(invalidUTF8["code"] == .int(64))
        // Clients that connect and say nothing hold at most the 16 slots, and only for 5 s:
        // the 17th is told the supervisor is busy (69), then each silent one is answered and
        // closed, and requests are served again.
        var silent: [Int32] = []
        defer { silent.forEach(Syscall.close) }
        for _ in 0..<ControlServer.maxConnections { silent.append(try UnixSocket.connect(path: server.controlPath, timeout: 5)) }
        let started = Date()
        let (busy, busyLine) = try code("info\n")
        #expect(busy == 69 && busyLine.contains("busy with 16 control connections"), "\(busyLine)")
        let late = try RawUnixClient(fd: silent[0]).readToEnd(timeout: 10)
        #expect(Date().timeIntervalSince(started) < 7)
        #expect(try answer(late)["code"] == .int(64) && late.contains("no complete request line"))
        #expect(try code("info\n").0 == 0)
    }

    // MARK: stop, start, restart

    @Test func stopHoldsAcrossReloadsUntilStartAndLetsConnectionsDrain() throws {
        let server = try ControlledSupervisor([Self.echo, Self.daytime])
        let port = try server.port("echo")
        let held = try TestClient(port: port)
        #expect(try held.exchange(Array("before".utf8), halfClose: false) == Array("before".utf8))

        let stop = try server.cli(["stop", "echo"])
        #expect(stop.code == 0, "\(stop.err)")
        #expect(TextTableRows(stop.out) == [["SERVICE", "RESULT", "STATE", "LAST", "ERROR"], ["echo", "stopped", "stopped", "-"]])
        #expect(throws: (any Error).self) { _ = try TestClient(port: port, timeout: 1) }  // refused: the listener is closed
        #expect(try held.exchange(Array("draining".utf8), halfClose: false) == Array("draining".utf8))
        let stopped = try server.snapshot("echo")
        #expect(stopped.state == .stopped && stopped.stoppedBy == "control")
        #expect(try server.cli(["stop", "echo"]).out.contains("already stopped"))

        // A reload (the file changed) keeps it stopped; day is rebound.
        try server.rewrite([#"{ "name": "echo", "kind": "echo", "port": \#(port), "maxConnections": 7 }"#,
                            #"{ "name": "day", "kind": "daytime", "port": 0, "format": "rfc867" }"#])
        let reload = try server.cli(["reload", "--json"])
        #expect(reload.code == 0, "\(reload.err)")
        let plan = try answer(reload.out)
        #expect(plan["services"]?.arrayValue?.map { $0["action"] } == [.string("keep"), .string("rebind")])
        #expect(plan["services"]?.arrayValue?.map { $0["change"] } == [.string("changed"), .string("changed")])
        #expect(try server.snapshot("echo").stoppedBy == "control")
        #expect(try server.snapshot("echo").config.maxConnections == 7)
        #expect(throws: (any Error).self) { _ = try TestClient(port: port, timeout: 1) }

        let start = try server.cli(["start", "echo"])
        #expect(start.code == 0, "\(start.err)")
        #expect(TextTableRows(start.out).last == ["echo", "started", "running", "-"])
        let fresh = try TestClient(port: port)
        #expect(try fresh.exchange(Array("after".utf8)) == Array("after".utf8))
        #expect(try server.snapshot("echo").stoppedBy == nil)
        #expect(try server.cli(["start", "echo"]).out.contains("already running"))
    }

    @Test func unknownNamesChangeNothingAndAreListedWithTheKnownOnes() throws {
        let server = try ControlledSupervisor([Self.echo, Self.daytime])
        let result = try server.cli(["stop", "echo", "ecko"])
        #expect(result.code == 64)
        #expect(result.err.contains(#"no service named "ecko""#) && result.err.contains(#"(did you mean "echo"?); known: echo, day"#), "\(result.err)")
        #expect(try server.snapshot("echo").state == .running)
        #expect(try server.cli(["kill", "nope", "all"]).code == 64)
        let usage = try server.cli(["stop"])
        #expect(usage.code == 64 && usage.err.contains("missing SERVICE"))
    }

    /// `start` on a failed service retries at once with a fresh backoff (maxRestarts from zero),
    /// however long the policy would have waited.
    @Test func startRetriesAFailedOrBackingOffServiceAtOnce() throws {
        let holder = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        var held = true
        defer { if held { Syscall.close(holder) } }
        let port = Int(try Socket.localAddress(holder).port)
        let server = try ControlledSupervisor([
            #"{ "name": "gaveup", "kind": "echo", "port": \#(port), "restart": { "initialDelay": 0.01, "maxRestarts": 1 } }"#,
        ])
        _ = try eventually(timeout: 5) { try server.snapshot("gaveup").state == .failed }
        #expect(try server.snapshot("gaveup").state == .failed)
        Syscall.close(holder)
        held = false
        let start = try server.cli(["start", "gaveup"])
        #expect(start.code == 0, "\(start.err)")
        #expect(TextTableRows(start.out).last?.prefix(3) == ["gaveup", "retried", "running"])
        #expect(try TestClient(port: port).exchange(Array("x".utf8)) == Array("x".utf8))

        // Backoff with a delay of an hour: start does not wait for it.
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let busy = Int(try Socket.localAddress(blocker).port)
        try server.rewrite([#"{ "name": "gaveup", "kind": "echo", "port": \#(port) }"#,
                            #"{ "name": "slow", "kind": "echo", "port": \#(busy), "restart": { "initialDelay": 3600, "maxDelay": 3600 } }"#])
        #expect(try server.cli(["reload"]).code == 0)
        #expect(try server.snapshot("slow").state == .backoff)
        Syscall.close(blocker)
        let retry = try server.cli(["start", "slow"])
        #expect(TextTableRows(retry.out).last?.prefix(3) == ["slow", "retried", "running"], "\(retry.out)\(retry.err)")
    }

    @Test func restartRebindsAndLiveConnectionsKeepGoing() throws {
        let server = try ControlledSupervisor([Self.echo])
        let port = try server.port("echo")
        let live = try TestClient(port: port)
        #expect(try live.exchange(Array("one".utf8), halfClose: false) == Array("one".utf8))
        let restart = try server.cli(["restart", "echo", "--json"])
        #expect(restart.code == 0, "\(restart.err)")
        #expect(try answer(restart.out)["services"]?.arrayValue?.first?["result"] == .string("restarted"))
        #expect(try server.snapshot("echo").restarts == 1)
        #expect(try live.exchange(Array("two".utf8), halfClose: false) == Array("two".utf8))
        #expect(try TestClient(port: port).exchange(Array("new".utf8)) == Array("new".utf8))
        #expect(try server.port("echo") == port)
    }

    // MARK: reload

    @Test func reloadDryRunChangesNothingAndReloadRecordsLastReload() throws {
        let server = try ControlledSupervisor([Self.echo, Self.daytime])
        #expect(server.supervisor.snapshot(connections: false).lastReload == nil)
        try server.rewrite([#"{ "name": "echo", "kind": "echo", "port": 0, "idleTimeout": 9 }"#,
                            #"{ "name": "qotd", "kind": "qotd", "port": 0, "quotes": ["q"] }"#])
        let dry = try server.cli(["reload", "--dry-run"])
        #expect(dry.code == 0, "\(dry.err)")
        #expect(dry.out.hasPrefix("\(server.configPath) is valid; a reload would do: 0 unchanged, 1 changed (echo), 1 added (qotd), 1 removed (day)"), "\(dry.out)")
        #expect(TextTableRows(dry.out).suffix(3) == [["echo", "changed", "rebind"], ["qotd", "added", "start"], ["day", "removed", "stop"]])
        #expect(try server.snapshot("day").state == .running)
        #expect(server.supervisor.snapshot(connections: false).services.contains { $0.config.name == "qotd" } == false)
        #expect(server.supervisor.snapshot(connections: false).lastReload == nil)

        let real = try server.cli(["reload"])
        #expect(real.code == 0, "\(real.err)")
        #expect(real.out.hasPrefix("reloaded \(server.configPath): 0 unchanged, 1 changed (echo), 1 added (qotd), 1 removed (day)"))
        #expect(TextTableRows(real.out).contains(["qotd", "added", "start", "running", "-"]))
        let record = try #require(server.supervisor.snapshot(connections: false).lastReload)
        #expect(record.ok && record.trigger == "control" && record.errors.isEmpty && record.summary?.hasPrefix("0 unchanged, 1 changed") == true)

        // An invalid file: every problem as check prints it, exit 78, nothing changes.
        try server.directory.write("services.json", #"{ "control": "\#(server.controlPath)", "services": [ { "name": "echo", "kind": "ecko", "port": 70000 } ] }"#)
        let check = try ChildProcess.runPortvisor(["check", "--config", server.configPath])
        let invalid = try server.cli(["reload"])
        #expect(invalid.code == 78)
        let problems = check.err.split(separator: "\n").map(String.init)
        #expect(problems.count == 2)
        #expect(Array(invalid.err.split(separator: "\n").map(String.init).prefix(2)) == problems, "\(invalid.err)")
        #expect(invalid.err.contains("is invalid; the running config stays"))
        #expect(try server.cli(["reload", "--dry-run"]).code == 78)
        #expect(try server.snapshot("qotd").state == .running)
        let rejected = try #require(server.supervisor.snapshot(connections: false).lastReload)
        #expect(!rejected.ok && rejected.summary == nil && rejected.errors == problems)
        let document = String(decoding: StatusDocument.encode(server.supervisor.snapshot(connections: false), environment: PortEnvironment()), as: UTF8.self)
        let last = try JSONParser.parse(document)["supervisor"]?["lastReload"]
        #expect(last?["ok"] == .bool(false) && last?["trigger"] == .string("control") && last?["summary"] == .null)
    }

    @Test func aReloadThatLeavesAServiceDownSaysSo() throws {
        let server = try ControlledSupervisor([Self.echo])
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(blocker) }
        let busy = Int(try Socket.localAddress(blocker).port)
        try server.rewrite([Self.echo, #"{ "name": "late", "kind": "echo", "port": \#(busy), "restart": { "initialDelay": 60 } }"#])
        let reload = try server.cli(["reload"])
        #expect(reload.code == 0)
        #expect(reload.out.contains("error: late: backoff: bind: Address already in use"), "\(reload.out)")
        let record = try #require(server.supervisor.snapshot(connections: false).lastReload)
        #expect(!record.ok && record.errors.first?.hasPrefix("late: backoff: bind: Address already in use") == true)
    }

    // MARK: kill

    @Test func killClosesOneConnectionOrAll() throws {
        let server = try ControlledSupervisor([Self.echo, #"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp" }"#,
                                               #"{ "name": "x", "kind": "exec", "port": 0, "command": ["/bin/sleep", "30"] }"#])
        let port = try server.port("echo")
        let a = try TestClient(port: port), b = try TestClient(port: port), c = try TestClient(port: port)
        for client in [a, b, c] { #expect(try client.exchange(Array("hi".utf8), halfClose: false) == Array("hi".utf8)) }
        let one = try server.cli(["kill", "echo", a.localAddress])
        #expect(one.code == 0 && one.out == "echo: closed the connection from \(a.localAddress)\n", "\(one.out)\(one.err)")
        #expect(a.waitForClose(timeout: 5))
        #expect(try b.exchange(Array("still".utf8), halfClose: false) == Array("still".utf8))
        let missing = try server.cli(["kill", "echo", a.localAddress])
        #expect(missing.code == 64 && missing.err.contains("no live connection from \(a.localAddress) on echo"))
        let all = try server.cli(["kill", "echo", "all", "--json"])
        #expect(try answer(all.out)["closed"] == .int(2))
        #expect(b.waitForClose(timeout: 5) && c.waitForClose(timeout: 5))
        #expect(try server.cli(["kill", "echo", "all"]).out == "echo: closed 0 connections (none was live)\n")
        let udp = try server.cli(["kill", "u", "all"])
        #expect(udp.code == 64 && udp.err.contains("a UDP service has no connections"))
        // exec: the child's group gets SIGTERM; the connection closes when it has ended.
        let child = try TestClient(port: try server.port("x"))
        _ = try eventually { try server.snapshot("x").connections?.first?.pid != nil }
        let pid = try #require(try server.snapshot("x").connections?.first?.pid)
        #expect(try server.cli(["kill", "x", "all"]).code == 0)
        #expect(child.waitForClose(timeout: 5))
        #expect(eventually { !ProcessTree.isAlive(pid) })
        #expect(try server.snapshot("x").processes?.killed == 1)
    }

    /// A daemon: restart starts its program again on the same socket (a new pid, the port
    /// unchanged); kill is refused, its program owns the connections.
    @Test func restartingADaemonRestartsItsProgram() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        let directory = try TempDirectory()
        let script = try directory.write("daemon.py", daemonScript)
        let server = try ControlledSupervisor([#"{ "name": "d", "kind": "daemon", "port": 0, "command": ["/usr/bin/python3", "\#(script)"] }"#])
        let first = try #require(try { () throws -> Int32? in
            _ = try eventually { try server.snapshot("d").daemon?.pid != nil }
            return try server.snapshot("d").daemon?.pid
        }())
        let port = try server.port("d")
        let restart = try server.cli(["restart", "d"])
        #expect(restart.code == 0, "\(restart.err)")
        #expect(try eventually { try server.snapshot("d").daemon?.pid.map { $0 != first } ?? false })
        #expect(try server.port("d") == port)
        let answer = try TestClient(port: port).readToEndText(timeout: 10)
        #expect(answer.hasPrefix("\(try server.snapshot("d").daemon?.pid ?? 0) "), "\(answer)")
        let kill = try server.cli(["kill", "d", "all"])
        #expect(kill.code == 64 && kill.err.contains("a daemon's connections belong to its program"))
    }

    // MARK: Who may use it

    /// Another uid: the socket's mode keeps it out (EACCES); with the mode opened by hand,
    /// SO_PEERCRED still refuses it with one line (77).
    @Test func anotherUserIsRefused() throws {
        guard geteuid() == 0, Repository.hasTool("setpriv") else { return }
        let server = try ControlledSupervisor([Self.echo])
        let info = try FileManager.default.attributesOfItem(atPath: server.controlPath)
        #expect((info[.posixPermissions] as? Int) == 0o600)
        let directoryMode = try FileManager.default.attributesOfItem(atPath: server.directory.file("ctl"))[.posixPermissions] as? Int
        #expect(directoryMode == 0o700)
        func asNobody() throws -> (code: Int32, err: String) {
            let child = try ChildProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                              ChildProcess.portvisorPath, "stop", "echo", "--control", server.controlPath])
            child.closeStdin()
            return (try child.waitForExit(), child.stderrText)
        }
        chmod(server.directory.path, 0o755)
        let blocked = try asNobody()
        #expect(blocked.code == 77, "\(blocked.err)")
        chmod(server.directory.file("ctl"), 0o755)
        chmod(server.controlPath, 0o666)
        let refused = try asNobody()
        #expect(refused.code == 77)
        #expect(refused.err.contains("permission denied: uid 65534 may not control this supervisor (only root and uid 0 may)"), "\(refused.err)")
        #expect(try server.snapshot("echo").state == .running)
        #expect(server.logs.lines.contains { $0.contains("refused a control connection from uid 65534") })
    }

    @Test func aDirectoryOthersMayWriteIsNotUsed() throws {
        let directory = try TempDirectory()
        let shared = directory.file("shared")
        mkdir(shared, 0o777)
        chmod(shared, 0o777)
        guard case .unusable(let reason) = ControlSocket.claim(shared + "/control.sock") else {
            Issue.record("claimed a socket in a world-writable directory")
            return
        }
        #expect(reason.contains("may be written by other users (mode 777)"))
        let file = try directory.write("file", "x")
        guard case .unusable(let notSocket) = ControlSocket.claim(file) else { Issue.record("claimed a regular file"); return }
        #expect(notSocket.contains("exists and is not a socket"))
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test func checkValidatesControlAndTheStatusAccessKeys() throws {
        let directory = try TempDirectory()
        let short = try directory.write("short", "abc\n")
        let good = try directory.write("good", "0123456789abcdef0123\nsecond line ignored\n")
        chmod(good, 0o600)
        func problems(_ top: String) -> [String] {
            let json = #"{ \#(top), "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#
            do {
                _ = try ConfigLoader.parse(Array(json.utf8), path: "s.json")
                return []
            } catch {
                return error.lines
            }
        }
        #expect(problems(#""control": "relative.sock""#) == [#"s.json: control: "relative.sock" is not an absolute path"#])
        #expect(problems(#""control": true"#) == ["s.json: control: expected a socket path or false, found true"])
        #expect(problems(#""control": "/\#(String(repeating: "a", count: 120))""#).first?.contains("a Unix socket path holds at most 107") == true)
        #expect(problems(#""control": false"#) == [])
        #expect(problems(#""status": { "tokenFile": "\#(short)" }"#).first?.contains("must be a token of 16...4096 printable ASCII characters") == true)
        #expect(problems(#""status": { "tokenFile": "/nonexistent/token" }"#) == [#"s.json: status.tokenFile: cannot read "/nonexistent/token": No such file or directory"#])
        #expect(problems(#""status": { "allow": ["10.0.0.0/33"] }"#).first?.hasPrefix("s.json: status.allow[0]") == true)
        let config = try ConfigLoader.parse(Array(#"{ "status": { "tokenFile": "\#(good)", "deny": ["10.0.0.0/8"] }, "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#.utf8), path: "s.json")
        #expect(config.status?.token == "0123456789abcdef0123" && config.status?.access.deny.count == 1)
        #expect(config.warnings.isEmpty)
        chmod(good, 0o644)
        let readable = try ConfigLoader.parse(Array(#"{ "status": { "tokenFile": "\#(good)" }, "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#.utf8), path: "s.json")
        #expect(readable.warnings.map(\.message) == ["\"\(good)\" may be read by other users; chmod 600 it"])
    }
}

/// A rendered table's rows, split into cells on runs of two or more spaces (one space inside a
/// cell such as "already stopped" is kept) — "LAST ERROR" is the heading's only two-word cell.
func TextTableRows(_ text: String) -> [[String]] {
    text.split(separator: "\n").filter { !$0.isEmpty }.map { line in
        let cells = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return cells.flatMap { $0 == "LAST ERROR" ? ["LAST", "ERROR"] : [$0] }
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? { if case .array(let items) = self { return items } else { return nil } }
}
