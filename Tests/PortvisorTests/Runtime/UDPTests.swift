// UDP services with real datagrams on 127.0.0.1 and ::1: each kind's answer, and the defences
// (privileged source ports, broadcast/multicast, our own ports, the per-source rate).
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// A UDP socket for tests; every receive has a deadline.
final class TestDatagramSocket {
    let fd: Int32

    init(bindTo address: SocketAddress = SocketAddress(ip: .loopbackV4, port: 0)) throws {
        fd = try Socket.bindDatagram(on: address)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to port: Int, host: IPAddress = .loopbackV4) throws {
        let result = try bytes.withUnsafeBytes { (raw) throws(SystemError) -> IOResult in
            try Socket.send(fd, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: raw.count, to: SocketAddress(ip: host, port: UInt16(port)))
        }
        guard case .done(bytes.count) = result else { throw TestFailure("short send: \(result)") }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double = 2) throws -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let received = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in
            try Socket.receive(fd, into: raw.baseAddress!, capacity: raw.count)
        }
        return received.map { Array(buffer[0..<$0.count]) }
    }
}

@Suite struct UDPTests {
    func udp(_ kind: String, _ extra: String = "") -> String {
        #"{ "name": "u", "kind": "\#(kind)", "port": 0, "protocol": "udp"\#(extra) }"#
    }

    @Test func echoReturnsTheDatagramUnchanged() throws {
        let server = try TestSupervisor(udp("echo"))
        let client = try TestDatagramSocket()
        for size in [1, 512, 60_000] {
            let payload = randomBytes(size, seed: UInt64(size))
            try client.send(payload, to: server.port("u"))
            #expect(try client.receive() == payload)
        }
        let snapshot = try server.snapshot("u")
        #expect(snapshot.datagrams == Datagrams(received: 3, sent: 3, dropped: 0))
        #expect(snapshot.total == 0 && snapshot.live == 0)
    }

