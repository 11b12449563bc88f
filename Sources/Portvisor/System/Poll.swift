// poll(2) for the few blocking clients (status, connect, the HTTP client): wait for one or two
// descriptors with a bound. Event loops use Epoll instead.
import Glibc

public enum Poll {
    /// Waits up to `timeoutMillis` (-1: forever) until one of `fds` has one of its `events`;
    /// returns what each reported (empty when the time ran out or a signal interrupted).
    public static func wait(_ fds: [(fd: Int32, events: IOEvents)], timeoutMillis: Int32) throws(SystemError) -> [IOEvents] {
        var pollers = fds.map { pollfd(fd: $0.fd, events: Int16(truncatingIfNeeded: Int32(bitPattern: Self.pollBits(of: $0.events))), revents: 0) }
        let ready = Glibc.poll(&pollers, nfds_t(pollers.count), timeoutMillis)
        if ready < 0 {
            let code = errno
            if code == EINTR { return [] }
            throw SystemError("poll", errno: code)
        }
        guard ready > 0 else { return [] }
        return pollers.map { Self.events(ofPollBits: UInt32(UInt16(bitPattern: $0.revents))) }
    }

    /// Waits for one descriptor; true when it reported something.
    public static func wait(_ fd: Int32, for events: IOEvents, timeoutMillis: Int32) -> Bool {
        (try? wait([(fd, events)], timeoutMillis: timeoutMillis))?.first.map { !$0.isEmpty } ?? false
    }

    private static func pollBits(of events: IOEvents) -> UInt32 {
        var bits: Int32 = 0
        if events.contains(.readable) { bits |= Int32(POLLIN) }
        if events.contains(.writable) { bits |= Int32(POLLOUT) }
        return UInt32(bitPattern: bits)
    }

    private static func events(ofPollBits bits: UInt32) -> IOEvents {
        var events: IOEvents = []
        let bits = Int32(bitPattern: bits)
        if bits & Int32(POLLIN) != 0 { events.insert(.readable) }
        if bits & Int32(POLLOUT) != 0 { events.insert(.writable) }
        if bits & Int32(POLLERR) != 0 { events.insert(.error) }
        if bits & Int32(POLLHUP) != 0 { events.insert(.hangup) }
        return events
    }
}
