// exec on real processes (SPEC §8): what the child gets (environment, signals, descriptors,
// process group, read from its own /proc), the connection's life, limits, runtimeMax, spawn
// failures, stderr as log lines, status and counters.
import Foundation
import Glibc
import Testing
@testable import Portvisor

/// A shell command as an exec/daemon `command` (JSON).
func shell(_ script: String) -> String {
    let escaped = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    return #"["/bin/sh", "-c", "\#(escaped)"]"#
}

@Suite(.serialized) struct ExecTests {
    static func exec(_ script: String, _ extra: String = "") -> String {
        #"{ "name": "x", "kind": "exec", "port": 0, "command": \#(shell(script))\#(extra) }"#
    }

    @Test func theChildGetsExactlyTheSpecEnvironment() throws {
        let server = try TestSupervisor(Self.exec("env | sort", #", "environment": { "GREETING": "hi", "PATH": "/bin:/usr/bin" }"#))
        let client = try server.connect("x")
        let lines = try client.readToEndText(timeout: 5).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("PWD=") && !$0.hasPrefix("SHLVL=") && !$0.hasPrefix("_=") }  // the shell's own
        let port = try server.port("x")
        let peer = try #require(lines.first { $0.hasPrefix("TCPREMOTEPORT=") }).dropFirst(14)
        #expect(lines == [
            "GREETING=hi", "PATH=/bin:/usr/bin", "PORTVISOR_SERVICE=x", "PROTO=TCP",
            "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=\(peer)",
            "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT=\(port)", "TCPREMOTEIP=127.0.0.1", "TCPREMOTEPORT=\(peer)",
        ])
    }

    @Test func cleanSignalsOwnGroupOnlyItsDescriptorsBlockingSocket() throws {
        // The supervisor ignores SIGPIPE and this test process blocks signals: none of it leaks.
        let script = "grep -E '^(SigBlk|SigIgn)' /proc/self/status; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
            + "echo pgid $(ps -o pgid= -p $$ | tr -d ' ') pid $$; grep flags /proc/self/fdinfo/0"
        let server = try TestSupervisor(Self.exec(script, #", "stderr": "null""#))
        let lines = try server.connect("x").readToEndText(timeout: 5).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("SigBlk:\t0000000000000000"))
        #expect(lines.contains("SigIgn:\t0000000000000000"))
        #expect(lines.contains("0 1 2 3"))  // 3: ls's own directory
        let group = try #require(lines.first { $0.hasPrefix("pgid ") }).split(separator: " ")
        #expect(group.count == 4 && group[1] == group[3])
        let flags = try #require(lines.last.flatMap { Int($0.split(separator: "\t").last ?? "", radix: 8) })
        #expect(flags & 0o4000 == 0)  // O_NONBLOCK cleared: the program gets a blocking socket
    }

    /// stderr "log" is a pipe the worker makes non-blocking in one call; the program's end of it
    /// is blocking, as a program expects of its stderr (a write never fails with EAGAIN).
    @Test func theLogPipeIsBlockingOnTheProgramsSide() throws {
        let server = try TestSupervisor(Self.exec("grep flags /proc/self/fdinfo/2"))
        let line = try server.connect("x").readToEndText(timeout: 5).trimmingCharacters(in: .whitespacesAndNewlines)
        let flags = try #require(Int(line.split(separator: "\t").last ?? "", radix: 8))
        #expect(flags & 0o4000 == 0)
        #expect(flags & 0o3 == 0o1)  // O_WRONLY: the pipe's write end
    }

    @Test func anEchoingChildIsALiveConnectionWithItsPidAndKernelByteCounts() throws {
        let server = try TestSupervisor(Self.exec("exec cat"))
        let client = try server.connect("x")
        let payload = randomBytes(100_000, seed: 7)
        #expect(try client.exchange(payload, halfClose: false) == payload)
        let snapshot = try server.waitFor("x") { ($0.connections?.first?.bytesOut ?? 0) >= 100_000 }
        let live = try #require(snapshot.connections?.first)
        #expect(live.bytesIn == 100_000 && live.bytesOut == 100_000)
        let pid = try #require(live.pid)
        #expect(ProcessTree.isAlive(pid))
        #expect(snapshot.processes == ProcessSnapshot(started: 1, running: 1, exitedOk: 0, exitedError: 0, killed: 0, spawnFailures: 0, logLinesDropped: 0))
        client.shutdownWrite()
        #expect(client.waitForClose(timeout: 5))
        let after = try server.waitFor("x") { $0.live == 0 }
        #expect(after.processes?.exitedOk == 1 && after.processes?.running == 0 && after.total == 1)
        #expect(after.bytesIn == 100_000 && after.bytesOut == 100_000, "in \(after.bytesIn) out \(after.bytesOut)")
        #expect(!ProcessTree.isAlive(pid))
        #expect(server.logs.lines.contains { $0.contains("x: 127.0.0.1:") && $0.contains(": pid \(pid) exited 0") })
    }

    @Test func maxConnectionsBoundsRunningChildren() throws {
        let server = try TestSupervisor(Self.exec("exec cat", #", "maxConnections": 2"#))
        let a = try server.connect("x"), b = try server.connect("x")
        _ = try server.waitFor("x") { $0.processes?.running == 2 }
        let c = try server.connect("x")
        #expect(c.waitForClose(timeout: 3))
        let snapshot = try server.snapshot("x")
        #expect(snapshot.rejected == 1 && snapshot.processes?.started == 2)
        a.close()
        b.close()
        _ = try server.waitFor("x") { $0.processes?.running == 0 }
    }

    @Test func runtimeMaxStopsTheChildsGroup() throws {
        let server = try TestSupervisor(Self.exec("sleep 30 & wait", #", "runtimeMax": 0.3, "stopTimeout": 0.5"#))
        let client = try server.connect("x")
        #expect(client.waitForClose(timeout: 5))
        let snapshot = try server.waitFor("x") { $0.live == 0 }
        #expect(snapshot.processes?.killed == 1)
        #expect(server.logs.lines.contains { $0.contains("ran longer than runtimeMax; SIGTERM to its group") })
        #expect(server.logs.lines.contains { $0.contains("killed by SIGTERM") })
    }

    @Test func aSpawnThatFailsCountsLogsOnceASecondAndTheServiceRuns() throws {
        let directory = try TempDirectory()
        let program = try directory.write("program", "#!/bin/sh\necho hi\n")
        chmod(program, 0o755)
        let server = try TestSupervisor(#"{ "name": "x", "kind": "exec", "port": 0, "command": ["\#(program)"] }"#)
        #expect(try server.connect("x").readToEndText(timeout: 5) == "hi\n")
        unlink(program)  // gone after check: every spawn now fails with ENOENT
        for _ in 0..<5 { #expect(try server.connect("x").waitForClose(timeout: 3)) }
        let snapshot = try server.waitFor("x") { $0.processes?.spawnFailures == 5 }
        #expect(snapshot.state == .running)
        let lines = server.logs.lines.filter { $0.contains("cannot start \(program): exec: No such file or directory") }
        #expect(lines.count == 1)
    }

    @Test func stderrBecomesLogLinesWithThePidAtMostAHundredASecond() throws {
        let script = "echo first line >&2; printf 'no newline' >&2; exec 2>&-; i=0; while [ $i -lt 400 ]; do echo x; i=$((i+1)); done >/dev/null"
        let server = try TestSupervisor(Self.exec(script), level: .info)
        _ = try server.connect("x").readToEnd(timeout: 5)
        _ = try server.waitFor("x") { $0.processes?.exitedOk == 1 }
        let pidLines = server.logs.lines.filter { $0.contains(" x: [") }
        #expect(pidLines.contains { $0.hasSuffix("] first line") })
        #expect(pidLines.contains { $0.hasSuffix("] no newline") })
        let flood = try TestSupervisor(Self.exec("i=0; while [ $i -lt 1000 ]; do echo line $i >&2; i=$((i+1)); done"), level: .info)
        _ = try flood.connect("x").readToEnd(timeout: 10)
        let snapshot = try flood.waitFor("x") { $0.processes?.exitedOk == 1 }
        let logged = flood.logs.lines.filter { $0.contains(" x: [") }.count
        #expect(logged >= 100 && logged <= 200, "\(logged) lines logged")
        #expect(logged + (snapshot.processes?.logLinesDropped ?? 0) == 1000)
    }

    @Test func checkValidatesThePrograms() throws {
        func problems(_ service: String) -> [String] {
            let json = #"{ "status": false, "services": [ \#(service) ] }"#
            do {
                _ = try ConfigLoader.parse(Array(json.utf8), path: "s.json")
                return []
            } catch {
                return error.lines
            }
        }
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1 }"#) == [#"s.json: services[0]: missing required key "command""#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["sh"] }"#) == [
            #"s.json: services[0].command[0]: "sh" is not an absolute path (the program runs without a shell and without PATH lookup)"#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/nonexistent/x"] }"#) == [
            #"s.json: services[0].command[0]: "/nonexistent/x": No such file or directory"#])
        let directory = try TempDirectory()
        let plain = try directory.write("plain", "not a program\n")
        chmod(plain, 0o644)
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["\#(plain)"] }"#) == [
            #"s.json: services[0].command[0]: "\#(plain)" is not executable"#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/tmp"] }"#) == [
            #"s.json: services[0].command[0]: "/tmp" is a directory, not a regular file"#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": [] }"#).first?.contains("must hold 1...256 strings") == true)
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "user": "no-such-user-here" }"#) == [
            #"s.json: services[0].user: unknown user "no-such-user-here""#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "group": "no-such-group-here" }"#) == [
            #"s.json: services[0].group: unknown group "no-such-group-here""#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "environment": { "TCPREMOTEIP": "x", "1A": "y" } }"#) == [
            #"s.json: services[0].environment.TCPREMOTEIP: is set by Portvisor itself; choose another name"#,
            #"s.json: services[0].environment: "1A" is not a variable name (letters, digits and _, not starting with a digit)"#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "workingDirectory": "tmp", "stderr": "file" }"#) == [
            #"s.json: services[0].workingDirectory: "tmp" is not an absolute path"#,
            #"s.json: services[0].stderr: "file" is not "log", "inherit" or "null""#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "protocol": "udp" }"#) == [
            #"s.json: services[0].protocol: kind "exec" has no UDP form; use "tcp""#])
        #expect(problems(#"{ "name": "x", "kind": "exec", "port": 1, "command": ["/bin/true"], "user": "root", "runtimeMax": 5 }"#) == [])
    }

    /// A common key a program kind cannot honour: an access rule on a daemon (nobody would
    /// enforce it) is an error, a timeout that has no effect a warning.
    @Test func keysTheProgramKindsCannotHonour() throws {
        func load(_ service: String) -> Result<PortvisorConfig, ConfigError> {
            Result { () throws(ConfigError) in try ConfigLoader.parse(Array(#"{ "status": false, "services": [ \#(service) ] }"#.utf8), path: "s.json") }
        }
        let daemon = #"{ "name": "d", "kind": "daemon", "port": 1, "command": ["/bin/true"], "allow": ["10.0.0.0/8"], "maxConnectionRatePerSource": 5 }"#
        guard case .failure(let error) = load(daemon) else { Issue.record("accepted \(daemon)"); return }
        #expect(error.lines == [
            #"s.json: services[0].allow: "allow" does not apply to kind "daemon": Portvisor never accepts on a daemon's socket, the program does (filter in the program, or put a proxy service in front)"#,
            #"s.json: services[0].maxConnectionRatePerSource: "maxConnectionRatePerSource" does not apply to kind "daemon": Portvisor never accepts on a daemon's socket, the program does (limit in the program, or put a proxy service in front)"#])
        let config = try load(#"{ "name": "d", "kind": "daemon", "port": 1, "command": ["/bin/true"], "idleTimeout": 3 }"#).get()
        #expect(config.warnings(forService: 0) == [#""idleTimeout" does not apply to kind "daemon": Portvisor never accepts on a daemon's socket, the program does"#])
        let exec = try load(#"{ "name": "e", "kind": "exec", "port": 1, "command": ["/bin/true"], "writeTimeout": 3, "allow": ["127.0.0.0/8"] }"#).get()
        #expect(exec.warnings(forService: 0) == [#""writeTimeout" does not apply to kind "exec": the program owns the connection (use runtimeMax)"#])
    }

    /// As root: the child runs as the configured user, group and supplementary groups — and no
    /// thread of the supervisor changes with it (the child shares its memory until it execs).
    @Test func theChildRunsAsItsUserAndTheSupervisorStaysWhoItWas() throws {
        guard geteuid() == 0, Identity.user("nobody") != nil, Identity.group("nogroup") != nil else { return }
        let server = try TestSupervisor(Self.exec("id -u; id -g; id -G", #", "user": "nobody", "group": "nogroup", "stderr": "null""#))
        let lines = try server.connect("x").readToEndText(timeout: 5).split(separator: "\n").map(String.init)
        #expect(lines == ["65534", "65534", "65534"], "\(lines)")
        #expect(getuid() == 0 && geteuid() == 0 && getgid() == 0)
        // Every thread of this process, the workers included, is still root.
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8) else { continue }
            let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
            #expect(uid?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().allSatisfy { $0 == "0" } == true, "thread \(task): \(uid ?? "")")
        }
    }

    @Test func aUserSwitchWithoutThePrivilegeFailsTheServiceAtOnce() throws {
        guard geteuid() == 0, Repository.hasTool("setpriv") else { return }
        // As nobody, with no capabilities, a service that must run as root cannot start.
        let directory = try TempDirectory()
        chmod(directory.path, 0o755)
        let config = try directory.write("services.json", #"{ "status": false, "services": [ { "name": "x", "kind": "exec", "port": 0, "command": ["/bin/true"], "user": "root" } ] }"#)
        chmod(config, 0o644)
        let child = try ChildProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                          ChildProcess.portvisorPath, "run", "--config", config])
        let log = try child.waitForStderr("x: failed:")
        #expect(log.contains("x: failed: user/group need root or CAP_SETUID and CAP_SETGID, which this process lacks"))
        child.signal(SIGTERM)
        _ = try child.waitForExit()
    }

    /// Under a storm of short children (`run`, so every SIGCHLD rescans for orphans), every
    /// child is reaped by its own worker: none is taken for an orphan, so every exit is counted
    /// as what it was (the reaper once read `owned` before the children list, and stole ~1%).
    @Test func theOrphanReaperNeverTakesAWorkersChild() throws {
        let directory = try TempDirectory()
        let status = try freeTCPPort()
        let config = try directory.write("services.json", #"{ "status": { "port": \#(status) }, "control": false, "services": [ { "name": "x", "kind": "exec", "port": 0, "command": ["/bin/echo", "hi"], "stderr": "null", "maxConnections": 64 } ] }"#)
        let run = try ChildProcess.portvisor(["run", "--config", config])
        defer { run.signal(SIGTERM); _ = try? run.waitForExit() }
        let log = try run.waitForStderr(" x: listening on 127.0.0.1:")
        let line = try #require(log.split(separator: "\n").first { $0.contains(" x: listening on 127.0.0.1:") })
        let port = try #require(Int(line.split(separator: ":").last?.prefix { $0.isNumber } ?? ""))
        let bench = try ChildProcess.runPortvisor(["bench", "connect", "--port", String(port), "--connections", "16", "--duration", "2"], timeout: 60)
        #expect(bench.code == 0, "\(bench.out)\(bench.err)")
        var processes: JSONValue?
        let settled = try eventually(timeout: 10) {
            let reply = try HTTPClient.get("/status", from: SocketAddress(ip: .loopbackV4, port: UInt16(status)))
            processes = try JSONParser.parse(reply.body)["services"]?.arrayValue?.first?["processes"]
            return processes?["running"] == .int(0)
        }
        #expect(settled)
        guard case .number(let started)? = processes?["started"], let count = started.integer else { Issue.record("no processes"); return }
        #expect(count > 500, "only \(count) children in 2 s")
        #expect(processes?["exitedOk"] == .int(count) && processes?["exitedError"] == .int(0) && processes?["killed"] == .int(0), "\(String(describing: processes))")
    }
}
