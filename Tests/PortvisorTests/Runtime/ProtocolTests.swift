// The three services byte for byte, on real loopback sockets against an in-process supervisor.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct DaytimeServiceTests {
    @Test(arguments: [
        ("iso8601", #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\r\n$"#),
        ("rfc867", #"^[A-Z][a-z]+day, [A-Z][a-z]+ [1-9]\d?, \d{4} \d{2}:\d{2}:\d{2}-UTC\r\n$"#),
        ("rfc2822", #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n$"#),
        ("%H:%M", #"^\d{2}:\d{2}\r\n$"#),
    ])
    func lineShapePerFormat(format: String, pattern: String) throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daytime", "port": 0, "format": "\#(format)" }"#)
        let client = try server.connect("d")
        let line = try client.readToEndText()
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "got \(line.debugDescription)")
        let snapshot = try server.waitFor("d") { $0.total == 1 && $0.live == 0 }
        #expect(snapshot.bytesOut == line.utf8.count)
    }

    @Test func isoLineIsTheCurrentTime() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daytime", "port": 0 }"#)
        let before = Clock.wall().seconds
        let line = try server.connect("d").readToEndText()
        let after = Clock.wall().seconds
        let formatter = DaytimeFormatter(DaytimeOptions())
        let candidates = (before...after).map { formatter.string(at: WallTime(seconds: $0)) + "\r\n" }
        #expect(candidates.contains(line))
    }

    @Test func inputIsIgnored() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daytime", "port": 0, "timeZone": "Europe/Paris" }"#)
        let client = try server.connect("d")
        try client.send("hello?\r\n")
        let line = try client.readToEndText()
        #expect(line.hasSuffix("+01:00\r\n") || line.hasSuffix("+02:00\r\n"))
    }
}

