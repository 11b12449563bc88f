// allow/deny, per-source limits and rates: the pure parts, then on real loopback sockets
// (a client can pick any 127/8 source address).
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct CIDRTests {
    @Test func parsing() {
        #expect(CIDR(parsing: "10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(CIDR(parsing: "127.0.0.1")?.description == "127.0.0.1/32")
        #expect(CIDR(parsing: "::1")?.description == "::1/128")
        #expect(CIDR(parsing: "2001:db8::1/32")?.description == "2001:db8::/32")
        #expect(CIDR(parsing: "::ffff:10.0.0.0/104")?.description == "10.0.0.0/8")
        #expect(CIDR(parsing: "0.0.0.0/0")?.description == "0.0.0.0/0")
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/-1", "10.0.0.0/+8", "localhost", "x/8", ""] {
            #expect(CIDR(parsing: bad) == nil, "\(bad)")
        }
    }

    /// Found by the CIDR fuzzer (Fuzz/regressions/cidr/): inet_pton stopped at a NUL, so text
    /// after one was ignored, in `allow`/`deny` and in `host`.
    @Test func textAfterANulIsNotIgnored() {
        for text in ["::ffff:1\u{0}\u{0}0.0.0/124", "10.0.0.0\u{0}/8", "127.0.0.1\u{0}", "::1\u{0}junk"] {
            #expect(CIDR(parsing: text) == nil, "\(text.debugDescription)")
            #expect(IPAddress(parsing: text) == nil, "\(text.debugDescription)")
        }
        let json = #"{ "status": false, "services": [ { "name": "e", "kind": "echo", "port": 1, "host": "127.0.0.1\u0000\n" } ] }"#
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(Array(json.utf8), path: "services.json") }
    }

    @Test func containment() throws {
        let ten = try #require(CIDR(parsing: "10.0.0.0/8"))
        #expect(ten.contains(.v4(10, 200, 1, 1)))
        #expect(!ten.contains(.v4(11, 0, 0, 0)))
        #expect(ten.contains(IPAddress(parsing: "::ffff:10.1.1.1")!))  // mapped counts as IPv4
        #expect(!ten.contains(.loopbackV6))
        let everything = try #require(CIDR(parsing: "0.0.0.0/0"))
        #expect(everything.contains(.v4(1, 2, 3, 4)) && !everything.contains(.loopbackV6))
    }

    @Test func longestPrefixWinsAndDenyWinsTies() throws {
        func policy(allow: [String]?, deny: [String]) -> AccessPolicy {
            AccessPolicy(allow: allow?.compactMap(CIDR.init(parsing:)), deny: deny.compactMap(CIDR.init(parsing:)))
        }
        let a = IPAddress.v4(10, 1, 2, 3)
        #expect(policy(allow: nil, deny: []).permits(a))
        #expect(!policy(allow: nil, deny: ["10.0.0.0/8"]).permits(a))
        #expect(!policy(allow: ["192.168.0.0/16"], deny: []).permits(a))
        #expect(policy(allow: ["10.1.0.0/16"], deny: ["10.0.0.0/8"]).permits(a))      // allow is longer
        #expect(!policy(allow: ["10.0.0.0/8"], deny: ["10.1.0.0/16"]).permits(a))     // deny is longer
        #expect(!policy(allow: ["10.0.0.0/8"], deny: ["10.0.0.0/8"]).permits(a))      // a tie: deny
        #expect(policy(allow: ["10.0.0.0/8"], deny: ["10.1.2.4"]).permits(a))
        #expect(policy(allow: ["::1"], deny: []).permits(.loopbackV6))
    }
}

@Suite struct SourceTableTests {
    let a = IPAddress.v4(10, 0, 0, 1), b = IPAddress.v4(10, 0, 0, 2)
    static let second: MonotonicNanos = 1_000_000_000

    @Test func perSourceLimit() {
        var table = SourceTable()
        func admit(_ source: IPAddress) -> Refusal? { table.admit(source, now: 0, perSourceLimit: 2, rate: nil) }
        #expect(admit(a) == nil)
        #expect(admit(a) == nil)
        #expect(admit(a) == .perSourceLimit(2))
        #expect(admit(b) == nil)
        table.release(a)
        #expect(admit(a) == nil)
    }

