// SocketDiagnostics against the kernel (real loopback connections: peers, inodes and byte counts
// on 127.0.0.1, ::1 and a dual-stack `::`; 1,000 connections, timed) and its reply parser on
// hand-built netlink datagrams, cut and corrupted at every byte.
import CPortvisor
import Foundation
import Glibc
import Testing
@testable import Portvisor

@Suite(.timeLimit(.minutes(2))) struct SocketDiagnosticsTests {
    @Test(arguments: [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("::", "127.0.0.1"), ("::", "::1")])
    func listsExactlyTheConnectionsWithPeersInodesAndByteCounts(listen: String, connect: String) throws {
        let server = try TestListener(listen)
        let clients = try (0..<5).map { _ in try TestClient(port: Int(server.address.port), host: connect) }
        let accepted = try server.accept(clients.count)
        defer { accepted.forEach { close($0.fd) } }
        // Each accepted socket finds its client by the client's own address.
        var expected: [SocketAddress: (inode: UInt32, received: Int, sent: Int)] = [:]
        for (index, connection) in accepted.enumerated() {
            let client = try #require(clients.first { (try? Socket.localAddress($0.fd))?.port == connection.peer.port })
            let up = randomBytes(100 * index + 17, seed: UInt64(index))
            let down = randomBytes(3000 * index + 5, seed: UInt64(index + 100))
            try client.send(up)
            #expect(try readExactly(connection.fd, up.count) == up)
            try writeAll(connection.fd, down)
            #expect(try client.read(count: down.count) == down)
            expected[connection.peer] = (inode(of: connection.fd), up.count, down.count)
        }
        // Read is not acknowledged yet: wait (bounded) until the kernel's counts have caught up.
        var listed: [EstablishedConnection] = []
        eventually(timeout: 5) {
            listed = (try? SocketDiagnostics.established(on: server.address)) ?? []
            return listed.count == expected.count && listed.allSatisfy { expected[$0.peer]?.sent == $0.bytesSent }
        }
        #expect(listed.count == clients.count)
        #expect(Set(listed.map(\.peer)) == Set(expected.keys))
        for connection in listed {
            let want = try #require(expected[connection.peer])
            #expect(connection.inode == want.inode && connection.inode != 0)
            #expect(connection.bytesReceived == want.received)
            #expect(connection.bytesSent == want.sent)
            #expect(connection.local.port == server.address.port)
            #expect(connection.local.ip.unmapped == IPAddress(parsing: connect))
            // IPv4 through a `::` listener is IPv4-mapped, and printed as IPv4.
            #expect(connection.peer.description.hasPrefix(connect == "::1" ? "[::1]:" : "\(connect):"))
        }
    }

    @Test(arguments: ["127.0.0.1", "::1", "0.0.0.0", "::"])
    func aListenerWithoutConnectionsListsNone(listen: String) throws {
        let server = try TestListener(listen)
        #expect(try SocketDiagnostics.established(on: server.address) == [])
    }

    @Test func connectionsOfAnotherPortAreNotListed() throws {
        let first = try TestListener("127.0.0.1"), second = try TestListener("127.0.0.1")
        let ours = try (0..<2).map { _ in try TestClient(port: Int(first.address.port)) }
        let theirs = try (0..<3).map { _ in try TestClient(port: Int(second.address.port)) }
        let acceptedOurs = try first.accept(ours.count), acceptedTheirs = try second.accept(theirs.count)
        defer { (acceptedOurs + acceptedTheirs).forEach { close($0.fd) } }
        #expect(Set(try SocketDiagnostics.established(on: first.address).map(\.peer)) == Set(acceptedOurs.map(\.peer)))
        #expect(Set(try SocketDiagnostics.established(on: second.address).map(\.peer)) == Set(acceptedTheirs.map(\.peer)))
    }

    @Test func aWildcardListsEveryLocalAddressAndAnAddressOnlyItsOwn() throws {
        let server = try TestListener("0.0.0.0")
        let port = Int(server.address.port)
        let clients = try [TestClient(port: port, host: "127.0.0.1"), TestClient(port: port, host: "127.0.0.2"),
                           TestClient(port: port, host: "127.0.0.2")]
        let accepted = try server.accept(clients.count)
        defer { accepted.forEach { close($0.fd) } }
        #expect(try SocketDiagnostics.established(on: server.address).count == 3)
        let second = try SocketDiagnostics.established(on: SocketAddress(ip: .v4(127, 0, 0, 2), port: UInt16(port)))
        #expect(second.count == 2 && second.allSatisfy { $0.local.ip == .v4(127, 0, 0, 2) })
        #expect(try SocketDiagnostics.established(on: SocketAddress(ip: .v4(127, 0, 0, 3), port: UInt16(port))) == [])
        // The same port over IPv6 is not this IPv4 listener's.
        #expect(try SocketDiagnostics.established(on: SocketAddress(ip: .loopbackV6, port: UInt16(port))) == [])
    }

    @Test func aConnectionNotYetAcceptedIsListedWithInodeZero() throws {
        let server = try TestListener("127.0.0.1")
        let client = try TestClient(port: Int(server.address.port))
        try client.send([1, 2, 3, 4])
        var listed: [EstablishedConnection] = []
        eventually(timeout: 5) {
            listed = (try? SocketDiagnostics.established(on: server.address)) ?? []
            return listed.first?.bytesReceived == 4
        }
        #expect(listed.count == 1)
        #expect(listed.first?.peer == (try Socket.localAddress(client.fd)))
        #expect(listed.first?.inode == 0)  // no socket of a process's yet
        #expect(listed.first?.bytesReceived == 4)
    }

    @Test func aThousandConnections() throws {
        Syscall.raiseFileLimit()
        let server = try TestListener("127.0.0.1")
        let clients = try (0..<1000).map { _ in try TestClient(port: Int(server.address.port)) }
        let accepted = try server.accept(clients.count)
        defer { accepted.forEach { close($0.fd) } }
        for client in clients { try client.send([1, 2, 3]) }
        var times: [Duration] = []
        var listed: [EstablishedConnection] = []
        for _ in 0..<10 {
            let started = ContinuousClock.now
            listed = try SocketDiagnostics.established(on: server.address)
            times.append(ContinuousClock.now - started)
        }
        #expect(listed.count == 1000)
        #expect(Set(listed.map(\.peer)) == Set(accepted.map(\.peer)))
        eventually(timeout: 5) { (try? SocketDiagnostics.established(on: server.address))?.allSatisfy { $0.bytesReceived == 3 } ?? false }
        #expect(try SocketDiagnostics.established(on: server.address).allSatisfy { $0.bytesReceived == 3 })
        let sorted = times.sorted()
        print("SocketDiagnostics: 1000 connections in \(sorted[0]) (fastest), \(sorted[sorted.count / 2]) (median), \(sorted.last!) (slowest) of 10")
    }
}