@Suite struct EchoServiceTests {
    @Test func oneMebibyteWithHalfClose() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let payload = randomBytes(1 << 20, seed: 1)
        let client = try server.connect("e")
        let echoed = try client.exchange(payload)
        #expect(echoed.count == payload.count)
        #expect(sameBytes(echoed, payload))
        let snapshot = try server.waitFor("e") { $0.live == 0 }
        #expect(snapshot.bytesIn == 1 << 20 && snapshot.bytesOut == 1 << 20 && snapshot.total == 1)
    }

    @Test func halfCloseWithNothingSent() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let client = try server.connect("e")
        client.shutdownWrite()
        #expect(try client.readToEnd() == [])
    }

    @Test func twoHundredConcurrentClientsWithRandomChunks() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let port = try server.port("e")
        let results = ConcurrentEchoRun.run(port: port, clients: 200, bytesPerClient: 64 * 1024, chunkSizes: 1...65536, seed: 200)
        #expect(results.failures == [])
        #expect(results.verifiedClients == 200)
        let snapshot = try server.waitFor("e") { $0.live == 0 }
        #expect(snapshot.total == 200)
        #expect(snapshot.bytesIn == 200 * 64 * 1024)
    }

    @Test func resetMidEchoDoesNotDisturbOthers() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#)
        let survivor = try server.connect("e")
        for _ in 0..<50 {
            let client = try server.connect("e")
            try client.send(randomBytes(100_000, seed: 3))
            client.reset()
        }
        let payload = randomBytes(10_000, seed: 4)
        #expect(sameBytes(try survivor.exchange(payload), payload))
        _ = try server.waitFor("e") { $0.live == 0 && $0.total == 51 }
    }

    @Test func backpressureBoundsWhatTheServerHolds() throws {
        let limit = 16384
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxBufferedBytes": \#(limit) }"#)
        let client = try server.connect("e")
        // Push without reading until the kernel buffers and the server's bound are all full.
        var pushed = 0
        let chunk = randomBytes(65536, seed: 5)
        var quietSince = Date()
        while Date().timeIntervalSince(quietSince) < 0.3 {
            var poller = pollfd(fd: client.fd, events: Int16(POLLOUT), revents: 0)
            if poll(&poller, 1, 50) == 1 {
                let n = chunk.withUnsafeBytes { Glibc.write(client.fd, $0.baseAddress, $0.count) }
                if n > 0 { pushed += n; quietSince = Date() }
            }
            if pushed > 512 << 20 { break }
        }
        #expect(pushed < 512 << 20, "the server never stopped reading")
        let stuck = try server.snapshot("e")
        let connection = try #require(stuck.connections?.first)
        let held = connection.bytesIn - connection.bytesOut
        #expect(held <= limit, "server holds \(held) bytes, bound is \(limit)")
        #expect(connection.bytesIn > 0)
        // Every byte still comes back, in order.
        var expected: [UInt8] = []
        while expected.count < pushed { expected += chunk }
        let echoed = try client.read(count: pushed, timeout: 20)
        #expect(sameBytes(echoed, Array(expected[0..<pushed])))
    }

    @Test func maxConnectionsRejectsTheExcess() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "maxConnections": 2 }"#)
        let first = try server.connect("e"), second = try server.connect("e")
        #expect(try first.exchange(Array("one".utf8), halfClose: false) == Array("one".utf8))
        #expect(try second.exchange(Array("two".utf8), halfClose: false) == Array("two".utf8))
        let third = try server.connect("e")
        #expect(third.waitForClose(timeout: 5))
        var snapshot = try server.waitFor("e") { $0.rejected == 1 }
        #expect(snapshot.total == 2 && snapshot.live == 2)
        first.close()
        _ = try server.waitFor("e") { $0.live == 1 }
        let fourth = try server.connect("e")
        #expect(try fourth.exchange(Array("four".utf8)) == Array("four".utf8))
        snapshot = try server.waitFor("e") { $0.total == 3 }
        #expect(snapshot.rejected == 1)
    }

    @Test func idleConnectionsAreClosed() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "idleTimeout": 0.3 }"#)
        let idle = try server.connect("e")
        let busy = try server.connect("e")
        let start = Date()
        // The busy client talks every 100 ms and must outlive the idle one.
        var closedAt: Double?
        while Date().timeIntervalSince(start) < 1.0 {
            #expect(try busy.exchange([0x41], halfClose: false) == [0x41])
            if closedAt == nil, idle.waitForClose(timeout: 0.1) { closedAt = Date().timeIntervalSince(start) }
        }
        let elapsed = try #require(closedAt)
        #expect(elapsed >= 0.25 && elapsed < 0.9)
        #expect(try busy.exchange(Array("still here".utf8)) == Array("still here".utf8))
    }
}

@Suite struct SentenceServiceTests {
    static let service = #"{ "name": "s", "kind": "sentence", "port": 0, "sentences": ["First.", "Second."], "ackTimeout": 0.5, "maxAckBytes": 8 }"#

    @Test func acknowledgedThenClosedAndNothingElseSent() throws {
        let server = try TestSupervisor(Self.service)
        let client = try server.connect("s")
        #expect(try client.readLine() == "First.\r\n")
        try client.send("ACK\r\n")
        #expect(try client.readToEnd() == [])
        let snapshot = try server.waitFor("s") { $0.acknowledged == 1 }
        #expect(snapshot.unacknowledged == 0 && snapshot.live == 0)
        let next = try server.connect("s")
        #expect(try next.readLine() == "Second.\r\n")
    }

    @Test func ackSentBeforeReadingCounts() throws {
        let server = try TestSupervisor(Self.service)
        let client = try server.connect("s")
        try client.send("\n")
        #expect(try client.readToEndText() == "First.\r\n")
        _ = try server.waitFor("s") { $0.acknowledged == 1 }
    }

    @Test func endOfFileIsUnacknowledged() throws {
        let server = try TestSupervisor(Self.service)
        let client = try server.connect("s")
        #expect(try client.readLine() == "First.\r\n")
        try client.send("no newline")
        client.shutdownWrite()
        #expect(try client.readToEnd() == [])
        _ = try server.waitFor("s") { $0.unacknowledged == 1 && $0.acknowledged == 0 }
    }

