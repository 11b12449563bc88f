// Every bench mode, briefly, against an in-process supervisor on loopback: no errors and a
// positive rate; a wrong server is caught as a verification failure.
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct BenchRunTests {
    static func server() throws -> TestSupervisor {
        try TestSupervisor(
            #"{ "name": "echo", "kind": "echo", "port": 0, "maxConnections": 1000 }"#,
            #"{ "name": "daytime", "kind": "daytime", "port": 0, "maxConnections": 1000 }"#,
            #"{ "name": "sentence", "kind": "sentence", "port": 0, "maxConnections": 1000 }"#,
            level: .warning)
    }

    static func options(_ mode: BenchMode, _ server: TestSupervisor, _ service: String,
                        connections: Int = 2) throws -> BenchOptions {
        var options = BenchOptions(mode: mode, address: SocketAddress(ip: .loopbackV4, port: UInt16(try server.port(service))))
        options.connections = connections
        options.duration = 0.3
        options.warmup = mode.defaultWarmup > 0 ? 0.1 : 0
        return options
    }

    static func expectClean(_ result: BenchResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.counters.errors == 0, "\(result.table())", sourceLocation: sourceLocation)
        #expect(result.rate > 0, "\(result.table())", sourceLocation: sourceLocation)
        #expect(result.exitCode == 0, sourceLocation: sourceLocation)
    }

    @Test func roundTrips() throws {
        let server = try Self.server()
        var options = try Self.options(.rr, server, "echo", connections: 4)
        options.threads = 2
        options.size = 300
        let result = try BenchRunner.run(options)
        Self.expectClean(result)
        #expect(result.counters.established == 4 && result.counters.verified == 4)
        #expect(result.histogram.count == UInt64(result.counters.ops))
        #expect(result.histogram.percentile(0.5) > 0 && result.histogram.percentile(0.5) <= result.histogram.max)
        let json = result.json()
        #expect(json["mode"] == .string("rr") && json["threads"] == .int(2) && json["size"] == .int(300))
        #expect(json["errors"]?["total"] == .int(0))
    }

    @Test func stream() throws {
        let server = try Self.server()
        let result = try BenchRunner.run(try Self.options(.stream, server, "echo", connections: 1))
        Self.expectClean(result)
        #expect(result.counters.bytesEchoed > 0 && result.counters.bytesEchoed <= result.counters.bytesSent + BenchOptions.streamWindow)
        #expect(result.table().contains("MB/s"))
    }

    @Test func connectToDaytime() throws {
        let server = try Self.server()
        let result = try BenchRunner.run(try Self.options(.connect, server, "daytime"))
        Self.expectClean(result)
        #expect(result.counters.replyBytes == result.counters.ops * "2026-11-25T13:02:02Z\r\n".utf8.count)
    }

    @Test func sentenceWithAck() throws {
        let server = try Self.server()
        let result = try BenchRunner.run(try Self.options(.sentence, server, "sentence"))
        Self.expectClean(result)
        let snapshot = try server.snapshot("sentence", connections: false)
        #expect(snapshot.total >= result.counters.opsTotal)
    }

    @Test func idleHoldsAndProvesAgain() throws {
        let server = try Self.server()
        var options = try Self.options(.idle, server, "echo", connections: 40)
        options.serverPID = getpid()  // the supervisor runs in this process
        let result = try BenchRunner.run(options)
        Self.expectClean(result)
        let c = result.counters
        #expect(c.established == 40 && c.verified == 40 && c.stillEchoing == 40 && c.dropped == 0)
        #expect(result.serverRSSBeforeKiB != nil && result.serverRSSHeldKiB != nil)
        #expect(result.table().contains("KiB per connection"))
    }

    @Test func echoCheckedAgainstDaytimeIsAMismatch() throws {
        let server = try Self.server()
        let result = try BenchRunner.run(try Self.options(.rr, server, "daytime", connections: 3))
        #expect(result.counters.mismatches == 3, "\(result.table())")
        #expect(result.counters.ops == 0)
        #expect(result.exitCode == 1)
        #expect(result.table().contains("verification failed"))
    }

    @Test func twoLinesAreAnInvalidReply() throws {
        let server = try CannedServer(reply: "one\r\ntwo\r\n")
        var options = BenchOptions(mode: .connect, address: SocketAddress(ip: .loopbackV4, port: UInt16(server.port)))
        options.duration = 0.2
        let result = try BenchRunner.run(options)
        #expect(result.counters.invalidReplies > 0 && result.counters.ops == 0, "\(result.table())")
        #expect(result.exitCode == 1)
    }
}
