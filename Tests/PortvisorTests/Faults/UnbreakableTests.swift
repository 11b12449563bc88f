// Issue "Unbreakable II": nothing a client, a config value or a neighbour sends can starve, spin
// or crash Portvisor. One test (or more) per finding, each on the mechanism, with real sockets.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorCLI

@Suite(.serialized) struct UnbreakableTests {
    // MARK: 2. A full source table never lifts a limit

    @Test func aFullSourceTableRefusesNewSourcesInsteadOfTrackingNone() {
        var table = SourceTable()
        let now: MonotonicNanos = 1_000_000_000
        var admitted = 0
        for i in 0..<SourceTable.maxEntries where table.admit(.v4(10, UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)), now: now, perSourceLimit: 1, rate: nil) == nil {
            admitted += 1
        }
        #expect(admitted == SourceTable.maxEntries)
        // Every entry holds a live connection: nothing can be reclaimed, so a new source is refused.
        #expect(table.admit(.v4(11, 0, 0, 1), now: now, perSourceLimit: 1, rate: nil) == .tableFull)
        // A source already tracked keeps its limit.
        #expect(table.admit(.v4(10, 0, 0, 5), now: now, perSourceLimit: 1, rate: nil) == .perSourceLimit(1))
        // Once connections close, their idle entries make room (at most one search a second).
        for i in 0..<100 { table.release(.v4(10, 0, 0, UInt8(i))) }
        #expect(table.admit(.v4(11, 0, 0, 1), now: now + 1, perSourceLimit: 1, rate: nil) == .tableFull)
        #expect(table.admit(.v4(11, 0, 0, 1), now: now + SourceTable.reclaimInterval, perSourceLimit: 1, rate: nil) == nil)
        #expect(table.entries.count <= SourceTable.maxEntries)
    }

    @Test func aFullTableOfRateLimitedSourcesDropsNewOnesAndKeepsLimitingOldOnes() {
        var table = SourceTable()
        let rate = 0.01
        var taken = 0
        for i in 0..<SourceTable.maxEntries where table.takeToken(.v4(10, UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)), now: 0, rate: rate) {
            taken += 1
        }
        #expect(taken == SourceTable.maxEntries)
        // Their buckets are empty for 100 s: none is like a fresh source, none is reclaimed.
        let newcomer = table.takeToken(.v4(11, 0, 0, 1), now: 2_000_000_000, rate: rate)
        let known = table.takeToken(.v4(10, 0, 0, 1), now: 2_000_000_000, rate: rate)
        #expect(!newcomer && !known)
    }

    @Test func ipv6SourcesCountPerPrefix() {
        var table = SourceTable()
        let a = IPAddress(parsing: "2001:db8:1:2::1")!, b = IPAddress(parsing: "2001:db8:1:2:ffff::9")!
        let other = IPAddress(parsing: "2001:db8:1:3::1")!
        #expect(table.admit(a, now: 0, perSourceLimit: 1, rate: nil) == nil)
        #expect(table.admit(b, now: 0, perSourceLimit: 1, rate: nil) == .perSourceLimit(1))  // the same /64
        #expect(table.admit(other, now: 0, perSourceLimit: 1, rate: nil) == nil)
        var exact = SourceTable(ipv6Prefix: 128)
        #expect(exact.admit(a, now: 0, perSourceLimit: 1, rate: nil) == nil)
        #expect(exact.admit(b, now: 0, perSourceLimit: 1, rate: nil) == nil)
        #expect(table.key(IPAddress(parsing: "::ffff:10.1.2.3")!) == .v4(10, 1, 2, 3))  // mapped: IPv4, whole
    }

    /// 66,000 loopback sources fill the table of a UDP service limited to 0.01 replies/s per
    /// source; afterwards a new source is dropped and an old one is still limited.
    @Test func udpRateHoldsWhenTheTableIsFull() throws {
        let server = try TestSupervisor(#"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp", "maxConnectionRatePerSource": 0.01, "maxReplyBytesPerSecond": 1099511627776 }"#)
        let port = try server.port("u")
        let start = Date()
        var sent = 0
        // In batches the server has read before the next, so the kernel's buffer drops none.
        for i in 0..<66_000 where Date().timeIntervalSince(start) < 30 {
            let source = SocketAddress(ip: .v4(127, UInt8(1 + i / 65_025), UInt8(i / 255 % 255), UInt8(1 + i % 255)), port: 0)
            let client = try TestDatagramSocket(bindTo: source)
            try client.send([1], to: port)
            sent += 1
            if sent % 200 == 0 { _ = try server.waitFor("u", timeout: 10) { $0.datagrams.received == sent } }
        }
        _ = try server.waitFor("u", timeout: 10) { $0.datagrams.received == sent }
        let late = try TestDatagramSocket(bindTo: SocketAddress(ip: .v4(127, 9, 9, 9), port: 0))
        var answers = 0
        for _ in 0..<20 {
            try late.send([2], to: port)
            if try late.receive(timeout: 0.05) != nil { answers += 1 }
        }
        let old = try TestDatagramSocket(bindTo: SocketAddress(ip: .v4(127, 1, 0, 1), port: 0))
        for _ in 0..<20 {
            try old.send([3], to: port)
            if try old.receive(timeout: 0.05) != nil { answers += 1 }
        }
        FaultScale.report("source-table", "\(sent) sources in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; then 40 datagrams from a new and an old source, \(answers) answered")
        #expect(sent == 66_000)
        #expect(answers == 0)
    }

    /// 66,000 loopback sources fill the table of a TCP service with a per-source cap of 1 and a
    /// rate of 0.01/s (each source's bucket stays empty for 100 s, so no entry is idle); a new
    /// source must then be refused outright, not admitted untracked (it held 3 before).
    @Test func tcpLimitsHoldWhenTheTableIsFull() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxConnectionsPerSource": 1, "maxConnectionRatePerSource": 0.01, "maxConnections": 100000 }"#,
                                        level: .error)
        let port = try server.port("e")
        let start = Date()
        var opened = 0
        for i in 0..<66_000 where Date().timeIntervalSince(start) < 40 {
            let source = "127.\(1 + i / 65_025).\(i / 255 % 255).\(1 + i % 255)"
            let client = try TestClient(port: port, source: source)
            client.close()
            opened += 1
        }
        _ = try server.waitFor("e", timeout: 20) { $0.total + $0.refused == opened }
        var held: [TestClient] = []
        for _ in 0..<3 { held.append(try TestClient(port: port, source: "127.9.9.9")) }
        let closedAtOnce = held.filter { $0.waitForClose(timeout: 2) }.count
        let snapshot = try server.snapshot("e")
        FaultScale.report("source-table-tcp", "\(opened) sources in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; a new source's 3 connections: \(closedAtOnce) refused; live \(snapshot.live)")
        #expect(opened == 66_000)
        #expect(closedAtOnce == 3 && snapshot.live == 0)
    }

    // MARK: 3. UDP: the documented rate, a byte budget, no amplification

    @Test func udpAnswersAtTheDocumentedRate() throws {
        let server = try TestSupervisor(#"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp", "maxConnectionRatePerSource": 20 }"#)
        let port = try server.port("u")
        let client = try TestDatagramSocket()
        // 60 a second for 2.5 s: a burst of 20, then 20 a second (the old sweep refilled every
        // idle-looking bucket once a second: twice the rate).
        var answers = 0
        let start = Date()
        for i in 0..<150 {
            try client.send([UInt8(i & 0xFF)], to: port)
            while let _ = try client.receive(timeout: 0) { answers += 1 }
            let due = start.addingTimeInterval(Double(i + 1) / 60)
            if due > Date() { usleep(UInt32(due.timeIntervalSinceNow * 1e6)) }
        }
        while try client.receive(timeout: 0.2) != nil { answers += 1 }
        let elapsed = Date().timeIntervalSince(start)
        FaultScale.report("udp-rate", "150 datagrams in \(String(format: "%.2f", elapsed)) s at 20/s per source: \(answers) answered")
        #expect(answers >= 20 + Int((elapsed - 0.3) * 20) - 3)
        #expect(answers <= 20 + Int((elapsed + 0.3) * 20) + 1)
    }

    @Test func udpRepliesStayWithinEightTimesTheirRequest() throws {
        let server = try TestSupervisor(#"{ "name": "c", "kind": "chargen", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "q", "kind": "qotd", "port": 0, "protocol": "udp", "quotes": ["\#(String(repeating: "q", count: 300))"] }"#)
        let client = try TestDatagramSocket()
        try client.send([], to: server.port("c"))
        #expect(try client.receive()?.count == 148)  // 8 × 28 − 28 = 196 bytes allowed: two whole lines
        try client.send([UInt8](repeating: 1, count: 40), to: server.port("c"))
        #expect(try client.receive()?.count == 512)
        try client.send([], to: server.port("q"))
        #expect(try client.receive(timeout: 0.3) == nil)  // 302 bytes cannot shrink: dropped
        try client.send([UInt8](repeating: 1, count: 20), to: server.port("q"))  // 8 × 48 − 28 = 356
        #expect(try client.receive()?.count == 302)
        #expect(try server.snapshot("q").datagrams.dropped == 1)
    }

    @Test func udpReplyBytesAreCappedForTheWholeService() throws {
        let server = try TestSupervisor(#"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp", "maxReplyBytesPerSecond": 1000 }"#)
        let port = try server.port("u")
        var received = 0
        var clients: [TestDatagramSocket] = []
        for i in 0..<30 {  // 30 sources, each well under its own rate
            let client = try TestDatagramSocket(bindTo: SocketAddress(ip: .v4(127, 0, 3, UInt8(i + 1)), port: 0))
            try client.send([UInt8](repeating: 7, count: 100), to: port)
            clients.append(client)
        }
        for client in clients { while try client.receive(timeout: 0.05) != nil { received += 100 } }
        #expect(received <= 1100)  // 1,000 bytes of budget (plus one second's refill at most)
        #expect(received >= 900)
        let snapshot = try server.waitFor("u") { $0.datagrams.received == 30 }
        #expect(snapshot.datagrams.dropped >= 18)
    }

    // MARK: 4. A service disabled by reload stays listed while it drains

    @Test func aServiceDisabledByReloadKeepsItsConnectionsAndCounters() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let client = try server.connect("e")
        #expect(try client.exchange(Array("one".utf8), halfClose: false) == Array("one".utf8))
        var config = server.supervisor.config
        config.services[0].enabled = false
        #expect(server.supervisor.reload(config).description == "0 unchanged, 1 changed (e), 0 added, 0 removed")
        #expect(try client.exchange(Array("two".utf8), halfClose: false) == Array("two".utf8))  // still served
        let snapshot = try server.snapshot("e")
        #expect(snapshot.state == .stopped && !snapshot.config.enabled)
        #expect(snapshot.live == 1 && snapshot.total == 1 && snapshot.connections?.count == 1)
        #expect(server.supervisor.snapshot().services.filter { $0.config.name == "e" }.count == 1)
        client.close()
        #expect(try server.waitFor("e") { $0.live == 0 }.total == 1)
    }

    // MARK: 5. A tiny restart delay cannot spin

    @Test func restartDelaysBelowOneMillisecondAreRejected() throws {
        let json = #"{ "status": false, "services": [ { "name": "e", "kind": "echo", "port": 1, "restart": { "initialDelay": 1e-30, "maxDelay": 0.0005 } } ] }"#
        #expect(throws: ConfigError.invalid(file: "s.json", issues: [
            ConfigIssue("services[0].restart.initialDelay", "1e-30 is shorter than the 0.001 s (1 ms) a restart delay needs at least"),
            ConfigIssue("services[0].restart.maxDelay", "0.0005 is shorter than the 0.001 s (1 ms) a restart delay needs at least"),
        ])) { try ConfigLoader.parse(Array(json.utf8), path: "s.json") }
        #expect(BackoffPolicy(RestartPolicy(initialDelay: 1e-30, maxDelay: 1e-30)).nominalDelay(afterAttempt: 0) == 0.001)
    }

    /// A config built in code with a 1 ns delay, on a port that is taken: the loop still turns,
    /// retries at most about a thousand times a second, and stops when asked.
    @Test func aNanosecondRestartDelayOnATakenPortStaysCalm() throws {
        let holder = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(holder) }
        let port = Int(try Socket.localAddress(holder).port)
        let service = ServiceConfig(name: "e", kind: .echo, port: port, restart: RestartPolicy(initialDelay: 1e-9, maxDelay: 1e-9))
        let logs = LogSink.memory()
        let supervisor = try Supervisor(config: PortvisorConfig(path: "code", status: nil, services: [service]),
                                        logger: Logger(level: .info, sink: logs))
        try supervisor.start()
        let before = Clock.monotonic()
        usleep(500_000)  // a measured interval, not synchronisation
        let restarts = supervisor.snapshot(connections: false).services[0].restarts
        let started = Clock.monotonic()
        supervisor.stop(drainSeconds: 0)
        let stopSeconds = Double(Clock.monotonic() - started) / 1e9
        let elapsed = Double(started - before) / 1e9
        FaultScale.report("tiny-delay", "\(restarts) rebind attempts in \(String(format: "%.2f", elapsed)) s, \(logs.lines.count) log lines; stopped in \(String(format: "%.3f", stopSeconds)) s")
        #expect(restarts <= Int(elapsed * 1000 * 1.5) + 50)
        #expect(stopSeconds < 2)
    }

    // MARK: 6. WATCHDOG_USEC from the environment

    @Test func watchdogValuesAreRangeChecked() {
        func watchdog(_ text: String) -> (nanos: MonotonicNanos?, warning: String?) {
            SystemdNotifier.watchdog(["WATCHDOG_USEC": text], pid: 1)
        }
        #expect(watchdog("2000000").nanos == 2_000_000_000 && watchdog("2000000").warning == nil)
        #expect(watchdog("0").nanos == nil && watchdog("0").warning == nil)
        #expect(watchdog("1e17").nanos == nil && watchdog("1e17").warning?.contains("not a whole number") == true)
        #expect(watchdog("18446744073709551615").nanos == 3_600_000_000_000)
        #expect(watchdog("18446744073709551615").warning?.contains("over one hour") == true)
        #expect(watchdog("99999999999999999999999999").nanos == 3_600_000_000_000)
        #expect(watchdog(String(60 * 86_400 * 1_000_000)).nanos == 3_600_000_000_000)
        #expect(watchdog("5").nanos == 10_000_000)
        #expect(watchdog("-5").nanos == nil && watchdog("\u{1b}[2J").warning?.contains("\\u{1B}") == true)
        #expect(SystemdNotifier.watchdog(["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "2"], pid: 1).nanos == nil)
    }

    // MARK: 7. chargen goes on after a half-close

    @Test func chargenStreamsOnAfterTheClientShutsItsWriteSide() throws {
        let server = try TestSupervisor(#"{ "name": "c", "kind": "chargen", "port": 0 }"#)
        for _ in 0..<10 {
            let client = try server.connect("c")
            client.shutdownWrite()
            let bytes = try client.read(count: 200_000, timeout: 5)
            #expect(bytes == Array(chargenReference(200_000)))
        }
        _ = try server.waitFor("c") { $0.live == 0 }
    }

    // MARK: 8. The UDP loop defence knows addresses, not only ports

    /// Two UDP echo services on one port at different addresses; removing one must not lift the
    /// other's defence. A datagram forged (raw socket, root only) from the remaining service's
    /// own address and port must be dropped, not answered to itself forever.
    @Test(.enabled(if: geteuid() == 0)) func removingOneUDPServiceKeepsTheOthersOwnSocketDefence() throws {
        let probe = try Socket.bindDatagram(on: SocketAddress(ip: .loopbackV4, port: 0))
        let port = Int(try Socket.localAddress(probe).port)
        Syscall.close(probe)
        let server = try TestSupervisor(#"{ "name": "a", "kind": "echo", "port": \#(port), "protocol": "udp" }"#,
                                        #"{ "name": "b", "kind": "echo", "port": \#(port), "protocol": "udp", "host": "127.0.0.2" }"#)
        var config = server.supervisor.config
        config.services.removeFirst()
        #expect(server.supervisor.reload(config).description == "1 unchanged, 0 changed, 0 added, 1 removed (a)")
        try sendForgedDatagram(from: SocketAddress(ip: .v4(127, 0, 0, 2), port: UInt16(port)),
                               to: SocketAddress(ip: .v4(127, 0, 0, 2), port: UInt16(port)), payload: Array("loop?".utf8))
        let snapshot = try server.waitFor("b") { $0.datagrams.received >= 1 }
        usleep(200_000)  // would a reply come back to itself? (it would be received again)
        let after = try server.snapshot("b")
        #expect(snapshot.datagrams.dropped == 1 && after.datagrams.received == 1 && after.datagrams.sent == 0)
    }

    // MARK: 9. A stall of the whole process does not cut clients that kept sending

    /// idleTimeout 2 s; the supervisor is stopped (SIGSTOP) for 3 s while 8 clients send a byte
    /// every 0.3 s; after SIGCONT every client is still served: what arrived during the stall is
    /// read before anyone is judged idle.
    @Test func sigstopAndSigcontCutNoClientThatKeptSending() throws {
        let run = try RunningPortvisor([#"{ "name": "e", "kind": "echo", "port": 0, "idleTimeout": 2 }"#], arguments: ["--log-level", "debug"])
        let port = try run.port("e")
        let clients = try (0..<8).map { _ in try TestClient(port: port) }
        var sent = [Int](repeating: 0, count: clients.count)
        func sendRound() throws {
            for (i, client) in clients.enumerated() {
                try client.send([UInt8(ascii: "a") + UInt8(sent[i] % 26)])
                sent[i] += 1
            }
        }
        try sendRound()
        run.process.signal(SIGSTOP)
        let stoppedAt = Date()
        while Date().timeIntervalSince(stoppedAt) < 3 {
            usleep(300_000)  // the clients' pace, not synchronisation
            try sendRound()
        }
        run.process.signal(SIGCONT)
        for _ in 0..<3 {
            usleep(300_000)
            do { try sendRound() } catch {
                _ = run.process.pump(timeout: 0.5)
                let state = (try? String(contentsOfFile: "/proc/\(run.process.pid)/stat", encoding: .utf8)) ?? "gone"
                Issue.record("\(error); the supervisor (\(state)) logged:\n\(run.process.stderrText)")
                return
            }
        }
        var served = 0
        for (i, client) in clients.enumerated() {
            let expected = (0..<sent[i]).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            if (try? client.read(count: expected.count, timeout: 5)) == expected { served += 1 }
        }
        FaultScale.report("sigstop", "8 clients through a 3 s SIGSTOP with idleTimeout 2 s: \(served) still served")
        #expect(served == clients.count)
    }

    // MARK: 13. UDP in the summary and in the log

    @Test func udpServicesShowTheirDatagramsInTheSummaryAndLogDropsOncePerSecond() throws {
        let run = try RunningPortvisor([#"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp", "maxConnectionRatePerSource": 1 }"#])
        let port = try run.port("u")
        let client = try TestDatagramSocket()
        for _ in 0..<5 { try client.send([1], to: port) }
        #expect(try client.receive() == [1])
        try run.process.waitForStderr("dropped: more than 1 answer per second to this source (maxConnectionRatePerSource)")
        // The last datagrams may still be on their way when the first summary is printed: ask
        // again (each SIGUSR1 prints one) until it counts all five, for at most 10 s.
        let summary = " u: running on 127.0.0.1:\(port)/udp, 5 datagrams in, 1 out, 4 dropped"
        var log = ""
        for _ in 0..<20 where !log.contains(summary) {
            run.process.signal(SIGUSR1)
            log = (try? run.process.waitForStderr(summary, timeout: 0.5)) ?? ""
        }
        #expect(log.contains(summary), "\(run.process.stderrText)")
        #expect(log.components(separatedBy: "dropped: more than 1 answer").count - 1 == 1)  // once, not four times
    }

    // MARK: 14. drainTimeout

    @Test func drainTimeoutSetsTheDrainWindow() throws {
        let directory = try TempDirectory()
        let path = try directory.write("services.json", #"{ "status": false, "drainTimeout": 1, "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#)
        let process = try ChildProcess.portvisor(["run", "--config", path])
        let log = try process.waitForStderr(" e: listening on 127.0.0.1:")
        let line = try #require(log.split(separator: "\n").first { $0.contains(" e: listening on ") })
        let port = try #require(Int(line.split(separator: ":").last?.prefix { $0.isNumber } ?? ""))
        let client = try TestClient(port: port)
        _ = try client.exchange(Array("x".utf8), halfClose: false)
        let start = Date()
        process.signal(SIGTERM)
        #expect(client.waitForClose(timeout: 5))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.8 && elapsed < 3)
        #expect(try process.waitForExit(timeout: 5) == 0)
        #expect(process.stderrText.contains("draining connections for up to 1 s"))
        let bad = #"{ "drainTimeout": 0, "services": [ { "name": "e", "kind": "echo", "port": 1 } ] }"#
        #expect(throws: ConfigError.invalid(file: "s.json", issues: [ConfigIssue("drainTimeout", "0 must be greater than 0 seconds")])) {
            try ConfigLoader.parse(Array(bad.utf8), path: "s.json")
        }
    }

    // MARK: 11. Smaller ones

    @Test func linkLocalRepliesKeepTheirScope() {
        let address = SocketAddress(ip: IPAddress(parsing: "fe80::1")!, port: 9, scopeID: 3)
        let back = try? address.withSockAddr { (pointer, length) throws(SystemError) -> SocketAddress? in
            SocketAddress(storage: UnsafeRawPointer(pointer))
        }
        #expect(back == address)
        #expect(address.description == "[fe80::1%3]:9")
    }

    @Test func longStrftimeOutputIsNotCutToNothing() {
        let formatter = DaytimeFormatter(DaytimeOptions(format: .strftime(String(repeating: "%c ", count: 80))))
        let text = formatter.string(at: WallTime(seconds: 1_795_611_722))
        #expect(text.utf8.count > 1_023)
        #expect(text.hasPrefix("Wed Nov 25 13:02:02 2026 "))
    }

    /// A 1 MiB unknown key used to build a (1 MiB × key length) table per known key.
    @Test func aHugeUnknownKeyGetsNoSuggestionAndCostsNothing() throws {
        let key = String(repeating: "k", count: 1_000_000)
        let json = #"{ "status": false, "services": [ { "name": "e", "kind": "echo", "port": 1, ""# + key + #"": 1 } ] }"#
        let started = Clock.monotonic()
        do {
            _ = try ConfigLoader.parse(Array(json.utf8), path: "s.json")
            Issue.record("accepted")
        } catch {
            #expect(error.lines == [#"s.json: services[0]: unknown key "\#(String(repeating: "k", count: 60))…" (1000000 bytes)"#])
        }
        #expect(Double(Clock.monotonic() - started) / 1e9 < 2)
        #expect(Suggestion.closest(to: "maxConections", in: ConfigKeys.commonService) == "maxConnections")
        #expect(Suggestion.closest(to: "prot", in: ["port", "protocol"]) == "port")
        #expect(Suggestion.editDistance(Array("abcd"), Array("badc")) == 2)
    }

    @Test func udpSocketsDoNotShareTheirAddress() throws {
        let first = try Socket.bindDatagram(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(first) }
        let address = try Socket.localAddress(first)
        // Another socket that asks for SO_REUSEADDR must still not get the same address.
        let second = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { Glibc.close(second) }
        var one: Int32 = 1
        setsockopt(second, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = try address.withSockAddr { (pointer, length) throws(SystemError) in Glibc.bind(second, pointer, length) }
        #expect(bound == -1 && errno == EADDRINUSE)
    }
}

/// Sends one UDP datagram with a forged source through a raw socket (needs CAP_NET_RAW).
func sendForgedDatagram(from source: SocketAddress, to destination: SocketAddress, payload: [UInt8]) throws {
    guard case .v4(let src) = source.ip, case .v4(let dst) = destination.ip else { throw TestFailure("IPv4 only") }
    let fd = socket(AF_INET, 3 /* SOCK_RAW */, Int32(IPPROTO_RAW))
    guard fd >= 0 else { throw TestFailure("raw socket: errno \(errno)") }
    defer { Glibc.close(fd) }
    var packet = [UInt8](repeating: 0, count: 28 + payload.count)
    func put16(_ value: Int, at offset: Int) { packet[offset] = UInt8(value >> 8 & 0xFF); packet[offset + 1] = UInt8(value & 0xFF) }
    func put32(_ value: UInt32, at offset: Int) { for i in 0..<4 { packet[offset + i] = UInt8(value >> (24 - 8 * UInt32(i)) & 0xFF) } }
    packet[0] = 0x45
    put16(packet.count, at: 2)
    packet[8] = 64
    packet[9] = UInt8(IPPROTO_UDP)
    put32(src, at: 12)
    put32(dst, at: 16)
    put16(Int(source.port), at: 20)
    put16(Int(destination.port), at: 22)
    put16(8 + payload.count, at: 24)  // UDP checksum 0: none (allowed over IPv4)
    packet.replaceSubrange(28..., with: payload)
    let sent = try destination.withSockAddr { (pointer, length) throws(SystemError) in
        packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, pointer, length) }
    }
    guard sent == packet.count else { throw TestFailure("raw sendto: errno \(errno)") }
}
