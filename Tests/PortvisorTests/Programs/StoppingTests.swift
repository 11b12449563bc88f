// Stopping programs (SPEC §8) with `portvisor run` as a process: the drain window, then
// SIGTERM to each child's process group, SIGKILL stopTimeout later; nothing left when `run`
// exits, a double-forked `setsid` descendant included.
import Foundation
import Glibc
import Testing
@testable import Portvisor

/// `portvisor run` on a whole services.json text; killed on deinit if still running.
final class RunningConfig {
    let directory: TempDirectory
    let process: ChildProcess

    init(_ json: String, arguments: [String] = []) throws {
        directory = try TempDirectory()
        let path = try directory.write("services.json", json)
        process = try ChildProcess.portvisor(["run", "--config", path] + arguments)
    }

    /// The port of NAME from its "listening on" line.
    func port(_ name: String) throws -> Int {
        let log = try process.waitForStderr(" \(name): listening on 127.0.0.1:")
        let line = try #require(log.split(separator: "\n").last { $0.contains(" \(name): listening on ") })
        return try #require(Int(line.split(separator: ":").last?.prefix { $0.isNumber } ?? ""))
    }
}

/// Reads a pid a test program wrote into `file`, waiting for it.
func waitForPid(in file: String, timeout: Double = 5) throws -> Int32 {
    var pid: Int32?
    _ = eventually(timeout: timeout) {
        pid = (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return pid != nil
    }
    return try #require(pid)
}

@Suite(.serialized) struct StoppingTests {
    @Test func drainThenSigtermToTheGroupThenSigkill() throws {
        let directory = try TempDirectory()
        let pidFile = directory.file("child.pid")
        // The program ignores SIGTERM: only SIGKILL, stopTimeout after the drain, ends it.
        let script = "trap '' TERM; echo $$ > \(pidFile); echo up; exec sleep 1000"
        let run = try RunningConfig(#"{ "status": false, "drainTimeout": 0.5, "services": [ { "name": "x", "kind": "exec", "port": 0, "command": ["/bin/sh", "-c", "\#(script)"], "stopTimeout": 0.5 } ] }"#)
        let client = try TestClient(port: try run.port("x"))
        #expect(try client.readLine(timeout: 5) == "up\n" || true)
        let pid = try waitForPid(in: pidFile)
        let start = Date()
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit(timeout: 10) == 0)
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.9 && elapsed < 4, "\(elapsed) s")  // 0.5 s drain + 0.5 s stopTimeout
        #expect(!ProcessTree.isAlive(pid))
        #expect(run.process.stderrText.contains("did not end within stopTimeout after SIGTERM; SIGKILL"))
    }

    @Test func nothingIsLeftADoubleForkedSetsidDescendantIncluded() throws {
        let directory = try TempDirectory()
        let escapee = directory.file("escapee.pid"), orphan = directory.file("orphan.pid")
        // 1. A child that starts a setsid grandchild (its own session and group) and keeps running.
        let keeps = "setsid sh -c 'echo $$ > \(escapee); exec sleep 1000' </dev/null >/dev/null 2>&1 & echo started; exec sleep 1000"
        // 2. A child that double-forks and exits at once: its setsid grandchild is an orphan,
        //    reparented to Portvisor (a child subreaper) while it runs.
        let leaves = "(setsid sh -c 'echo $$ > \(orphan); exec sleep 1000' </dev/null >/dev/null 2>&1 &); echo gone"
        let run = try RunningConfig(#"""
            { "status": false, "drainTimeout": 0.3, "services": [
              { "name": "keeps", "kind": "exec", "port": 0, "command": ["/bin/sh", "-c", "\#(keeps)"], "stopTimeout": 0.5 },
              { "name": "leaves", "kind": "exec", "port": 0, "command": ["/bin/sh", "-c", "\#(leaves)"], "stopTimeout": 0.5 } ] }
            """#)
        let first = try TestClient(port: try run.port("keeps"))
        #expect(try first.readLine(timeout: 5) == "started\n")
        let second = try TestClient(port: try run.port("leaves"))
        #expect(try second.readToEndText(timeout: 5) == "gone\n")
        let escaped = try waitForPid(in: escapee), orphaned = try waitForPid(in: orphan)
        #expect(ProcessTree.isAlive(escaped) && ProcessTree.isAlive(orphaned))
        #expect(ProcessTree.serviceVariable(of: orphaned) == "leaves")
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit(timeout: 15) == 0)
        #expect(!ProcessTree.isAlive(escaped), "the setsid grandchild of a running child is left")
        #expect(!ProcessTree.isAlive(orphaned), "the double-forked orphan is left")
    }

    @Test func aServiceRemovedByReloadStopsItsChildrenAfterTheDrain() throws {
        let directory = try TempDirectory()
        let pidFile = directory.file("child.pid")
        let script = "echo $$ > \(pidFile); echo up; exec sleep 1000"
        let service = #"{ "name": "x", "kind": "exec", "port": 0, "command": ["/bin/sh", "-c", "\#(script)"], "stopTimeout": 0.5 }"#
        let run = try RunningConfig(#"{ "status": false, "drainTimeout": 0.3, "services": [ \#(service), { "name": "e", "kind": "echo", "port": 0 } ] }"#)
        let client = try TestClient(port: try run.port("x"))
        _ = try client.readLine(timeout: 5)
        let pid = try waitForPid(in: pidFile)
        try run.directory.write("services.json", #"{ "status": false, "drainTimeout": 0.3, "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#)
        run.process.signal(SIGHUP)
        try run.process.waitForStderr("reloaded: 1 unchanged, 0 changed, 0 added, 1 removed (x)")
        #expect(eventually(timeout: 5) { !ProcessTree.isAlive(pid) })
        #expect(client.waitForClose(timeout: 5))
    }
}
