// One event loop per thread: epoll for readiness, a TimerQueue for deadlines, and an eventfd
// through which other threads wake it (after posting to a Mailbox). The loop calls back into
// the EventHandler that owns it; everything here runs on that one thread.

/// The owner of a loop: a service worker, the status endpoint, or the supervisor.
public protocol EventHandler: AnyObject {
    /// A registered descriptor is ready.
    func handleEvent(token: UInt64, events: IOEvents)
    /// `owner`'s deadline in `loop.timers` has passed.
    func handleTimer(owner: Int)
    /// Another thread called `wake()` (usually after posting to a mailbox).
    func handleWakeup()
}

/// Loop-thread only, except `waker`, which any thread may signal.
public final class EventLoop {
    /// The token reserved for the loop's own eventfd.
    public static let wakeupToken = UInt64.max
    /// At most this many epoll batches back to back before timers run: when a batch comes back
    /// full, more descriptors may be ready, and after a stall (SIGSTOP, a frozen VM) every byte
    /// that arrived meanwhile is read before any deadline judges a connection idle.
    static let maxBatchesBeforeTimers = 64
    /// A turn of the loop that takes longer than this, or an epoll_wait that returns this much
    /// later than asked, means the whole process was stalled (SIGSTOP, a frozen VM, swapping).
    static let stallThreshold: MonotonicNanos = 250_000_000

    public let epoll: Epoll
    /// Shared with other threads so they can wake this loop.
    public let waker: EventFD
    public var timers = TimerQueue()
    /// The monotonic time at the last return from epoll_wait. Kept in memory the loop owns, so
    /// the hot path reads it without a runtime exclusivity check.
    private let clock: UnsafeMutablePointer<MonotonicNanos>
    private let flags: UnsafeMutablePointer<Bool>
    /// When the last stall ended (see `lastStall`).
    private let stall: UnsafeMutablePointer<MonotonicNanos>

    public init() throws(SystemError) {
        epoll = try Epoll()
        waker = try EventFD()
        clock = .allocate(capacity: 1)
        clock.initialize(to: Clock.monotonic())
        flags = .allocate(capacity: 1)
        flags.initialize(to: true)
        stall = .allocate(capacity: 1)
        stall.initialize(to: .min / 2)
        try epoll.add(waker.fd, .readable, token: Self.wakeupToken)
    }

    deinit {
        clock.deallocate()
        flags.deallocate()
        stall.deallocate()
    }

    @inline(__always) public var now: MonotonicNanos { clock.pointee }

    /// When the last stall of the whole process ended. Nobody was heard from while it lasted,
    /// so deadlines that judge a peer's silence (idle, a stalled write) count from here at the
    /// earliest: what the peer sent meanwhile may have been read with a clock from before.
    @inline(__always) public var lastStall: MonotonicNanos { stall.pointee }

    /// Makes `run` return after the current iteration.
    public func stop() { flags.pointee = false }

    /// Runs until `stop()`: waits for events or the next deadline, then dispatches both.
    /// Timers that are due are taken out as one batch before any of them runs, so a timer that
    /// re-arms itself for "now" waits for the next iteration: the loop always gets back to
    /// epoll_wait (and to signals and mailboxes) however short a deadline is.
    public func run<Handler: EventHandler>(_ handler: Handler) throws(SystemError) {
        var due: [Int] = []
        while flags.pointee {
            var timeout = timeoutMillis()
            var batches = 0
            while true {
                let asleep = Clock.monotonic()
                let count = try epoll.wait(timeoutMillis: timeout)
                clock.pointee = Clock.monotonic()
                if timeout >= 0 && clock.pointee - asleep > MonotonicNanos(timeout) * 1_000_000 + Self.stallThreshold {
                    stall.pointee = clock.pointee  // woke far later than asked: the process was stopped
                }
                for index in 0..<count {
                    let token = epoll.token(at: index)
                    if token == Self.wakeupToken {
                        waker.drain()
                        handler.handleWakeup()
                    } else {
                        handler.handleEvent(token: token, events: epoll.events(at: index))
                    }
                }
                batches += 1
                guard count == epoll.capacity, batches < Self.maxBatchesBeforeTimers, flags.pointee else { break }
                timeout = 0
            }
            // A turn that took far too long was stalled: deadlines must not judge by the time it
            // started, nor by timestamps taken during it.
            let after = Clock.monotonic()
            if after - clock.pointee > Self.stallThreshold {
                stall.pointee = after
                clock.pointee = after
            }
            let now = clock.pointee
            due.removeAll(keepingCapacity: true)
            while let owner = timers.popExpired(now: now) { due.append(owner) }
            for owner in due { handler.handleTimer(owner: owner) }
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
