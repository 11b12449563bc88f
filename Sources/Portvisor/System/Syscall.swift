// Every system call goes through here: EINTR is retried, EAGAIN becomes `.wouldBlock`,
// any other errno becomes a SystemError naming the call. Nothing above this layer reads errno.
import CPortvisor
import Glibc

/// The outcome of a non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    /// This many bytes moved (0 on a read means end of file).
    case done(Int)
    /// The descriptor is not ready (EAGAIN / EWOULDBLOCK).
    case wouldBlock
}

public enum Syscall {
    /// Runs `body` until it returns something other than -1 with EINTR; throws on any other error.
    @inline(__always)
    public static func retrying(_ call: StaticString, _ body: () -> Int32) throws(SystemError) -> Int32 {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = cp_errno()
            if code == EINTR { continue }
            throw SystemError("\(call)", errno: code)
        }
    }

    /// Like `retrying` but maps EAGAIN to `.wouldBlock`.
    @inline(__always)
    public static func nonBlocking(_ call: StaticString, _ body: () -> Int) throws(SystemError) -> IOResult {
        while true {
            let result = body()
            if result >= 0 { return .done(result) }
            let code = cp_errno()
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            // The name becomes a String only here: the success path allocates nothing.
            throw SystemError("\(call)", errno: code)
        }
    }

    /// read(2) into `buffer`.
    @inline(__always)
    public static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult {
        try nonBlocking("read") { Glibc.read(fd, buffer, count) }
    }

    /// write(2) from `buffer`. SIGPIPE is ignored process-wide, so a closed peer is EPIPE here.
    @inline(__always)
    public static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) throws(SystemError) -> IOResult {
        try nonBlocking("write") { Glibc.write(fd, buffer, count) }
    }

    /// A pipe, both ends close-on-exec; `nonBlocking` applies to both.
    public static func pipe(nonBlocking: Bool = false) throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
        if cp_pipe2(&fds, Int32(flags)) != 0 { throw SystemError("pipe2", errno: cp_errno()) }
        return (fds[0], fds[1])
    }

    /// close(2). On Linux the descriptor is gone even when close reports EINTR, so never retry.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Ends the process with `code` (after flushing nothing: Portvisor writes unbuffered).
    public static func exit(_ code: Int32) -> Never {
        Glibc.exit(code)
    }

    /// Ignores SIGPIPE for the whole process: writes to a closed socket fail with EPIPE instead.
    /// (A spawned child still gets SIGPIPE at its default: the spawner is told of the change.)
    public static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
        Spawner.dispositionsChanged()
    }

    /// Raises the soft limit on open descriptors to the hard limit; returns the limits in force.
    @discardableResult
    public static func raiseFileLimit() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return fileLimit() }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            // Failure leaves the old limit in force, which fileLimit() then reports.
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        return fileLimit()
    }

    /// The current value of a resource limit (soft, hard).
    public static func fileLimit() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }
}

extension Syscall {
    /// splice(2) of up to `count` bytes from `from` to `to` (one of them a pipe), without
    /// copying them through user space; non-blocking.
    @inline(__always)
    public static func splice(from: Int32, to: Int32, count: Int) throws(SystemError) -> IOResult {
        try nonBlocking("splice") { cp_splice(from, to, count) }
    }

    /// A non-blocking pipe of at least `size` bytes (its capacity is returned).
    public static func splicePipe(size: Int) throws(SystemError) -> (read: Int32, write: Int32, capacity: Int) {
        let fds = try pipe(nonBlocking: true)
        let capacity = cp_set_pipe_size(fds.write, Int32(clamping: size))
        return (fds.read, fds.write, capacity > 0 ? Int(capacity) : 65536)
    }
}
