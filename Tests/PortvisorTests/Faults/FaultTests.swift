// The fault and abuse suite (issue "Unbreakable"): soak with a signal storm, half-closes and
// resets by the thousand, descriptor exhaustion, listeners destroyed again and again, reload
// storms, config mutations and status-endpoint abuse. Short by default; PORTVISOR_FAULTS=full
// (scripts/soak.sh) runs the sizes quoted in docs/reliability.md.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite(.serialized) struct FaultTests {
    /// 512 echo connections (full) with random chunk sizes while 1,000 each of SIGCHLD, SIGWINCH,
    /// SIGCONT and SIGUSR1 arrive: not one byte may differ and no session may fail.
    @Test func soakUnderASignalStorm() throws {
        let connections = FaultScale.pick(short: 64, full: 512)
        let seconds = FaultScale.pick(short: 3.0, full: 60.0)
        let signals = FaultScale.pick(short: 100, full: 1000)
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0, "maxConnections": 4096 }"#])
        let port = try run.port("echo")
        let finished = DispatchSemaphore(value: 0)
        let result = Locked<SoakReport?>(nil)
        DispatchQueue.global().async {
            result.withLock { $0 = SoakDriver.run(port: port, connections: connections, seconds: seconds) }
            finished.signal()
        }
        // Spread the storm over the soak, draining the child's log (SIGUSR1 writes a summary).
        let pause = useconds_t(seconds * 0.8 / Double(signals) * 1e6)
        for _ in 0..<signals {
            for signal in [SIGCHLD, SIGWINCH, SIGCONT, SIGUSR1] { run.process.signal(signal) }
            run.process.pump(timeout: 0)
            usleep(pause)
        }
        while finished.wait(timeout: .now() + 0.2) == .timedOut { run.process.pump(timeout: 0) }
        let report = try #require(result.withLock { $0 })
        FaultScale.report("soak+signals", "\(connections) connections, \(signals)x4 signals: \(report)")
        #expect(report.mismatches == 0)
        #expect(report.aborted == 0)
        #expect(report.connectFailures == 0)
        #expect(report.sessions > 0)
        run.process.pump(timeout: 0.2)
        // Standard signals coalesce, so there is at most one summary per SIGUSR1 sent.
        let summaries = run.process.stderrText.components(separatedBy: "info supervisor: echo: running").count - 1
        #expect(summaries >= 1 && summaries <= signals)
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    /// Half-closed sessions by the thousand: every one gets back exactly what it sent.
    @Test func thousandsOfHalfClosedSessions() throws {
        let total = FaultScale.pick(short: 200, full: 1000)
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxConnections": 2000 }"#, level: .info)
        let port = try server.port("e")
        var verified = 0
        for batch in stride(from: 0, to: total, by: 250) {
            let results = ConcurrentEchoRun.run(port: port, clients: min(250, total - batch), bytesPerClient: 10_000,
                                                chunkSizes: 1...4096, seed: UInt64(batch))
            #expect(results.failures == [])
            verified += results.verifiedClients
        }
        FaultScale.report("half-close", "\(verified) of \(total) sessions identical")
        #expect(verified == total)
        _ = try server.waitFor("e") { $0.live == 0 && $0.total == total }
    }

    /// Clients that reset mid-echo by the thousand: the server carries on.
    @Test func thousandsOfResetsMidEcho() throws {
        let total = FaultScale.pick(short: 200, full: 1000)
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxConnections": 2000 }"#, level: .info)
        let port = try server.port("e")
        let payload = randomBytes(128 * 1024, seed: 11)
        for i in 0..<total {
            let client = try TestClient(port: port)
            try client.send(Array(payload[0..<(1 + (i * 7919) % payload.count)]))
            client.reset()
        }
        let settled = try server.waitFor("e", timeout: 10) { $0.live == 0 }
        FaultScale.report("resets", "\(total) resets, server total \(settled.total), live \(settled.live)")
        #expect(settled.total == total)
        let survivor = try TestClient(port: port)
        #expect(sameBytes(try survivor.exchange(payload), payload))
    }

    /// `ulimit -n 64`: accepting pauses without burning CPU, the other service's connection keeps
    /// echoing, and accepting resumes within 1.5 s of descriptors coming free.
    @Test func descriptorExhaustion() throws {
        let run = try RunningPortvisor([
            #"{ "name": "a", "kind": "echo", "port": 0 }"#,
            #"{ "name": "b", "kind": "echo", "port": 0 }"#,
        ], setup: "ulimit -n 64")
        let other = try TestClient(port: run.port("b"))
        _ = try other.exchange(Array("before".utf8), halfClose: false)
        var flood: [TestClient] = []
        for _ in 0..<100 { flood.append(try TestClient(port: run.port("a"))) }
        try run.process.waitForStderr("out of descriptors")
        let before = try RunCommandTests.cpuSeconds(pid: run.process.pid)
        let started = Date()
        #expect(try other.exchange(Array("during".utf8), halfClose: false) == Array("during".utf8))
        _ = eventually(timeout: 1) { false }
        let cpu = (try RunCommandTests.cpuSeconds(pid: run.process.pid) - before) / Date().timeIntervalSince(started)
        let waiting = flood.removeLast()
        try waiting.send("queued")
        flood.removeAll()
        let freed = Date()
        #expect(try waiting.read(count: 6, timeout: 5) == Array("queued".utf8))
        let resumed = Date().timeIntervalSince(freed)
        FaultScale.report("fd-exhaustion", "CPU while exhausted \(String(format: "%.1f", cpu * 100))% of a core; serving again \(String(format: "%.2f", resumed)) s after descriptors freed")
        #expect(cpu < 0.10)
        #expect(resumed < 1.5)
        waiting.close()
        other.close()
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    /// The listener destroyed with `ss -K` again and again under a soak: each time it is back
    /// within its backoff, and the soak sees no mismatch.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/ss")))
    func listenerDestroyedRepeatedly() throws {
        let kills = FaultScale.pick(short: 10, full: 100)
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0, "restart": { "initialDelay": 0.05, "resetAfter": 0.1 } }"#])
        let port = try run.port("echo")
        let finished = DispatchSemaphore(value: 0)
        let result = Locked<SoakReport?>(nil)
        let soakSeconds = Double(kills) * 0.4 + 1
        DispatchQueue.global().async {
            result.withLock { $0 = SoakDriver.run(port: port, connections: 32, seconds: soakSeconds, maxSession: 64 * 1024) }
            finished.signal()
        }
        var recoveries: [Double] = []
        for _ in 0..<kills {
            usleep(200_000)  // longer than resetAfter: each failure starts from initialDelay
            let kill = try ChildProcess("/usr/bin/ss", ["-K", "-t", "-l", "sport = :\(port)"])
            _ = try kill.waitForExit()
            let killed = Date()
            _ = eventually(timeout: 3) { (try? Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 0.1)).map { Syscall.close($0); return true } ?? false }
            recoveries.append(Date().timeIntervalSince(killed))
            run.process.pump(timeout: 0)
        }
        while finished.wait(timeout: .now() + 0.2) == .timedOut { run.process.pump(timeout: 0) }
        let report = try #require(result.withLock { $0 })
        let worst = recoveries.max() ?? 0
        FaultScale.report("ss-K", "\(kills) kills, recovery median \(String(format: "%.0f", recoveries.sorted()[recoveries.count / 2] * 1000)) ms, max \(String(format: "%.0f", worst * 1000)) ms; soak: \(report)")
        #expect(report.mismatches == 0)
        #expect(worst < 0.05 + 0.25, "a rebind took \(worst) s")
        #expect(run.process.stderrText.components(separatedBy: "rebinding in").count - 1 == kills)
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    /// Reloads alternating valid and broken files: the last valid config is always the one
    /// live, and the descriptor count does not grow.
    @Test func reloadStorm() throws {
        let reloads = FaultScale.pick(short: 20, full: 100)
        func config(_ sentence: String) -> String {
            RunningPortvisor.config([
                #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                #"{ "name": "s", "kind": "sentence", "port": 0, "sentence": "\#(sentence)" }"#,
            ])
        }
        let run = try RunningPortvisor([
            #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
            #"{ "name": "s", "kind": "sentence", "port": 0, "sentence": "v0" }"#,
        ])
        let kept = try TestClient(port: run.port("echo"))
        let fdsBefore = try Self.descriptorCount(run.process.pid)
        var live = "v0"
        for i in 1...reloads {
            let valid = i % 2 == 1
            if valid {
                live = "v\(i)"
                try run.rewriteConfig(config(live))
            } else {
                try run.rewriteConfig(#"{ "services": [ { "name": "s", "kind": "sentence", "port": 0, "sentence": 5 } ] }"#)
            }
            let marker = valid ? "reloaded:" : "reload rejected"
            let seen = run.process.stderrText.components(separatedBy: marker).count
            run.process.signal(SIGHUP)
            try waitFor(run, marker, count: seen)
            #expect(try TestClient(port: run.port("s")).readLine() == "\(live)\r\n")
        }
        #expect(try kept.exchange(Array("still".utf8)) == Array("still".utf8))
        let fdsAfter = try Self.descriptorCount(run.process.pid)
        FaultScale.report("reloads", "\(reloads) reloads (half broken), descriptors \(fdsBefore) -> \(fdsAfter)")
        #expect(fdsAfter <= fdsBefore)
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    private func waitFor(_ run: RunningPortvisor, _ marker: String, count: Int) throws {
        let held = eventually(timeout: 10) {
            run.process.pump(timeout: 0.05)
            return run.process.stderrText.components(separatedBy: marker).count > count
        }
        if !held { throw TestFailure("no new \"\(marker)\" line:\n\(run.process.stderrText.suffix(2000))") }
    }

    static func descriptorCount(_ pid: pid_t) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }
}
