// The kernel's own list of the established TCP connections on a local address, with each
// socket's byte counts (NETLINK_SOCK_DIAG, inet_diag): what a `daemon`'s status shows as `live`,
// since the program, not Portvisor, accepts and moves the bytes.
import CPortvisor
import Glibc

/// One established TCP connection as the kernel reports it.
public struct EstablishedConnection: Sendable, Equatable {
    /// The connection's local address (the listener's port; an IPv4 client of a `::` listener
    /// shows as an IPv4-mapped address, printed as IPv4, as `accept` reports it).
    public var local: SocketAddress
    /// The remote end.
    public var peer: SocketAddress
    /// The socket's inode (`socket:[INODE]` in /proc/PID/fd); 0 while it waits to be accepted.
    public var inode: UInt32
    /// Bytes received from the peer (tcp_info's tcpi_bytes_received).
    public var bytesReceived: Int
    /// Bytes sent and acknowledged by the peer (tcpi_bytes_acked).
    public var bytesSent: Int

    public init(local: SocketAddress, peer: SocketAddress, inode: UInt32, bytesReceived: Int, bytesSent: Int) {
        self.local = local
        self.peer = peer
        self.inode = inode
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
    }
}

public enum SocketDiagnostics {
    /// The ESTABLISHED TCP sockets whose local address is `local`, in the kernel's order. A
    /// wildcard address (`0.0.0.0`, `::`) matches every local address with its port; `::` also
    /// matches IPv4 sockets, since Portvisor's `::` listeners accept IPv4. Connections still in
    /// the accept queue are listed (inode 0). Waits at most `timeout` seconds for the kernel;
    /// failures name the call, and the kernel's errors and malformed replies
    /// `netlink(sock_diag)`.
    public static func established(on local: SocketAddress, timeout: Double = 1) throws(SystemError) -> [EstablishedConnection] {
        let deadline = Clock.monotonic() + Clock.nanos(timeout)
        let fd = cp_sock_diag_open()
        if fd < 0 { throw SystemError("socket(NETLINK_SOCK_DIAG)", errno: cp_errno()) }
        defer { Syscall.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: receiveSize, alignment: 8)
        defer { buffer.deallocate() }
        var found: [EstablishedConnection] = []
        var sequence: UInt32 = 0
        for family in families(for: local.ip) {
            sequence += 1
            if cp_sock_diag_request(fd, UInt8(family), local.port, sequence) != 0 {
                throw SystemError("sendto(sock_diag)", errno: cp_errno())
            }
            var connections: [EstablishedConnection] = []
            var done = false
            while !done {
                let count = try receive(fd, into: buffer, until: deadline)
                done = try parse(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), sequence: sequence, into: &connections)
            }
            found += connections.filter { matches($0.local, local) }
        }
        return found
    }

    /// Bigger than any datagram the kernel builds for a dump (at most 32 KiB).
    static let receiveSize = 64 << 10

    /// The address families to ask for.
    static func families(for ip: IPAddress) -> [Int32] {
        switch ip {
        case .v4: return [AF_INET]
        case .v6(let value):
            // `::` takes IPv4 too; a v4-mapped address may be either family's socket.
            return value == 0 || ip.unmapped.isIPv4 ? [AF_INET6, AF_INET] : [AF_INET6]
        }
    }

    /// Whether a socket's local address is `wanted` (the port, and the address unless wildcard).
    static func matches(_ socket: SocketAddress, _ wanted: SocketAddress) -> Bool {
        guard socket.port == wanted.port else { return false }
        if wanted.ip == .anyV4 { return socket.ip.unmapped.isIPv4 }
        return wanted.ip == .anyV6 || socket.ip.unmapped == wanted.ip.unmapped
    }

    /// One datagram into `buffer`, waiting until `deadline`; its length.
    private static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, until deadline: MonotonicNanos) throws(SystemError) -> Int {
        while true {
            // MSG_TRUNC: the datagram's real length, so a cut one is seen, not parsed.
            let count = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC))
            if count > buffer.count { throw SystemError("netlink(sock_diag)", errno: EMSGSIZE) }
            if count >= 0 { return count }
            let code = cp_errno()
            if code == EINTR { continue }
            guard code == EAGAIN || code == EWOULDBLOCK else { throw SystemError("recv(sock_diag)", errno: code) }
            let left = deadline - Clock.monotonic()
            if left <= 0 { throw SystemError("netlink(sock_diag)", errno: ETIMEDOUT) }
            _ = Poll.wait(fd, for: .readable, timeoutMillis: Int32(min((left + 999_999) / 1_000_000, 60_000)))
        }
    }
}