    @Test func daytimeTimeQotdAndChargenAnswerOnce() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "daytime", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "t", "kind": "time", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "q", "kind": "qotd", "port": 0, "protocol": "udp", "quotes": ["Q."] }"#,
                                        #"{ "name": "c", "kind": "chargen", "port": 0, "protocol": "udp" }"#)
        let client = try TestDatagramSocket()
        try client.send([0x0A], to: server.port("d"))
        let line = String(decoding: try #require(try client.receive()), as: UTF8.self)
        #expect(line.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\r\n$"#, options: .regularExpression) != nil)
        try client.send([], to: server.port("t"))
        #expect(try client.receive()?.count == 4)
        try client.send([1], to: server.port("q"))
        #expect(try client.receive() == Array("Q.\r\n".utf8))
        // A request of 64 bytes may get up to 8 × (64 + 28) − 28 bytes: the full 512.
        let request = [UInt8](repeating: 0x20, count: 64)
        try client.send(request, to: server.port("c"))
        #expect(try client.receive() == Array(chargenReference(512)))
        try client.send(request, to: server.port("c"))
        #expect(try client.receive() == Array(chargenReference(74 + 512).suffix(512)))  // the next line on
    }

    @Test func discardAnswersNothing() throws {
        let server = try TestSupervisor(udp("discard"))
        let client = try TestDatagramSocket()
        try client.send(Array("drop me".utf8), to: server.port("u"))
        #expect(try client.receive(timeout: 0.3) == nil)
        let snapshot = try server.waitFor("u") { $0.datagrams.received == 1 }
        #expect(snapshot.datagrams.sent == 0 && snapshot.datagrams.dropped == 0 && snapshot.bytesIn == 7)
    }

    @Test(.enabled(if: geteuid() == 0)) func privilegedSourcePortsAreNeverAnswered() throws {
        let server = try TestSupervisor(udp("echo"))
        let privileged = try TestDatagramSocket(bindTo: SocketAddress(ip: .loopbackV4, port: 999))
        try privileged.send(Array("loop?".utf8), to: server.port("u"))
        #expect(try privileged.receive(timeout: 0.3) == nil)
        _ = try server.waitFor("u") { $0.datagrams.dropped == 1 }
    }

    @Test func loopDefences() {
        let local = SocketAddress(ip: .loopbackV4, port: 40000)
        #expect(DatagramDefence.loopRisk(from: local, ownPort: false, boundTo: .loopbackV4) == nil)
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .loopbackV4, port: 7), ownPort: false, boundTo: .loopbackV4) == "privileged source port 7")
        #expect(DatagramDefence.loopRisk(from: local, ownPort: true, boundTo: .loopbackV4) == "one of our own UDP ports")
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .v4(10, 0, 0, 9), port: 40000), ownPort: true, boundTo: .anyV4) == "one of our own UDP ports")
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .v4(10, 0, 0, 9), port: 40000), ownPort: true, boundTo: .loopbackV4) == nil)
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .v4(255, 255, 255, 255), port: 40000), ownPort: false, boundTo: .anyV4) != nil)
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .v4(224, 0, 0, 1), port: 40000), ownPort: false, boundTo: .anyV4) != nil)
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: IPAddress(parsing: "ff02::1")!, port: 40000), ownPort: false, boundTo: .anyV6) != nil)
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .anyV4, port: 40000), ownPort: false, boundTo: .anyV4) != nil)
    }

    @Test func ourOwnServicesDoNotAnswerEachOther() throws {
        // chargen answering echo answering chargen … would never end: neither answers the other.
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "c", "kind": "chargen", "port": 0, "protocol": "udp" }"#)
        let echoPort = try server.port("e")
        let echoEndpoint = SocketAddress(ip: .loopbackV4, port: UInt16(echoPort))
        let endpoints = DatagramEndpoints.shared.withLock { $0 }
        #expect(endpoints.contains(echoEndpoint))
        #expect(DatagramDefence.loopRisk(from: SocketAddress(ip: .loopbackV4, port: UInt16(echoPort)),
                                         ownPort: DatagramDefence.isOwnEndpoint(echoEndpoint, among: endpoints),
                                         boundTo: .loopbackV4) == "one of our own UDP ports")
    }

    @Test func perSourceRateLimitsAnswers() throws {
        let server = try TestSupervisor(udp("echo", #", "maxConnectionRatePerSource": 5"#))
        let client = try TestDatagramSocket()
        for i in 0..<20 { try client.send([UInt8(i)], to: server.port("u")) }
        var answers = 0
        while try client.receive(timeout: 0.3) != nil { answers += 1 }
        #expect(answers >= 5 && answers <= 7, "\(answers) answers at 5/s")
        let other = try TestDatagramSocket(bindTo: SocketAddress(ip: .v4(127, 0, 0, 9), port: 0))
        try other.send([42], to: server.port("u"))
        #expect(try other.receive() == [42])  // only the noisy source is limited
        let snapshot = try server.snapshot("u")
        #expect(snapshot.datagrams.dropped == 20 - answers)
    }

    @Test func ipv6Loopback() throws {
        let server = try TestSupervisor(#"{ "name": "u", "kind": "echo", "port": 0, "protocol": "udp", "host": "::1" }"#,
                                        #"{ "name": "t", "kind": "echo", "port": 0, "host": "::1" }"#)
        let client = try TestDatagramSocket(bindTo: SocketAddress(ip: .loopbackV6, port: 0))
        try client.send([1, 2, 3], to: server.port("u"), host: .loopbackV6)
        #expect(try client.receive() == [1, 2, 3])
        let tcp = try TestClient(port: server.port("t"), host: "::1")
        #expect(try tcp.exchange([9], halfClose: false) == [9])
        let live = try #require(try server.snapshot("t").connections?.first)
        #expect(live.peer.description.hasPrefix("[::1]:"))
    }

    @Test func dualStackWildcardShowsMappedPeersAsIPv4() throws {
        let server = try TestSupervisor(#"{ "name": "t", "kind": "echo", "port": 0, "host": "::" }"#)
        let v4 = try TestClient(port: server.port("t"), host: "127.0.0.1")
        let v6 = try TestClient(port: server.port("t"), host: "::1")
        _ = try v4.exchange([1], halfClose: false)
        _ = try v6.exchange([2], halfClose: false)
        let peers = Set(try server.snapshot("t").connections!.map { String($0.peer.description.prefix(6)) })
        #expect(peers == ["127.0.", "[::1]:"])
    }

    @Test func statusDocumentHasDatagrams() throws {
        let server = try TestSupervisor(udp("echo"), status: TestSupervisor.statusOnLoopback)
        let client = try TestDatagramSocket()
        try client.send([1], to: server.port("u"))
        _ = try client.receive()
        let json = try JSONParser.parse(server.get("/status").1)
        guard case .array(let services)? = json["services"] else { Issue.record("no services"); return }
        #expect(services[0]["datagrams"] == .fields(["in": .int(1), "out": .int(1), "dropped": .int(0)]))
        #expect(services[0]["protocol"] == .string("udp"))
    }
}