    @Test func ackTimeoutIsATotalDeadline() throws {
        let server = try TestSupervisor(Self.service)
        let client = try server.connect("s")
        let start = Date()
        #expect(try client.readLine() == "First.\r\n")
        // Dribbling bytes does not extend the deadline.
        for _ in 0..<3 {
            try client.send("x")
            _ = client.waitForClose(timeout: 0.1)
        }
        #expect(client.waitForClose(timeout: 3))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.45 && elapsed < 1.5)
        _ = try server.waitFor("s") { $0.unacknowledged == 1 }
    }

    @Test func overLongAcknowledgement() throws {
        let server = try TestSupervisor(Self.service)
        let client = try server.connect("s")
        #expect(try client.readLine() == "First.\r\n")
        try client.send("12345678")  // 8 bytes, no newline: the limit
        #expect(client.waitForClose(timeout: 3))
        _ = try server.waitFor("s") { $0.unacknowledged == 1 }
        let exact = try server.connect("s")
        _ = try exact.readLine()
        try exact.send("1234567\n")  // 8 bytes with the newline: fine
        #expect(try exact.readToEnd() == [])
        _ = try server.waitFor("s") { $0.acknowledged == 1 }
    }

    @Test func idleTimeoutDoesNotApply() throws {
        let server = try TestSupervisor(#"{ "name": "s", "kind": "sentence", "port": 0, "ackTimeout": 1, "idleTimeout": 0.1 }"#)
        let client = try server.connect("s")
        _ = try client.readLine()
        #expect(!client.waitForClose(timeout: 0.5))
        try client.send("ok\n")
        #expect(try client.readToEnd() == [])
    }
}

/// Many echo clients at once from one thread with poll: random payloads and chunk sizes,
/// every byte checked.
enum ConcurrentEchoRun {
    struct Results {
        var verifiedClients = 0
        var failures: [String] = []
    }

    static func run(port: Int, clients count: Int, bytesPerClient: Int, chunkSizes: ClosedRange<Int>, seed: UInt64, timeout: Double = 60) -> Results {
        struct Client {
            var client: TestClient
            var payload: [UInt8]
            var sent = 0
            var received: [UInt8] = []
            var done = false
        }
        var results = Results()
        var clients: [Client] = []
        for i in 0..<count {
            do {
                clients.append(Client(client: try TestClient(port: port), payload: randomBytes(bytesPerClient, seed: seed &+ UInt64(i))))
            } catch {
                results.failures.append("client \(i): connect: \(error)")
            }
        }
        var generator = SystemRandomNumberGenerator()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while clients.contains(where: { !$0.done }) && Date() < deadline {
            var pollers = clients.map { entry -> pollfd in
                var events = Int16(POLLIN)
                if entry.sent < entry.payload.count { events |= Int16(POLLOUT) }
                return pollfd(fd: entry.done ? -1 : entry.client.fd, events: events, revents: 0)
            }
            _ = poll(&pollers, nfds_t(pollers.count), 200)
            for (i, poller) in pollers.enumerated() where poller.revents != 0 {
                if poller.revents & Int16(POLLOUT) != 0 && clients[i].sent < clients[i].payload.count {
                    let size = min(Int.random(in: chunkSizes, using: &generator), clients[i].payload.count - clients[i].sent)
                    let start = clients[i].sent
                    let n = clients[i].payload[start..<(start + size)].withUnsafeBytes { Glibc.write(poller.fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        clients[i].sent += n
                        if clients[i].sent == clients[i].payload.count { clients[i].client.shutdownWrite() }
                    }
                }
                if poller.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    let n = Glibc.read(poller.fd, &buffer, buffer.count)
                    if n > 0 {
                        clients[i].received += buffer[0..<n]
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        clients[i].done = true
                        if clients[i].received == clients[i].payload {
                            results.verifiedClients += 1
                        } else {
                            results.failures.append("client \(i): received \(clients[i].received.count) of \(clients[i].payload.count) bytes, mismatch")
                        }
                        clients[i].client.close()
                    }
                }
            }
        }
        for (i, entry) in clients.enumerated() where !entry.done {
            results.failures.append("client \(i): timed out with \(entry.received.count) of \(entry.payload.count) bytes")
        }
        return results
    }
}
