// daemon on real processes (SPEC §8): the socket as fd 3 with the sd_listen_fds variables, on
// demand, restarted on the same socket with no client refused, status, reload.
import Foundation
import Glibc
import Testing
@testable import Portvisor

/// A daemon written in Python: accepts on fd 3 and answers each connection with one line
/// `PID LISTEN_PID LISTEN_FDS LISTEN_FDNAMES` (checking LISTEN_PID is its own pid), then closes.
let daemonScript = #"""
import os, socket, sys
s = socket.socket(fileno=3)
print("ready", flush=True, file=sys.stderr)
while True:
    c, _ = s.accept()
    c.sendall(("%d %s %s %s\n" % (os.getpid(), os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_FDNAMES"))).encode())
    c.close()
"""#

@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"))) struct DaemonTests {
    let directory: TempDirectory
    let script: String

    init() throws {
        directory = try TempDirectory()
        script = try directory.write("daemon.py", daemonScript)
    }

    func daemon(_ extra: String = "") -> String {
        #"{ "name": "d", "kind": "daemon", "port": 0, "command": ["/usr/bin/python3", "\#(script)"], "restart": { "initialDelay": 0.05 }\#(extra) }"#
    }

    /// The answer's fields: the daemon's pid, LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES.
    func ask(_ server: TestSupervisor) throws -> [String] {
        try server.connect("d").readToEndText(timeout: 5).split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The pid of the daemon that answered; "" when none did (a connection the old program had
    /// accepted as it was being stopped is closed unanswered).
    func answeringPID(_ server: TestSupervisor) throws -> String { try ask(server).first ?? "" }

    @Test func theSocketIsFdThreeWithTheListenVariables() throws {
        let server = try TestSupervisor(daemon(), level: .info)
        let answer = try ask(server)
        #expect(answer.count == 4 && answer[0] == answer[1] && answer[2] == "1" && answer[3] == "d")
        let snapshot = try server.waitFor("d") { $0.daemon?.pid != nil }
        #expect(snapshot.daemon?.pid.map(String.init) == answer.first)
        #expect(snapshot.daemon?.restarts == 0 && snapshot.daemon?.lastExit == nil && snapshot.state == .running)
        #expect(server.logs.lines.contains { $0.contains("d: [\(answer.first ?? "?")] ready") })
    }

    @Test func onDemandStartsAtTheFirstConnectionWhichIsNotLost() throws {
        let server = try TestSupervisor(daemon(#", "start": "on-demand""#))
        let before = try server.snapshot("d")
        #expect(before.daemon?.pid == nil && before.state == .running)
        #expect(try ask(server).count == 4)  // the connection that started it is served
        #expect(try server.snapshot("d").daemon?.pid != nil)
    }

    /// Killed with SIGKILL under a steady connect load: back within initialDelay + 50 ms (plus
    /// Python's start-up), and no connection refused: they wait in the accept queue.
    @Test func aKilledDaemonIsRestartedOnTheSameSocketAndRefusesNobody() throws {
        let server = try TestSupervisor(daemon())
        let first = try answeringPID(server)
        let pid = try #require(Int32(first))
        let port = try server.port("d")
        kill(pid, SIGKILL)
        var answered = 0, refused = 0
        let start = Date()
        var restartedAfter: Double?
        while Date().timeIntervalSince(start) < 3 {
            do {
                let reply = try TestClient(port: port, timeout: 5).readToEndText(timeout: 5)
                answered += 1
                if restartedAfter == nil, let newPid = reply.split(separator: " ").first, newPid != Substring(first) {
                    restartedAfter = Date().timeIntervalSince(start)
                }
            } catch {
                refused += 1
            }
            if restartedAfter != nil && answered > 20 { break }
        }
        let snapshot = try server.snapshot("d")
        FaultScale.report("daemon-restart", "SIGKILL under load: served again after \(restartedAfter.map { String(format: "%.0f ms", $0 * 1000) } ?? "never"), \(answered) answered, \(refused) refused")
        #expect(refused == 0 && restartedAfter != nil)
        #expect(snapshot.daemon?.restarts == 1 && snapshot.daemon?.lastExit == "killed by SIGKILL" && snapshot.restarts == 1)
    }

    @Test func anExitingProgramBacksOffAndGivesUpAfterMaxRestarts() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daemon", "port": 0, "command": ["/bin/sh", "-c", "exit 3"], "restart": { "initialDelay": 0.01, "maxRestarts": 2 } }"#)
        let failed = try server.waitFor("d") { $0.state == .failed }
        #expect(failed.lastError == "gave up after 2 restarts: the program exited 3")
        #expect(failed.daemon?.lastExit == "exited 3" && failed.daemon?.restarts == 2)
    }

    @Test func reloadKeepsAnUnchangedDaemonAndRestartsAChangedOneOnTheSameSocket() throws {
        let server = try TestSupervisor(daemon())
        let port = try server.port("d")
        let first = try answeringPID(server)
        var config = server.supervisor.config
        #expect(server.supervisor.reload(config).description == "1 unchanged, 0 changed, 0 added, 0 removed")
        #expect(try answeringPID(server) == first)  // the same process
        config.services[0].options = DaemonOptions(program: ProgramOptions(command: ["/usr/bin/python3", script], environment: [("X", "1")]))
        #expect(server.supervisor.reload(config).description == "0 unchanged, 1 changed (d), 0 added, 0 removed")
        #expect(try server.port("d") == port)  // the socket stayed
        var second = ""
        #expect(try eventually {
            second = try answeringPID(server)
            return !second.isEmpty && second != first
        })
        #expect(second != first)
        #expect(!ProcessTree.isAlive(try #require(Int32(first))))
    }

    @Test func stoppingSendsSigtermAtOnceAndLeavesNothing() throws {
        let server = try TestSupervisor(daemon(), level: .info)
        let pid = try #require(Int32(try answeringPID(server)))
        let started = Date()
        server.supervisor.stop(drainSeconds: 5)
        #expect(Date().timeIntervalSince(started) < 3)  // not the drain: the daemon got SIGTERM at once
        #expect(!ProcessTree.isAlive(pid))
    }

    /// `live` is what the kernel has established on the daemon's socket: each client with its
    /// peer and byte counts, the one still in the accept queue too; a closed one drops out.
    @Test func liveListsTheKernelsConnectionsWithTheirByteCounts() throws {
        // Accepts two connections, echoes what each sends, and leaves every later one queued.
        let holder = try directory.write("holder.py", """
        import socket
        s = socket.socket(fileno=3)
        held = []
        for _ in range(2):
            c, _ = s.accept()
            c.sendall(c.recv(100))
            held.append(c)
        import time
        time.sleep(60)
        """)
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daemon", "port": 0, "command": ["/usr/bin/python3", "\#(holder)"] }"#)
        let port = try server.port("d")
        var clients: [TestClient] = []
        for message in ["one", "three"] {
            let client = try TestClient(port: port)
            try client.send(message)
            #expect(try client.read(count: message.utf8.count, timeout: 10) == Array(message.utf8))
            clients.append(client)
        }
        let queued = try TestClient(port: port)
        try queued.send("queued")
        let names = clients.map(\.localAddress) + [queued.localAddress]
        let snapshot = try server.waitFor("d") { snapshot in
            let live = snapshot.connections ?? []
            return live.count == 3 && live.filter { $0.bytesOut > 0 }.count == 2 && live.allSatisfy { $0.bytesIn > 0 }
        }
        let live = try #require(snapshot.connections)
        #expect(Set(live.map(\.peer.description)) == Set(names))
        let bytes = Dictionary(uniqueKeysWithValues: live.map { ($0.peer.description, [$0.bytesIn, $0.bytesOut]) })
        #expect(bytes[names[0]] == [3, 3] && bytes[names[1]] == [5, 5] && bytes[names[2]] == [6, 0], "\(bytes)")
        #expect(snapshot.live == 3)
        clients[0].close()
        let after = try server.waitFor("d") { ($0.connections ?? []).count == 2 }
        #expect(Set((after.connections ?? []).map(\.peer.description)) == [names[1], names[2]])
        #expect(after.connections?.first { $0.peer.description == names[1] }?.since == live.first { $0.peer.description == names[1] }?.since)
    }
}
