// One bench thread: its own epoll loop over its share of the connections, all non-blocking.
// Setup (rr, stream, idle), the measured run, the periodic scan for retries and stalls, and the
// connection plumbing live here; what each mode does with a connection is in the extensions.
import Portvisor

/// Drives `count` connection slots on one thread. Owned by that thread from `run()` until the
/// runner joins it, then read by the runner alone.
final class BenchWorker: @unchecked Sendable {
    static let scratchSize = 256 << 10
    static let scanInterval: Int64 = 10_000_000          // retries and stalls are checked every 10 ms
    static let refusedBackoff: Int64 = 20_000_000        // a refused connect is retried after 20 ms
    static let failureBackoff: Int64 = 1_000_000         // other failures after 1 ms
    static let resourceBackoff: Int64 = 100_000_000      // no descriptor left: 100 ms

    let options: BenchOptions
    let pattern: BenchPattern
    let epoll: Epoll
    let connections: UnsafeMutablePointer<BenchConnection>
    let count: Int
    /// The index of slot 0 among all the run's connections (it picks the messages).
    let firstIndex: Int
    let scratch: UnsafeMutableRawPointer
    /// sentence: the acknowledgement's bytes.
    let ack: UnsafeMutableRawPointer
    let timeoutNanos: Int64
    /// Connects allowed in progress at once during setup.
    let pace: Int

    var counters = BenchCounters()
    var histogram = LatencyHistogram()
    /// The first system error seen, for the report ("connect: Connection refused (errno: 111)").
    private(set) var firstError: SystemError?

    var settingUp = false
    /// idle: the final proof after the hold is running.
    var proving = false
    var connectsInFlight = 0
    var window = BenchPhases.Window.over

