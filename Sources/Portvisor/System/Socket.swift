// Socket calls: TCP listeners (non-blocking, close-on-exec, SO_REUSEADDR), UDP sockets (without
// SO_REUSEADDR, so no other socket can share their address), accept4, connect, datagrams,
// shutdown, the options Portvisor uses, and sd_notify's Unix datagrams. Each failure is a
// SystemError naming the call.
import CPortvisor
import Glibc

public enum Socket {
    /// The accept backlog for listeners (the kernel caps it at net.core.somaxconn).
    public static let defaultBacklog: Int32 = 4096

    /// Creates, binds and listens a TCP socket. IPv6 listeners on `::` accept IPv4 too
    /// (IPV6_V6ONLY is set to 0 explicitly); other IPv6 addresses are IPv6-only.
    public static func listen(on address: SocketAddress, backlog: Int32 = defaultBacklog) throws(SystemError) -> Int32 {
        let fd = socket(address.family, CP_SOCK_STREAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket", errno: cp_errno()) }
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, name: "setsockopt(SO_REUSEADDR)")
            if case .v6(let value) = address.ip {
                try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, value == 0 ? 0 : 1, name: "setsockopt(IPV6_V6ONLY)")
            }
            try address.withSockAddr { (pointer, length) throws(SystemError) in
                _ = try Syscall.retrying("bind") { Glibc.bind(fd, pointer, length) }
            }
            _ = try Syscall.retrying("listen") { Glibc.listen(fd, backlog) }
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// Creates and binds a UDP socket (non-blocking, close-on-exec; IPv6 as for `listen`).
    /// Without SO_REUSEADDR: on Linux it would let any other socket that sets it, of any user,
    /// bind the same address and port and take a share of the datagrams.
    public static func bindDatagram(on address: SocketAddress) throws(SystemError) -> Int32 {
        let fd = socket(address.family, CP_SOCK_DGRAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket", errno: cp_errno()) }
        do throws(SystemError) {
            if case .v6(let value) = address.ip {
                try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, value == 0 ? 0 : 1, name: "setsockopt(IPV6_V6ONLY)")
            }
            try address.withSockAddr { (pointer, length) throws(SystemError) in
                _ = try Syscall.retrying("bind") { Glibc.bind(fd, pointer, length) }
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// Receives one datagram into `buffer`; nil when none is waiting.
    @inline(__always)
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawPointer, capacity: Int) throws(SystemError) -> (count: Int, from: SocketAddress?)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let count = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer, capacity, 0, $0, &length) }
            }
            if count >= 0 {
                return (count, withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) })
            }
            let code = cp_errno()
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError("recvfrom", errno: code)
        }
    }

    /// Sends one datagram to `address`.
    @inline(__always)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, count: Int, to address: SocketAddress) throws(SystemError) -> IOResult {
        try address.withSockAddr { (pointer, length) throws(SystemError) -> IOResult in
            try Syscall.nonBlocking("sendto") { Glibc.sendto(fd, buffer, count, 0, pointer, length) }
        }
    }

    /// Accepts one connection as non-blocking and close-on-exec; nil when none is waiting.
    @inline(__always)
    public static func accept(_ listener: Int32, peer: inout SocketAddress?) throws(SystemError) -> Int32? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { cp_accept4(listener, $0, &length, CP_SOCK_NONBLOCK_CLOEXEC) }
            }
            if fd >= 0 {
                peer = withUnsafeBytes(of: &storage) { SocketAddress(storage: $0.baseAddress!) }
                return fd
            }
            let code = cp_errno()
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError("accept4", errno: code)
        }
    }

    /// The address a socket is bound to (getsockname).
    public static func localAddress(_ fd: Int32) throws(SystemError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if result != 0 { throw SystemError("getsockname", errno: cp_errno()) }
        guard let address = withUnsafeBytes(of: &storage, { SocketAddress(storage: $0.baseAddress!) }) else {
            throw SystemError("getsockname", errno: EAFNOSUPPORT)
        }
        return address
    }

    /// The pending error of a socket (SO_ERROR), 0 when none.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return cp_errno() }
        return value
    }

    /// SO_TYPE of `fd` (CP_SOCK_STREAM, CP_SOCK_DGRAM, …), or -1 when it is not a socket.
    public static func socketType(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) == 0 else { return -1 }
        return value
    }

    /// Whether `fd` is a listening stream socket (SO_ACCEPTCONN and SO_TYPE).
    public static func isListeningStream(_ fd: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) == 0, value == CP_SOCK_STREAM else { return false }
        length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 else { return false }
        return value == 1
    }

    /// shutdown(2) of the write side: the peer reads end of file.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: Int32, name: String) throws(SystemError) {
        var value = value
        if setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw SystemError(name, errno: cp_errno())
        }
    }

    /// Sets O_NONBLOCK on or off.
    public static func setNonBlocking(_ fd: Int32, _ on: Bool) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }

    /// Starts connecting a new non-blocking, close-on-exec TCP socket to `address` without
    /// waiting. `connected` is false while the handshake is in progress: the socket turns writable
    /// when it ends, and `pendingError` tells how. Immediate failures (say `connect: Connection
    /// refused`) are thrown, with the socket closed. `noDelay` sets TCP_NODELAY first.
    public static func startConnect(to address: SocketAddress, noDelay: Bool) throws(SystemError) -> (fd: Int32, connected: Bool) {
        let fd = socket(address.family, CP_SOCK_STREAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket", errno: cp_errno()) }
        do throws(SystemError) {
            if noDelay { try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, name: "setsockopt(TCP_NODELAY)") }
            let connected = try address.withSockAddr { (pointer, length) throws(SystemError) -> Bool in
                if Glibc.connect(fd, pointer, length) == 0 { return true }
                let code = cp_errno()
                // EINTR: the handshake goes on in the background, as with EINPROGRESS.
                if code == EINPROGRESS || code == EINTR { return false }
                throw SystemError("connect", errno: code)
            }
            return (fd, connected)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// Connects a new non-blocking TCP socket to `address`, waiting at most `timeout` seconds,
    /// optionally from the local address `source` (port 0: any). Returns the connected
    /// descriptor (non-blocking, close-on-exec).
    public static func connect(to address: SocketAddress, timeout: Double, from source: SocketAddress? = nil) throws(SystemError) -> Int32 {
        let fd = socket(address.family, CP_SOCK_STREAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket", errno: cp_errno()) }
        do throws(SystemError) {
            if let source {
                try source.withSockAddr { (pointer, length) throws(SystemError) in
                    _ = try Syscall.retrying("bind") { Glibc.bind(fd, pointer, length) }
                }
            }
            let started = try address.withSockAddr { (pointer, length) throws(SystemError) -> Bool in
                let result = Glibc.connect(fd, pointer, length)
                if result == 0 { return true }
                let code = cp_errno()
                if code == EINPROGRESS || code == EINTR { return false }
                throw SystemError("connect", errno: code)
            }
            if !started {
                let deadline = Clock.monotonic() + Clock.nanos(timeout)
                while true {
                    let left = deadline - Clock.monotonic()
                    if left <= 0 { throw SystemError("connect", errno: ETIMEDOUT) }
                    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let ready = poll(&poller, 1, Int32(min((left + 999_999) / 1_000_000, 60_000)))
                    if ready < 0 && cp_errno() == EINTR { continue }
                    if ready < 0 { throw SystemError("poll", errno: cp_errno()) }
                    if ready == 0 { continue }
                    let error = pendingError(fd)
                    if error != 0 { throw SystemError("connect", errno: error) }
                    break
                }
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }
}

extension Socket {
    /// SO_TYPE values: a stream (TCP) and a datagram (UDP) socket.
    public static let streamType = CP_SOCK_STREAM
    public static let datagramType = CP_SOCK_DGRAM

    /// A non-blocking, close-on-exec Unix datagram socket (for sd_notify).
    public static func unixDatagram() throws(SystemError) -> Int32 {
        let fd = socket(AF_UNIX, CP_SOCK_DGRAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket(AF_UNIX)", errno: cp_errno()) }
        return fd
    }

    /// Sends `bytes` as one datagram to the Unix socket at `path` (`@name`: the abstract
    /// namespace). Failures are returned, not thrown: the peer may be gone.
    @discardableResult
    public static func send(_ fd: Int32, _ bytes: [UInt8], toUnixPath path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        let abstract = pathBytes.first == UInt8(ascii: "@")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in pathBytes.enumerated() { raw[i] = byte }
            if abstract { raw[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1))
        let sent = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == bytes.count
    }

    /// TCP_NODELAY on: small writes go out at once (a proxy's round trips).
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sets close-on-exec on `fd` (a descriptor inherited from systemd).
    public static func setCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
}

extension Socket {
    /// The kernel's byte counts of a TCP socket (TCP_INFO): received, and sent and
    /// acknowledged. nil when the socket is gone.
    public static func kernelByteCounts(_ fd: Int32) -> (received: Int, sent: Int)? {
        var received: UInt64 = 0, sent: UInt64 = 0
        guard cp_tcp_bytes(fd, &received, &sent) == 0 else { return nil }
        return (Int(clamping: received), Int(clamping: sent))
    }
}