extension SocketDiagnostics {
    /// The layout of the kernel's replies, read once from the C target (the kernel's headers).
    struct Layout: Sendable {
        let header = Int(cp_nlmsg_header_size), messageAlign = Int(cp_nlmsg_align)
        let error = UInt16(cp_nlmsg_error), done = UInt16(cp_nlmsg_done), byFamily = UInt16(cp_sock_diag_by_family)
        let attributeHeader = Int(cp_nla_header_size), attributeAlign = Int(cp_nla_align)
        let attributeTypeMask = UInt16(cp_nla_type_mask), info = UInt16(cp_inet_diag_info)
        let diagSize = Int(cp_inet_diag_msg_size), family = Int(cp_inet_diag_msg_family)
        let state = Int(cp_inet_diag_msg_state), established = UInt8(cp_tcp_established)
        let sourcePort = Int(cp_inet_diag_msg_sport), destinationPort = Int(cp_inet_diag_msg_dport)
        let source = Int(cp_inet_diag_msg_src), destination = Int(cp_inet_diag_msg_dst)
        let interface = Int(cp_inet_diag_msg_if), inode = Int(cp_inet_diag_msg_inode)
        let bytesAcked = Int(cp_tcpi_bytes_acked), bytesReceived = Int(cp_tcpi_bytes_received)
    }

    static let layout = Layout()

    /// Parses one datagram of a dump reply, appending its ESTABLISHED sockets of `sequence`;
    /// true once NLMSG_DONE arrived. Every length is checked against what is there: a short or
    /// inconsistent message is `netlink(sock_diag): Bad message`, never a read out of range.
    static func parse(_ bytes: UnsafeRawBufferPointer, sequence: UInt32, into connections: inout [EstablishedConnection]) throws(SystemError) -> Bool {
        let layout = layout
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= layout.header else { throw malformed }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let messageSequence = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            guard length >= layout.header, length <= bytes.count - offset else { throw malformed }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + layout.header)..<(offset + length)])
            offset += min(align(length, layout.messageAlign), bytes.count - offset)
            guard messageSequence == sequence else { continue }  // not an answer to this request
            switch type {
            case layout.done:
                // A dump that failed part way ends with a negative errno here.
                let code = payload.count >= 4 ? payload.loadUnaligned(as: Int32.self) : 0
                if code < 0 { throw failure(code) }
                return true
            case layout.error:
                guard payload.count >= 4 else { throw malformed }
                let code = payload.loadUnaligned(as: Int32.self)
                if code < 0 { throw failure(code) }
            case layout.byFamily:
                if let connection = try connection(in: payload, layout) { connections.append(connection) }
            default:
                continue
            }
        }
        return false
    }

    /// One inet_diag_msg and its attributes; nil for a socket not ESTABLISHED or of another family.
    private static func connection(in message: UnsafeRawBufferPointer, _ layout: Layout) throws(SystemError) -> EstablishedConnection? {
        guard message.count >= layout.diagSize else { throw malformed }
        let family = Int32(message[layout.family])
        guard message[layout.state] == layout.established, family == AF_INET || family == AF_INET6 else { return nil }
        let interface = message.loadUnaligned(fromByteOffset: layout.interface, as: UInt32.self)
        func address(_ at: Int, port portOffset: Int) -> SocketAddress {
            let port = UInt16(bigEndian: message.loadUnaligned(fromByteOffset: portOffset, as: UInt16.self))
            if family == AF_INET {
                return SocketAddress(ip: .v4(UInt32(bigEndian: message.loadUnaligned(fromByteOffset: at, as: UInt32.self))), port: port)
            }
            let value = UInt128(bigEndian: message.loadUnaligned(fromByteOffset: at, as: UInt128.self))
            // Like accept's sin6_scope_id: only a link-local address (fe80::/10) carries one.
            return SocketAddress(ip: .v6(value), port: port, scopeID: value >> 118 == 0x3FA ? interface : 0)
        }
        var connection = EstablishedConnection(
            local: address(layout.source, port: layout.sourcePort), peer: address(layout.destination, port: layout.destinationPort),
            inode: message.loadUnaligned(fromByteOffset: layout.inode, as: UInt32.self), bytesReceived: 0, bytesSent: 0)
        var offset = align(layout.diagSize, layout.messageAlign)
        while offset < message.count {
            guard message.count - offset >= layout.attributeHeader else { throw malformed }
            let length = Int(message.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = message.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & layout.attributeTypeMask
            guard length >= layout.attributeHeader, length <= message.count - offset else { throw malformed }
            if type == layout.info {
                // A tcp_info from a kernel older than the counters (4.1, 4.2) is shorter: they stay 0.
                let info = UnsafeRawBufferPointer(rebasing: message[(offset + layout.attributeHeader)..<(offset + length)])
                if info.count >= layout.bytesReceived + 8 {
                    connection.bytesReceived = Int(clamping: info.loadUnaligned(fromByteOffset: layout.bytesReceived, as: UInt64.self))
                }
                if info.count >= layout.bytesAcked + 8 {
                    connection.bytesSent = Int(clamping: info.loadUnaligned(fromByteOffset: layout.bytesAcked, as: UInt64.self))
                }
            }
            offset += min(align(length, layout.attributeAlign), message.count - offset)
        }
        return connection
    }

    private static var malformed: SystemError { SystemError("netlink(sock_diag)", errno: EBADMSG) }

    /// The kernel's negative errno as an error.
    private static func failure(_ code: Int32) -> SystemError {
        SystemError("netlink(sock_diag)", errno: code == Int32.min ? EPROTO : -code)
    }

    private static func align(_ length: Int, _ to: Int) -> Int { (length + to - 1) & ~(to - 1) }
}
