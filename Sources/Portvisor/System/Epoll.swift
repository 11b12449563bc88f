// epoll(7) and eventfd(2) behind a small type: register descriptors with a 64-bit token,
// wait for a batch of events, and wake a waiting thread from another thread.
import CPortvisor
import Glibc

/// Readiness bits, as epoll reports them.
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: CP_EPOLLIN)
    public static let writable = IOEvents(rawValue: CP_EPOLLOUT)
    public static let error = IOEvents(rawValue: CP_EPOLLERR)
    public static let hangup = IOEvents(rawValue: CP_EPOLLHUP)
    /// Reported once, then disabled until `modify` re-arms it (EPOLLONESHOT). A disabled entry
    /// stays harmless when copies of the descriptor outlive the close (a child that has not yet
    /// exec'd holds a copy of every descriptor, and epoll forgets an entry only when the last
    /// copy is closed).
    public static let oneShot = IOEvents(rawValue: CP_EPOLLONESHOT)
}

/// One epoll instance and its event buffer. Owned by one thread; not Sendable on purpose.
public final class Epoll {
    public let fd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    public let capacity: Int

    public init(capacity: Int = 256) throws(SystemError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        if fd < 0 { throw SystemError("epoll_create1", errno: cp_errno()) }
        self.fd = fd
        self.capacity = capacity
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        Syscall.close(fd)
    }

    public func add(_ descriptor: Int32, _ interest: IOEvents, token: UInt64) throws(SystemError) {
        _ = try Syscall.retrying("epoll_ctl(ADD)") { cp_epoll_ctl(fd, EPOLL_CTL_ADD, descriptor, interest.rawValue, token) }
    }

    public func modify(_ descriptor: Int32, _ interest: IOEvents, token: UInt64) throws(SystemError) {
        _ = try Syscall.retrying("epoll_ctl(MOD)") { cp_epoll_ctl(fd, EPOLL_CTL_MOD, descriptor, interest.rawValue, token) }
    }

    /// Removes `descriptor`; errors are ignored (closing a descriptor removes it anyway).
    public func remove(_ descriptor: Int32) {
        _ = cp_epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, 0, 0)
    }

    /// Waits up to `timeoutMillis` (-1: forever) and returns how many events are ready.
    /// EINTR returns 0, so the caller re-checks its timers.
    public func wait(timeoutMillis: Int32) throws(SystemError) -> Int {
        let count = cp_epoll_wait(fd, events, Int32(capacity), timeoutMillis)
        if count >= 0 { return Int(count) }
        let code = cp_errno()
        if code == EINTR { return 0 }
        throw SystemError("epoll_wait", errno: code)
    }

    @inline(__always) public func token(at index: Int) -> UInt64 { cp_epoll_event_token(events, Int32(index)) }
    @inline(__always) public func events(at index: Int) -> IOEvents { IOEvents(rawValue: cp_epoll_event_events(events, Int32(index))) }
}

/// An eventfd used to wake a loop from other threads. `signal` is safe from any thread.
public final class EventFD: Sendable {
    public let fd: Int32

    public init() throws(SystemError) {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        if fd < 0 { throw SystemError("eventfd", errno: cp_errno()) }
        self.fd = fd
    }

    deinit { Syscall.close(fd) }

    /// Makes the descriptor readable (the counter cannot overflow in practice: it is drained).
    public func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    /// Resets the counter to zero.
    public func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
    }
}