    init(options: BenchOptions, pattern: BenchPattern, firstIndex: Int, count: Int, pace: Int) throws(SystemError) {
        self.options = options
        self.pattern = pattern
        self.firstIndex = firstIndex
        self.count = count
        self.pace = pace
        epoll = try Epoll(capacity: 1024)
        timeoutNanos = Clock.nanos(options.timeout)
        connections = .allocate(capacity: count)
        connections.initialize(repeating: BenchConnection(), count: count)
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 16)
        ack = .allocate(byteCount: max(options.ack.count, 1), alignment: 1)
        options.ack.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { ack.copyMemory(from: base, byteCount: bytes.count) }
        }
    }

    deinit {
        for i in 0..<count { close(i) }
        connections.deinitialize(count: count)
        connections.deallocate()
        scratch.deallocate()
        ack.deallocate()
    }

    // MARK: Phases

    /// The whole life of the worker: setup, the go from the runner, the run, (idle) the final proof.
    func run(_ phases: BenchPhases) {
        if options.mode.opensConnectionsFirst { setUp() }
        phases.finishedSetup()
        window = phases.awaitStart()
        var now = Clock.monotonic()
        for i in 0..<count {
            switch connections[i].state {
            case .ready: startMeasured(i, now: now)
            case .free where !options.mode.opensConnectionsFirst: open(i, now: now)
            default: break
            }
        }
        var lastScan = now
        while now < window.measureUntil {
            let left = (window.measureUntil - now + 999_999) / 1_000_000
            guard poll(timeoutMillis: Int32(min(left, 10)), now: &now) else { break }
            if now - lastScan >= Self.scanInterval && options.mode != .idle {
                scan(now: now)
                lastScan = now
            }
        }
        if options.mode == .idle { proveHeld() }
        for i in 0..<count { close(i) }
    }

    /// rr, stream, idle: open every connection (at most `pace` connects in progress) and, for rr
    /// and idle, prove each with one round trip, within BenchOptions.setupLimit.
    private func setUp() {
        settingUp = true
        var now = Clock.monotonic()
        let deadline = now + Clock.nanos(BenchOptions.setupLimit)
        var next = 0
        var lastScan = now
        while now < deadline {
            while next < count && connectsInFlight < pace {
                open(next, now: now)
                next += 1
            }
            if next == count && !setupPending() { break }
            guard poll(timeoutMillis: 10, now: &now) else { break }
            if now - lastScan >= Self.scanInterval {
                scan(now: now)
                lastScan = now
            }
        }
        // Whatever is still on its way did not make it in time: rr and stream try again once the
        // run starts, idle holds only what it has.
        for i in 0..<count {
            switch connections[i].state {
            case .free, .connecting, .roundTrip:
                counters.count(.timeout)
                close(i)
                connections[i].state = options.mode == .idle ? .done : .retry
                connections[i].retryAt = 0
            case .retry where options.mode == .idle:
                connections[i].state = .done
            default:
                break
            }
        }
        settingUp = false
        connectsInFlight = 0
    }

    private func setupPending() -> Bool {
        for i in 0..<count {
            switch connections[i].state {
            case .connecting, .roundTrip, .retry: return true
            default: continue
            }
        }
        return false
    }

    /// Starts the measured activity of a connected slot.
    private func startMeasured(_ i: Int, now: Int64) {
        switch options.mode {
        case .rr: beginRoundTrip(i, now: now)
        case .stream: beginStream(i, now: now)
        case .connect, .sentence, .idle: break
        }
    }

    // MARK: The loop

    /// Waits up to `timeoutMillis` for events and handles them; false when epoll itself failed
    /// (recorded), which ends the phase.
    @inline(__always)
    func poll(timeoutMillis: Int32, now: inout Int64) -> Bool {
        let ready: Int
        do {
            ready = try epoll.wait(timeoutMillis: max(timeoutMillis, 0))
        } catch {
            note(error)
            return false
        }
        now = Clock.monotonic()
        for k in 0..<ready {
            let token = epoll.token(at: k)
            let i = Int(token & 0xFFFF_FFFF)
            guard i < count, connections[i].isOpen, connections[i].generation == UInt32(token >> 32) else { continue }
            dispatch(i, epoll.events(at: k), now: now)
        }
        return true
    }

    private func dispatch(_ i: Int, _ events: IOEvents, now: Int64) {
        let incoming = !events.isDisjoint(with: [.readable, .error, .hangup])
        switch connections[i].state {
        case .connecting:
            connectFinished(i, now: now)
        case .roundTrip:
            if incoming { roundTripReadable(i, now: now) }
            if connections[i].state == .roundTrip && connections[i].isOpen && events.contains(.writable) {
                writeMessage(i, now: now)
            }
        case .streaming:
            if incoming { streamReadable(i, now: now) }
            if connections[i].state == .streaming && connections[i].isOpen && events.contains(.writable) {
                writeStream(i, now: now)
            }
        case .readingLine, .draining:
            lineReadable(i, now: now)
        case .writingAck:
            if events.contains(.writable) { writeAck(i, now: now) }
            if connections[i].state == .draining || (incoming && connections[i].state == .writingAck) {
                lineReadable(i, now: now)
            }
        case .holding, .ready:
            quietReadable(i, now: now)
        case .free, .retry, .done:
            break
        }
    }

    /// Retries that are due, and operations that made no progress for longer than the timeout.
    private func scan(now: Int64) {
        for i in 0..<count {
            switch connections[i].state {
            case .retry:
                if now >= connections[i].retryAt && (!settingUp || connectsInFlight < pace) {
                    connections[i].iteration += 1
                    open(i, now: now)
                }
            case .connecting, .roundTrip, .streaming, .readingLine, .writingAck, .draining:
                if now - connections[i].lastProgress > timeoutNanos {
                    if connections[i].state == .connecting && settingUp { connectsInFlight -= 1 }
                    fail(i, .timeout, now: now)
                }
            case .free, .ready, .holding, .done:
                break
            }
        }
    }

    // MARK: Connections

    /// Opens a new socket for slot `i` and starts connecting it.
    func open(_ i: Int, now: Int64) {
        connections[i].generation &+= 1
        connections[i].startedAt = now
        connections[i].lastProgress = now
        connections[i].reply = BenchReplyShape()
        connections[i].ackSent = 0
        connections[i].pollingWrites = false
        let started: (fd: Int32, connected: Bool)
        do {
            started = try Socket.startConnect(to: options.address, noDelay: true)
        } catch {
            note(error)
            counters.count(.connect)
            let outOfDescriptors = error.call == "socket" || error.errno == Errno.EMFILE || error.errno == Errno.ENFILE
            connections[i].wasRefused = !outOfDescriptors
            retryLater(i, now: now, after: outOfDescriptors ? Self.resourceBackoff : Self.refusedBackoff)
            return
        }
        connections[i].fd = started.fd
        let lineMode = !options.mode.opensConnectionsFirst
        // connect/sentence wait for data only: a refused connect still shows up, as a read error.
        let interest: IOEvents = lineMode || started.connected ? .readable : [.readable, .writable]
        do {
            try epoll.add(started.fd, interest, token: token(i))
        } catch {
            note(error)
            fail(i, .io, now: now)
            return
        }
        if lineMode {
            connections[i].state = .readingLine
            return
        }
        if settingUp { connectsInFlight += 1 }
        if started.connected {
            connected(i, now: now)
        } else {
            connections[i].pollingWrites = true
            connections[i].state = .connecting
        }
    }

    private func connectFinished(_ i: Int, now: Int64) {
        let error = Socket.pendingError(connections[i].fd)
        guard error == 0 else {
            if settingUp { connectsInFlight -= 1 }
            note(SystemError("connect", errno: error))
            connections[i].wasRefused = true
            fail(i, .connect, now: now)
            return
        }
        connected(i, now: now)
    }

    private func connected(_ i: Int, now: Int64) {
        if settingUp { connectsInFlight -= 1 }
        counters.established += 1
        if connections[i].iteration > 0 || connections[i].wasRefused { counters.reconnects += 1 }
        connections[i].wasRefused = false
        connections[i].lastProgress = now
        guard setWrites(i, false, now: now) else { return }
        if settingUp {
            // rr and idle prove every connection before the clock starts, so accept-queue
            // stalls stay out of the measured window.
            if options.mode == .stream {
                connections[i].state = .ready
            } else {
                beginRoundTrip(i, now: now)
            }
            return
        }
        startMeasured(i, now: now)
    }

    /// One write for connection `i`: the bytes written (0 when the socket is full, and
    /// writability is then polled), or nil when the write failed and the slot was closed.
    @inline(__always)
    func writeSome(_ i: Int, _ bytes: UnsafeRawPointer, _ count: Int, now: Int64) -> Int? {
        let result: IOResult
        do {
            result = try Syscall.write(connections[i].fd, bytes, count)
        } catch {
            note(error)
            fail(i, .io, now: now)
            return nil
        }
        guard case .done(let n) = result, n > 0 else {
            return setWrites(i, true, now: now) ? 0 : nil
        }
        connections[i].lastProgress = now
        return n
    }

    /// Asks epoll for writability (or stops asking); false when that failed and the slot was closed.
    @inline(__always)
    func setWrites(_ i: Int, _ on: Bool, now: Int64) -> Bool {
        guard connections[i].pollingWrites != on else { return true }
        do {
            try epoll.modify(connections[i].fd, on ? [.readable, .writable] : .readable, token: token(i))
        } catch {
            note(error)
            fail(i, .io, now: now)
            return false
        }
        connections[i].pollingWrites = on
        return true
    }

    @inline(__always)
    private func token(_ i: Int) -> UInt64 { UInt64(connections[i].generation) << 32 | UInt64(i) }

    /// Counts `failure` and closes the slot; it is retried later unless the run is over.
    /// An idle connection lost while held is counted as dropped, not as an error.
    func fail(_ i: Int, _ failure: BenchFailure, now: Int64) {
        if connections[i].state == .holding {
            counters.dropped += 1
            close(i)
            connections[i].state = .done
            return
        }
        counters.count(failure)
        if proving { counters.dropped += 1 }
        // Retrying cannot fix a server that answers wrongly: during setup, give the slot up.
        let hopeless = settingUp && (failure == .mismatch || failure == .invalid)
        retryLater(i, now: now, after: failure == .connect ? Self.refusedBackoff : Self.failureBackoff, giveUp: hopeless)
    }

    private func retryLater(_ i: Int, now: Int64, after backoff: Int64, giveUp: Bool = false) {
        close(i)
        if giveUp || options.mode == .idle || (!settingUp && now >= window.measureUntil) {
            connections[i].state = .done
            return
        }
        connections[i].state = .retry
        connections[i].retryAt = now + backoff
    }

    /// Closes slot `i`'s socket (closing also removes it from epoll).
    func close(_ i: Int) {
        guard connections[i].isOpen else { return }
        Syscall.close(connections[i].fd)
        connections[i].fd = -1
        connections[i].pollingWrites = false
    }

    @inline(__always)
    func inWindow(_ now: Int64) -> Bool { now >= window.measureFrom && now < window.measureUntil }

    @inline(__always)
    func note(_ error: SystemError) {
        if firstError == nil { firstError = error }
    }
}
