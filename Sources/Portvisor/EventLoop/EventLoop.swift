// One event loop per thread: epoll for readiness, a TimerQueue for deadlines, and an eventfd
// through which other threads wake it (after posting to a Mailbox). The loop calls back into
// the EventHandler that owns it; everything here runs on that one thread.
import Synchronization

/// The owner of a loop: a service worker, the status server, or the supervisor.
public protocol EventHandler: AnyObject {
    /// A registered descriptor is ready.
    func handleEvent(token: UInt64, events: IOEvents)
    /// `owner`'s deadline in `loop.timers` has passed.
    func handleTimer(owner: Int)
    /// Another thread called `wake()` (usually after posting to a mailbox).
    func handleWakeup()
}

/// Loop-thread only, except `wake()`, which any thread may call (through `waker`).
public final class EventLoop {
    /// The token reserved for the loop's own eventfd.
    public static let wakeupToken = UInt64.max

    public let epoll: Epoll
    /// Shared with other threads so they can wake this loop.
    public let waker: EventFD
    public var timers = TimerQueue()
    /// The monotonic time at the last return from epoll_wait.
    public private(set) var now: MonotonicNanos
    private var running = true

    public init() throws(SystemError) {
        epoll = try Epoll()
        waker = try EventFD()
        now = Clock.monotonic()
        try epoll.add(waker.fd, .readable, token: Self.wakeupToken)
    }

    /// Makes `run` return after the current iteration.
    public func stop() { running = false }

    /// Refreshes `now` (after slow work within one iteration).
    public func refreshNow() { now = Clock.monotonic() }

    /// Runs until `stop()`: waits for events or the next deadline, then dispatches both.
    public func run<Handler: EventHandler>(_ handler: Handler) throws(SystemError) {
        while running {
            let count = try epoll.wait(timeoutMillis: timeoutMillis())
            now = Clock.monotonic()
            for index in 0..<count {
                let token = epoll.token(at: index)
                if token == Self.wakeupToken {
                    waker.drain()
                    handler.handleWakeup()
                } else {
                    handler.handleEvent(token: token, events: epoll.events(at: index))
                }
            }
            while let owner = timers.popExpired(now: now) {
                handler.handleTimer(owner: owner)
            }
        }
    }

    /// Milliseconds until the next deadline, rounded up so the loop never wakes early and spins.
    private func timeoutMillis() -> Int32 {
        guard let deadline = timers.nextDeadline else { return -1 }
        let left = deadline - Clock.monotonic()
        if left <= 0 { return 0 }
        return Int32(min((left + 999_999) / 1_000_000, 3_600_000))
    }
}

/// Messages from other threads to a loop: a locked array plus a wakeup.
public final class Mailbox<Message: Sendable>: Sendable {
    private let messages = Locked<[Message]>([])
    private let waker: EventFD

    public init(waking waker: EventFD) { self.waker = waker }

    /// Queues `message` and wakes the loop. Safe from any thread.
    public func post(_ message: Message) {
        messages.withLock { $0.append(message) }
        waker.signal()
    }

    /// Takes every queued message, oldest first. Loop-thread only.
    public func takeAll() -> [Message] {
        messages.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
    }
}