/// The reply parser on datagrams built by hand with the kernel's layout.
@Suite struct SocketDiagnosticsParsingTests {
    let local = SocketAddress(ip: .v4(127, 0, 0, 1), port: 8080)
    let peer = SocketAddress(ip: .v4(127, 0, 0, 9), port: 40000)

    func parse(_ bytes: [UInt8], sequence: UInt32 = 7) throws -> (connections: [EstablishedConnection], done: Bool) {
        var connections: [EstablishedConnection] = []
        let done = try bytes.withUnsafeBytes { raw in
            try SocketDiagnostics.parse(raw, sequence: sequence, into: &connections)
        }
        return (connections, done)
    }

    @Test func socketsThenDone() throws {
        let v6 = SocketAddress(ip: IPAddress(parsing: "fe80::1")!, port: 22, scopeID: 3)
        let bytes = netlinkMessage(diagMessage(local: local, peer: peer, inode: 42, received: 1234, acked: 5678))
            + netlinkMessage(diagMessage(local: v6, peer: SocketAddress(ip: IPAddress(parsing: "fe80::2")!, port: 5, scopeID: 3), interface: 3))
            + netlinkMessage(diagMessage(local: local, peer: peer, state: 10))  // LISTEN: not listed
            + netlinkMessage(diagMessage(local: local, peer: peer), sequence: 6)  // another request's
            + netlinkMessage(int32(0), type: UInt16(cp_nlmsg_done))
        let (connections, done) = try parse(bytes)
        #expect(done)
        #expect(connections == [
            EstablishedConnection(local: local, peer: peer, inode: 42, bytesReceived: 1234, bytesSent: 5678),
            EstablishedConnection(local: v6, peer: SocketAddress(ip: IPAddress(parsing: "fe80::2")!, port: 5, scopeID: 3),
                                  inode: 0, bytesReceived: 0, bytesSent: 0),
        ])
    }

    @Test func aDatagramWithoutDoneAsksForMore() throws {
        let (connections, done) = try parse(netlinkMessage(diagMessage(local: local, peer: peer)))
        #expect(connections.count == 1 && !done)
        #expect(try parse([]).done == false)
    }

    @Test func theKernelsErrorsNameNetlink() {
        #expect(throws: SystemError("netlink(sock_diag)", errno: EPERM)) {
            try parse(netlinkMessage(int32(-EPERM) + [UInt8](repeating: 0, count: 16), type: UInt16(cp_nlmsg_error)))
        }
        #expect(throws: SystemError("netlink(sock_diag)", errno: ENOBUFS)) {
            try parse(netlinkMessage(int32(-ENOBUFS), type: UInt16(cp_nlmsg_done)))
        }
        #expect(SystemError("netlink(sock_diag)", errno: EPERM).description == "netlink(sock_diag): Operation not permitted (errno: 1)")
        // An acknowledgement (error 0) is not an error.
        #expect(throws: Never.self) { try parse(netlinkMessage(int32(0) + [UInt8](repeating: 0, count: 16), type: UInt16(cp_nlmsg_error))) }
    }

    @Test func aShortTcpInfoLeavesTheCountsAtZero() throws {
        let message = diagMessage(local: local, peer: peer, received: 1, acked: 2, infoSize: Int(cp_tcpi_bytes_acked) + 4)
        #expect(try parse(netlinkMessage(message)).connections.first?.bytesSent == 0)
    }

    @Test func everyCutIsBadOrWholeMessagesNeverATrap() throws {
        let bytes = netlinkMessage(diagMessage(local: local, peer: peer, received: 10, acked: 20))
            + netlinkMessage(diagMessage(local: local, peer: peer, received: 30, acked: 40))
            + netlinkMessage(int32(0), type: UInt16(cp_nlmsg_done))
        let boundaries = Set([0, bytes.count] + [1, 2].map { netlinkMessage(diagMessage(local: local, peer: peer)).count * $0 })
        for cut in 0..<bytes.count {
            do {
                let result = try parse(Array(bytes[0..<cut]))
                #expect(boundaries.contains(cut), "cut at \(cut) parsed as \(result)")
            } catch {
                #expect(error as? SystemError == SystemError("netlink(sock_diag)", errno: EBADMSG))
            }
        }
    }

    @Test func everyCorruptedByteIsHandledNeverATrap() {
        let bytes = netlinkMessage(diagMessage(local: local, peer: peer, received: 10, acked: 20))
            + netlinkMessage(int32(0), type: UInt16(cp_nlmsg_done))
        for index in bytes.indices {
            for value: UInt8 in [0, 1, 3, 0x7F, 0x80, 0xFF] {
                var corrupted = bytes
                corrupted[index] = value
                _ = try? parse(corrupted)  // any outcome but a trap
            }
        }
        // Lengths that point past the end, or below a header, are bad messages.
        for length: UInt32 in [0, 1, 15, UInt32(bytes.count) + 1, .max] {
            var corrupted = bytes
            withUnsafeBytes(of: length) { corrupted.replaceSubrange(0..<4, with: $0) }
            #expect(throws: SystemError("netlink(sock_diag)", errno: EBADMSG)) { try parse(corrupted) }
        }
    }

    /// An nlmsghdr around `payload`, padded to 4 bytes.
    func netlinkMessage(_ payload: [UInt8], type: UInt16 = UInt16(cp_sock_diag_by_family), sequence: UInt32 = 7) -> [UInt8] {
        let length = Int(cp_nlmsg_header_size) + payload.count
        var bytes = uint32(UInt32(length)) + uint16(type) + uint16(2) + uint32(sequence) + uint32(0)
        bytes += [UInt8](repeating: 0, count: Int(cp_nlmsg_header_size) - 16) + payload
        return bytes + [UInt8](repeating: 0, count: (4 - length % 4) % 4)
    }

    /// An inet_diag_msg, then an INET_DIAG_INFO attribute with a tcp_info of `infoSize` bytes.
    func diagMessage(local: SocketAddress, peer: SocketAddress, state: UInt8 = 1, inode: UInt32 = 0, interface: UInt32 = 0,
                     received: UInt64 = 0, acked: UInt64 = 0, infoSize: Int = 256) -> [UInt8] {
        var message = [UInt8](repeating: 0, count: Int(cp_inet_diag_msg_size))
        func put(_ bytes: [UInt8], at offset: UInt32) { message.replaceSubrange(Int(offset)..<(Int(offset) + bytes.count), with: bytes) }
        func address(_ ip: IPAddress) -> [UInt8] {
            switch ip {
            case .v4(let value): return withUnsafeBytes(of: value.bigEndian) { Array($0) }
            case .v6(let value): return withUnsafeBytes(of: value.bigEndian) { Array($0) }
            }
        }
        message[Int(cp_inet_diag_msg_family)] = UInt8(local.ip.isIPv4 ? AF_INET : AF_INET6)
        message[Int(cp_inet_diag_msg_state)] = state
        put(withUnsafeBytes(of: local.port.bigEndian) { Array($0) }, at: cp_inet_diag_msg_sport)
        put(withUnsafeBytes(of: peer.port.bigEndian) { Array($0) }, at: cp_inet_diag_msg_dport)
        put(address(local.ip), at: cp_inet_diag_msg_src)
        put(address(peer.ip), at: cp_inet_diag_msg_dst)
        put(uint32(interface), at: cp_inet_diag_msg_if)
        put(uint32(inode), at: cp_inet_diag_msg_inode)
        var info = [UInt8](repeating: 0, count: max(infoSize, Int(cp_tcpi_bytes_received) + 8))
        info.replaceSubrange(Int(cp_tcpi_bytes_received)..<(Int(cp_tcpi_bytes_received) + 8), with: withUnsafeBytes(of: received) { Array($0) })
        info.replaceSubrange(Int(cp_tcpi_bytes_acked)..<(Int(cp_tcpi_bytes_acked) + 8), with: withUnsafeBytes(of: acked) { Array($0) })
        info = Array(info.prefix(infoSize))
        let attribute = uint16(UInt16(4 + info.count)) + uint16(UInt16(cp_inet_diag_info)) + info
        return message + attribute + [UInt8](repeating: 0, count: (4 - attribute.count % 4) % 4)
    }

    func uint32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    func uint16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
    func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
}

