// Unix stream sockets by path, for the control socket: listen, connect with a deadline, accept,
// and the peer's credentials (SO_PEERCRED). Every descriptor is close-on-exec.
import CPortvisor
import Glibc

public enum UnixSocket {
    /// sun_path holds 108 bytes, the terminating NUL included.
    public static let maxPathBytes = 107

    /// The credentials the kernel recorded for the other end of a connected socket.
    public struct Credentials: Sendable, Equatable {
        public var pid: Int32
        public var uid: UInt32
        public var gid: UInt32
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SystemError) -> R {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maxPathBytes, !bytes.contains(0) else { throw SystemError("unix socket path", errno: ENAMETOOLONG) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// A non-blocking listening socket bound at `path` (which must not exist), mode `mode`.
    public static func listen(path: String, mode: mode_t = 0o600, backlog: Int32 = 16) throws(SystemError) -> Int32 {
        let fd = socket(AF_UNIX, CP_SOCK_STREAM_NONBLOCK_CLOEXEC, 0)
        if fd < 0 { throw SystemError("socket(AF_UNIX)", errno: cp_errno()) }
        do throws(SystemError) {
            let bound = try withAddress(path) { Glibc.bind(fd, $0, $1) }
            if bound != 0 { throw SystemError("bind(\(path))", errno: cp_errno()) }
            if chmod(path, mode) != 0 { throw SystemError("chmod(\(path))", errno: cp_errno()) }
            if Glibc.listen(fd, backlog) != 0 { throw SystemError("listen(\(path))", errno: cp_errno()) }
        } catch {
            Syscall.close(fd)
            throw error
        }
        return fd
    }

    /// Connects to the socket at `path`, waiting at most `timeout` seconds (a full backlog);
    /// returns a non-blocking descriptor.
    public static func connect(path: String, timeout: Double) throws(SystemError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemError("socket(AF_UNIX)", errno: cp_errno()) }
        do throws(SystemError) {
            let seconds = max(0.001, min(timeout, 3600))
            var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            while true {
                let result = try withAddress(path) { Glibc.connect(fd, $0, $1) }
                if result == 0 { break }
                let code = cp_errno()
                if code == EINTR { continue }
                throw SystemError("connect(\(path))", errno: code == EINPROGRESS || code == EAGAIN ? ETIMEDOUT : code)
            }
        } catch {
            Syscall.close(fd)
            throw error
        }
        Socket.setNonBlocking(fd, true)
        return fd
    }

    /// Accepts one connection (non-blocking, close-on-exec); nil when none is waiting.
    public static func accept(_ listener: Int32) throws(SystemError) -> Int32? {
        while true {
            let fd = cp_accept4(listener, nil, nil, CP_SOCK_NONBLOCK_CLOEXEC)
            if fd >= 0 { return fd }
            let code = cp_errno()
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SystemError("accept4(control)", errno: code)
        }
    }

    public static func peerCredentials(_ fd: Int32) -> Credentials? {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        guard cp_peer_credentials(fd, &pid, &uid, &gid) == 0 else { return nil }
        return Credentials(pid: pid, uid: uid, gid: gid)
    }
}