    @Test func rateIsATokenBucketPerSource() {
        var table = SourceTable()
        func admit(_ source: IPAddress, at now: MonotonicNanos = 0, rate: Double = 5) -> Refusal? {
            table.admit(source, now: now, perSourceLimit: nil, rate: rate)
        }
        for _ in 0..<5 { #expect(admit(a) == nil) }
        #expect(admit(a) == .rate(5))
        #expect(admit(b) == nil)  // only the offender is throttled
        #expect(admit(a, at: Self.second / 5) == nil)  // one token back after 0.2 s
        #expect(admit(a, at: Self.second / 5) == .rate(5))
        #expect(admit(.v4(10, 0, 0, 3), rate: 0.5) == nil)  // slower than one per second still admits one
    }

    @Test func refusalsAreLoggedOncePerSecond() {
        var table = SourceTable()
        func log(_ source: IPAddress, at now: MonotonicNanos) -> Bool { table.shouldLogRefusal(source, now: now) }
        #expect(log(a, at: 0))
        #expect(!log(a, at: Self.second - 1))
        #expect(log(b, at: 10))
        #expect(log(a, at: Self.second))
    }

    @Test func sweepForgetsIdleSources() {
        var table = SourceTable()
        _ = table.admit(a, now: 0, perSourceLimit: 1, rate: nil)
        _ = table.admit(b, now: 0, perSourceLimit: 1, rate: nil)
        table.release(b)
        func sweep() -> Bool { table.sweep(now: 5 * Self.second, rate: nil) }
        #expect(sweep())
        #expect(Set(table.entries.keys) == [a])
        table.release(a)
        #expect(!sweep())
    }
}

@Suite struct AccessIntegrationTests {
    @Test func allowListRefusesOtherSources() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "allow": ["127.0.0.2"], "deny": ["127.0.0.3"] }"#)
        let port = try server.port("e")
        let refused = try TestClient(port: port, source: "127.0.0.1")
        #expect(refused.waitForClose(timeout: 3))
        let allowed = try TestClient(port: port, source: "127.0.0.2")
        #expect(try allowed.exchange(Array("ok".utf8)) == Array("ok".utf8))
        let denied = try TestClient(port: port, source: "127.0.0.3")
        #expect(denied.waitForClose(timeout: 3))
        let snapshot = try server.waitFor("e") { $0.refused == 2 && $0.live == 0 }
        #expect(snapshot.total == 1 && snapshot.rejected == 0)
        #expect(server.logs.lines.contains { $0.contains("warning e: 127.0.0.1: refused: not allowed by allow/deny") })
    }

    @Test func perSourceLimitRefusesOnlyThatSource() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxConnectionsPerSource": 2 }"#)
        let port = try server.port("e")
        let first = try TestClient(port: port, source: "127.0.0.5"), second = try TestClient(port: port, source: "127.0.0.5")
        _ = try first.exchange([1], halfClose: false)
        _ = try second.exchange([2], halfClose: false)
        let third = try TestClient(port: port, source: "127.0.0.5")
        #expect(third.waitForClose(timeout: 3))
        let other = try TestClient(port: port, source: "127.0.0.6")
        #expect(try other.exchange([3]) == [3])
        first.close()
        _ = try server.waitFor("e") { $0.live == 1 }
        let again = try TestClient(port: port, source: "127.0.0.5")
        #expect(try again.exchange([4]) == [4])
        #expect(try server.snapshot("e").refused == 1)
    }

    @Test func rateLimitThrottlesTheOffenderOnly() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daytime", "port": 0, "maxConnectionRatePerSource": 3 }"#)
        let port = try server.port("d")
        var served = 0
        for _ in 0..<12 {
            let client = try TestClient(port: port, source: "127.0.0.7")
            if !(try client.readToEnd()).isEmpty { served += 1 }
        }
        #expect(served >= 3 && served <= 5, "served \(served) of 12 at 3/s")
        #expect(!(try TestClient(port: port, source: "127.0.0.8").readToEnd()).isEmpty)  // another source is fine
        let snapshot = try server.snapshot("d")
        #expect(snapshot.refused == 12 - served)
        let refusalLines = server.logs.lines.filter { $0.contains("127.0.0.7: refused") }
        #expect(refusalLines.count >= 1 && refusalLines.count <= 2, "\(refusalLines.count) refusal lines")
    }

    @Test func writeTimeoutCutsOffAClientThatStopsReading() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "writeTimeout": 0.3, "maxBufferedBytes": 4096 }"#)
        let client = try server.connect("e")
        let chunk = [UInt8](repeating: 0x61, count: 65536)
        let start = Date()
        // Push until the server stops reading; never read the echo.
        while Date().timeIntervalSince(start) < 5 {
            do { try client.send(chunk, timeout: 0.2) } catch { break }
        }
        let snapshot = try server.waitFor("e", timeout: 5) { $0.timeouts.write == 1 && $0.live == 0 }
        #expect(snapshot.total == 1)
        #expect(server.logs.lines.contains { $0.contains("(writeTimeout)") })
    }
}

@Suite struct SocketAddressParsingTests {
    @Test func hostAndPort() {
        #expect(SocketAddress(parsing: "127.0.0.1:80")?.description == "127.0.0.1:80")
        #expect(SocketAddress(parsing: "[::1]:20080")?.description == "[::1]:20080")
        #expect(SocketAddress(parsing: "localhost:7")?.description == "127.0.0.1:7")
        for bad in ["127.0.0.1:+80", "127.0.0.1:", "127.0.0.1:65536", "::1:80", "[::1]80", "127.0.0.1:8 0", "host:80", "127.0.0.1:٣"] {
            #expect(SocketAddress(parsing: bad) == nil, "\(bad)")
        }
    }
}