/// A listener on `host`:0 with a bounded accept; closed on deinit.
private final class TestListener {
    let fd: Int32
    let address: SocketAddress

    init(_ host: String) throws {
        fd = try Socket.listen(on: SocketAddress(ip: try #require(IPAddress(parsing: host)), port: 0))
        address = try Socket.localAddress(fd)
    }

    deinit { close(fd) }

    /// Accepts `count` connections within `timeout` seconds.
    func accept(_ count: Int, timeout: Double = 10) throws -> [(fd: Int32, peer: SocketAddress)] {
        let deadline = Date().addingTimeInterval(timeout)
        var accepted: [(fd: Int32, peer: SocketAddress)] = []
        while accepted.count < count {
            var peer: SocketAddress?
            if let connection = try Socket.accept(fd, peer: &peer) {
                accepted.append((connection, try #require(peer)))
                continue
            }
            guard Date() < deadline else {
                accepted.forEach { close($0.fd) }
                throw TestFailure("accepted \(accepted.count) of \(count)")
            }
            _ = Poll.wait(fd, for: .readable, timeoutMillis: 100)
        }
        return accepted
    }
}

/// Writes all of `bytes` to a non-blocking socket within `timeout` seconds.
private func writeAll(_ fd: Int32, _ bytes: [UInt8], timeout: Double = 5) throws {
    let deadline = Date().addingTimeInterval(timeout)
    var offset = 0
    while offset < bytes.count {
        switch try bytes[offset...].withUnsafeBytes({ (raw) throws(SystemError) in try Syscall.write(fd, raw.baseAddress!, raw.count) }) {
        case .done(let count): offset += count
        case .wouldBlock:
            guard Date() < deadline else { throw TestFailure("wrote \(offset) of \(bytes.count)") }
            _ = Poll.wait(fd, for: .writable, timeoutMillis: 100)
        }
    }
}

/// Reads exactly `count` bytes from a non-blocking socket within `timeout` seconds.
private func readExactly(_ fd: Int32, _ count: Int, timeout: Double = 5) throws -> [UInt8] {
    let deadline = Date().addingTimeInterval(timeout)
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while result.count < count {
        switch try buffer.withUnsafeMutableBytes({ (raw) throws(SystemError) in try Syscall.read(fd, raw.baseAddress!, min(raw.count, count - result.count)) }) {
        case .done(0): throw TestFailure("end of stream after \(result.count) of \(count)")
        case .done(let n): result += buffer[0..<n]
        case .wouldBlock:
            guard Date() < deadline else { throw TestFailure("read \(result.count) of \(count)") }
            _ = Poll.wait(fd, for: .readable, timeoutMillis: 100)
        }
    }
    return result
}

private func inode(of fd: Int32) -> UInt32 {
    var status = stat()
    guard fstat(fd, &status) == 0 else { return 0 }
    return UInt32(truncatingIfNeeded: status.st_ino)
}
