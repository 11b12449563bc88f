// The one engine for stream connections, whatever their kind: admission (Admission), the slot
// table, reads into the thread's buffer, writes with an output buffer only for what the socket
// did not take, backpressure (a connection stops being read while its pending output reaches
// its kind's `outputLimit`), the common deadlines (idleTimeout, writeTimeout) and closing. The
// kind's protocol (a `StreamService` and its `StreamConnection`s) decides what bytes mean and
// what to send; this file carries its steps out. Services and the status endpoint both run on it.

/// A profile: the settings connections are accepted under. Reloads add a new one; the old one
/// lives until its last connection closes. Loop-thread only.
final class StreamProfile<Service: StreamService> {
    let id: Int32
    let policy: AdmissionPolicy
    let idleNanos: MonotonicNanos
    let writeNanos: MonotonicNanos
    let idleTimeout: Double
    let writeTimeout: Double
    var service: Service
    /// Live connections accepted under this profile.
    var connections = 0

    init(id: Int32, policy: AdmissionPolicy, idleTimeout: Double, writeTimeout: Double, service: Service) {
        self.id = id
        self.policy = policy
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        idleNanos = Clock.nanos(idleTimeout)
        writeNanos = Clock.nanos(writeTimeout)
        self.service = service
    }
}

/// Loop-thread only.
final class StreamEngine<Service: StreamService> {
    typealias Connection = Service.Connection
    typealias Slot = UnsafeMutablePointer<ConnectionSlot<Connection>>

    /// A read that filled the buffer is followed at once by up to this many more per wakeup: a
    /// streaming client then costs one epoll_wait per 256 KiB, not per 64 KiB, while small
    /// reads (round trips) return to the loop at once and stay fair.
    static var readsPerWakeup: Int { 4 }
    /// How long a lingering close waits for the client's end of file.
    static var lingerNanos: MonotonicNanos { 2_000_000_000 }

    let context: EngineContext
    let table: ConnectionTable<Connection>
    private let loop: EventLoop
    private let stats: ServiceStats
    private let readBuffer: UnsafeMutableRawPointer
    private let sweepTimer: Int
    private let firstConnectionTimer: Int
    private(set) var profile: StreamProfile<Service>
    private var retired: [Int32: StreamProfile<Service>] = [:]
    private var admission = Admission()
    /// Called when a step suspends a connection (the status endpoint answers it later).
    var onSuspend: (Int) -> Void = { _ in }

    init(context: EngineContext, profile: StreamProfile<Service>, empty: Connection) {
        self.context = context
        loop = context.loop
        stats = context.stats
        readBuffer = context.readBuffer
        sweepTimer = context.firstTimer
        firstConnectionTimer = context.firstTimer + 1
        self.profile = profile
        table = ConnectionTable(empty: empty)
    }

    var name: String { context.name }
    var logger: Logger { context.logger }
    var live: Int { table.live }

    /// New settings for new connections; live ones keep theirs.
    func reconfigure(policy: AdmissionPolicy, idleTimeout: Double, writeTimeout: Double, service: Service) {
        if profile.connections > 0 { retired[profile.id] = profile }
        profile = StreamProfile(id: profile.id &+ 1, policy: policy, idleTimeout: idleTimeout, writeTimeout: writeTimeout, service: service)
    }

    // MARK: Accept

    /// A new connection from `peer`: admission, then the kind's first step.
    func accepted(_ fd: Int32, peer: SocketAddress) {
        let profile = self.profile
        let now = loop.now
        var counted = false
        switch admission.judge(peer, live: table.live, policy: profile.policy, now: now) {
        case .admit(let tracked):
            counted = tracked
        case .refuse(let refusal):
            Syscall.close(fd)
            ServiceStats.add(stats.refused, 1)
            admission.logRefusal(peer, refusal, now: now, name: name, logger: logger)
            scheduleSweep()
            return
        case .full(let tracked):
            guard profile.policy.whenFull == .evictOldest, let victim = oldestWaiting() else {
                if tracked { admission.release(peer) }
                Syscall.close(fd)
                ServiceStats.add(stats.rejected, 1)
                admission.logFull(peer, live: table.live, limit: profile.policy.maxConnections, now: now, name: name, logger: logger)
                return
            }
            abandon(victim, reason: "evicted: every slot was taken and it had waited longest")
            counted = tracked
        }
        if counted { scheduleSweep() }
        ServiceStats.add(stats.total, 1)
        let wall = Clock.wall()
        let (connection, step) = profile.service.open(wall: wall)
        // A greeting that the socket takes whole (daytime, time, qotd) closes without a slot.
        var greetingSent = 0
        if case .bytes(let greeting) = step.output, step.next == .finish {
            let written = greeting.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> IOResult in try Syscall.write(fd, raw.baseAddress!, raw.count) }
            }
            switch written {
            case .success(.done(let count)) where count == greeting.count:
                if counted { admission.release(peer) }
                ServiceStats.add(stats.bytesOut, count)
                if logger.enabled(.debug) {
                    logger.debug(name, event: "connection-closed", "\(peer): sent \(count) B and closed",
                                 fields: Self.closeFields(peer: peer, duration: 0, bytesIn: 0, bytesOut: count))
                }
                Syscall.close(fd)
                return
            case .success(.done(let count)):
                greetingSent = count
            case .success(.wouldBlock):
                break
            case .failure(let error):
                if counted { admission.release(peer) }
                logger.debug(name, event: "connection-closed", "\(peer): \(error.reason)")
                Syscall.close(fd)
                return
            }
        }
        let index = table.open(fd, peer: peer, since: wall, now: now, countedInSources: counted)
        let c = table[index]
        ServiceStats.add(stats.live, 1)
        profile.connections += 1
        c.pointee.profileID = profile.id
        c.pointee.state = connection
        logger.debug(name, event: "connection-opened", "\(peer): connected")
        if greetingSent > 0, case .bytes(let greeting) = step.output {
            sent(c, greetingSent)
            let rest = Array(greeting[greetingSent...])
            apply(Step(.bytes(rest), then: step.next), to: c, index, inputCount: 0)
        } else {
            apply(step, to: c, index, inputCount: 0)
        }
        if c.pointee.fd >= 0 { armTimer(c, index) }
    }

    /// evictOldest: the connection still reading its request (or lingering after its answer)
    /// that was opened first.
    private func oldestWaiting() -> Int? {
        var best: (index: Int, openedAt: MonotonicNanos)?
        for index in 0..<table.count {
            let c = table[index]
            guard c.pointee.fd >= 0, c.pointee.mode == .reading || c.pointee.mode == .lingering else { continue }
            if best == nil || c.pointee.openedAt < best!.openedAt { best = (index, c.pointee.openedAt) }
        }
        return best?.index
    }

    private func scheduleSweep() {
        if loop.timers.deadline(of: sweepTimer) == nil {
            loop.timers.schedule(sweepTimer, at: loop.now + 1_000_000_000)
        }
    }

    // MARK: Readiness

    /// An event for one of the engine's connections.
    @inline(__always)
    func handleEvent(token: UInt64, events: IOEvents) {
        guard let index = table.slot(for: token) else { return }
        let c = table[index]
        let failing = events.contains(.error) || events.contains(.hangup)
        if c.pointee.output != nil && (events.contains(.writable) || failing) {
            guard flush(c, index) else { return }
        }
        switch c.pointee.mode {
        case .generating, .generatingOnly:
            if events.contains(.writable) || failing {
                guard generate(c, index) else { return }
            }
            if c.pointee.mode == .generating && (events.contains(.readable) || failing) { readInput(c, index) }
        case .reading:
            if events.contains(.readable) || failing { readInput(c, index) }
        case .lingering:
            if events.contains(.readable) || failing { drainLinger(c, index) }
        case .finishing, .finishingThenLinger, .suspended, .closed:
            break
        }
    }

    /// Reads what the connection sent and hands it to its protocol.
    @inline(__always)
    private func readInput(_ c: Slot, _ index: Int) {
        for _ in 0..<Self.readsPerWakeup {
            let fd = c.pointee.fd
            let room = c.pointee.state.outputLimit - c.pointee.pendingCount
            guard room > 0 else {
                updateInterest(c, index)
                return
            }
            let wanted = min(EngineContext.readBufferSize, room)
            let count: Int
            do {
                switch try Syscall.read(fd, readBuffer, wanted) {
                case .wouldBlock: return
                case .done(let n): count = n
                }
            } catch {
                abandon(index, reason: error.reason)
                return
            }
            if count == 0 {
                apply(c.pointee.state.endOfInput(), to: c, index, inputCount: 0)
                return
            }
            received(c, count)
            let step = c.pointee.state.received(UnsafeRawBufferPointer(start: readBuffer, count: count), now: loop.now)
            apply(step, to: c, index, inputCount: count)
            guard count == wanted, c.pointee.fd == fd, c.pointee.mode == .reading, c.pointee.output == nil else { return }
        }
    }

    /// lingering: read and drop until the client's end of file.
    private func drainLinger(_ c: Slot, _ index: Int) {
        do {
            switch try Syscall.read(c.pointee.fd, readBuffer, EngineContext.readBufferSize) {
            case .wouldBlock: return
            case .done(0): close(index, reason: "answered")
            case .done: return
            }
        } catch {
            close(index, reason: "answered")
        }
    }

    // MARK: Steps

    /// Carries out `step` for the connection in `c`. `inputCount`: the bytes just read into the
    /// read buffer (what `.input` writes).
    @inline(__always)
    private func apply(_ step: Step, to c: Slot, _ index: Int, inputCount: Int) {
        switch step.output {
        case .none: break
        case .input: writeOrKeep(c, index, readBuffer, inputCount)
        case .bytes(let bytes): bytes.withUnsafeBytes { writeOrKeep(c, index, $0.baseAddress!, $0.count) }
        }
        guard c.pointee.fd >= 0 else { return }
        switch step.next {
        case .read:
            c.pointee.mode = .reading
            updateInterest(c, index)
        case .generate:
            c.pointee.mode = .generating
            updateInterest(c, index)
        case .generateOnly:
            c.pointee.mode = .generatingOnly
            updateInterest(c, index)
        case .finish:
            c.pointee.mode = .finishing
            finishIfFlushed(c, index)
        case .linger:
            c.pointee.mode = .finishingThenLinger
            finishIfFlushed(c, index)
        case .close(let reason):
            close(index, reason: reason)
        case .suspend:
            c.pointee.mode = .suspended
            updateInterest(c, index)
            onSuspend(index)
        }
    }

    /// The owner of a suspended connection supplies its next step (the status endpoint's answer).
    func resume(_ index: Int, with step: Step) {
        let c = table[index]
        guard c.pointee.fd >= 0, c.pointee.mode == .suspended else { return }
        c.pointee.mode = .reading
        apply(step, to: c, index, inputCount: 0)
        if c.pointee.fd >= 0 { armTimer(c, index) }
    }

    /// The kind's state of a live connection (its owner reads what a suspended one asked).
    func state(of index: Int) -> Connection? {
        let c = table[index]
        return c.pointee.fd >= 0 ? c.pointee.state : nil
    }

    /// Whether `index` still holds the connection that `generation` named.
    func isSuspended(_ index: Int, generation: UInt32) -> Bool {
        guard index < table.count else { return false }
        let c = table[index]
        return c.pointee.fd >= 0 && c.pointee.generation == generation && c.pointee.mode == .suspended
    }

    func generation(of index: Int) -> UInt32 { table[index].pointee.generation }

    /// finishing: close once nothing is pending (or start lingering).
    private func finishIfFlushed(_ c: Slot, _ index: Int) {
        guard c.pointee.output == nil else {
            updateInterest(c, index)
            return
        }
        if c.pointee.mode == .finishingThenLinger {
            Socket.shutdownWrite(c.pointee.fd)
            c.pointee.mode = .lingering
            c.pointee.writeStalledSince = loop.now  // the linger's start
            updateInterest(c, index)
            armTimer(c, index)
        } else {
            close(index, reason: "sent everything")
        }
    }

    // MARK: Writing

    /// Writes `count` bytes after whatever is pending; what the socket does not take is kept.
    @inline(__always)
    private func writeOrKeep(_ c: Slot, _ index: Int, _ pointer: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        if c.pointee.output != nil {
            c.pointee.output!.append(pointer, count: count)
            return
        }
        var written = 0
        do {
            if case .done(let n) = try Syscall.write(c.pointee.fd, pointer, count) { written = n }
        } catch {
            abandon(index, reason: error.reason)
            return
        }
        if written > 0 { sent(c, written) }
        if written < count {
            c.pointee.output = OutputBuffer(pointer + written, count: count - written)
            c.pointee.writeStalledSince = loop.now
            armTimer(c, index)
        }
    }

    /// Writes pending output. Returns false if the connection closed.
    private func flush(_ c: Slot, _ index: Int) -> Bool {
        guard let output = c.pointee.output else { return true }
        let fd = c.pointee.fd
        let result: IOResult
        do {
            result = try output.withPending { (pending) throws(SystemError) -> IOResult in
                try Syscall.write(fd, pending.baseAddress!, pending.count)
            }
        } catch {
            abandon(index, reason: error.reason)
            return false
        }
        if case .done(let n) = result, n > 0 {
            sent(c, n)
            c.pointee.writeStalledSince = loop.now
            c.pointee.output!.consume(n)
            if c.pointee.output!.isEmpty { c.pointee.output = nil }
        }
        switch c.pointee.mode {
        case .finishing, .finishingThenLinger: finishIfFlushed(c, index)
        default: updateInterest(c, index)
        }
        return c.pointee.fd >= 0
    }

    /// generate: write the next window of what the kind generates. Returns false if the
    /// connection closed.
    private func generate(_ c: Slot, _ index: Int) -> Bool {
        let window = c.pointee.state.generate()
        guard let base = window.baseAddress, window.count > 0 else { return true }
        do {
            if case .done(let n) = try Syscall.write(c.pointee.fd, base, window.count), n > 0 {
                sent(c, n)
                c.pointee.writeStalledSince = loop.now
                c.pointee.state.generated(n)
            }
        } catch {
            abandon(index, reason: error.reason)
            return false
        }
        return true
    }

    @inline(__always)
    private func received(_ c: Slot, _ count: Int) {
        c.pointee.bytesIn &+= count
        c.pointee.lastActivity = loop.now
        ServiceStats.add(stats.bytesIn, count)
    }

    @inline(__always)
    private func sent(_ c: Slot, _ count: Int) {
        c.pointee.bytesOut &+= count
        c.pointee.lastActivity = loop.now
        ServiceStats.add(stats.bytesOut, count)
    }

    // MARK: Interest

    /// What the connection waits for, from its mode and what is pending.
    @inline(__always)
    private func updateInterest(_ c: Slot, _ index: Int) {
        let pending = c.pointee.pendingCount
        var interest: IOEvents = []
        switch c.pointee.mode {
        case .reading:
            if pending < c.pointee.state.outputLimit { interest.insert(.readable) }
            if pending > 0 { interest.insert(.writable) }
        case .generating: interest = [.readable, .writable]
        case .generatingOnly, .finishing, .finishingThenLinger: interest = .writable
        case .lingering: interest = .readable
        case .suspended, .closed:
            // Out of epoll: even a hang-up must not wake the loop until the owner answers.
            if c.pointee.registered {
                loop.epoll.remove(c.pointee.fd)
                c.pointee.registered = false
                c.pointee.interest = []
            }
            return
        }
        setInterest(c, index, interest)
    }

    /// Registers or changes the epoll interest, only when it differs.
    @inline(__always)
    private func setInterest(_ c: Slot, _ index: Int, _ interest: IOEvents) {
        let registered = c.pointee.registered
        guard !registered || c.pointee.interest != interest else { return }
        do {
            if registered {
                try loop.epoll.modify(c.pointee.fd, interest, token: table.token(index))
            } else {
                try loop.epoll.add(c.pointee.fd, interest, token: table.token(index))
                c.pointee.registered = true
            }
            c.pointee.interest = interest
        } catch {
            abandon(index, reason: "\(error)")
        }
    }

    // MARK: Deadlines

    /// The profile `c` was accepted under.
    @inline(__always)
    private func profile(of c: Slot) -> StreamProfile<Service> {
        let id = c.pointee.profileID
        return id == profile.id ? profile : retired[id] ?? profile
    }

    /// The earliest deadline that applies: the kind's own, idleTimeout where it applies, the
    /// write deadline while output is pending or generated, the linger's end.
    private func deadline(of c: Slot) -> MonotonicNanos {
        let profile = profile(of: c)
        if c.pointee.mode == .lingering { return c.pointee.writeStalledSince + Self.lingerNanos }
        var deadline = MonotonicNanos.max
        let stall = loop.lastStall
        if Connection.idleTimeoutApplies { deadline = max(c.pointee.lastActivity, stall) + profile.idleNanos }
        if let own = c.pointee.state.deadline(openedAt: c.pointee.openedAt) { deadline = min(deadline, own) }
        if c.pointee.output != nil || c.pointee.mode == .generating || c.pointee.mode == .generatingOnly {
            deadline = min(deadline, max(c.pointee.writeStalledSince, stall) + profile.writeNanos)
        }
        return deadline
    }

    /// Sets the slot's timer to its current deadline. Activity only records timestamps; a
    /// timer that fires early re-arms itself, so the heap is touched once per deadline, not
    /// per read.
    private func armTimer(_ c: Slot, _ index: Int) {
        let deadline = deadline(of: c)
        if deadline == .max {
            loop.timers.cancel(firstConnectionTimer + index)
        } else {
            loop.timers.schedule(firstConnectionTimer + index, at: deadline)
        }
    }

    /// One of the engine's timers.
    func handleTimer(owner: Int) {
        if owner == sweepTimer {
            if admission.sweep(now: loop.now, rate: profile.policy.rate) { loop.timers.schedule(sweepTimer, at: loop.now + 1_000_000_000) }
            return
        }
        let index = owner - firstConnectionTimer
        guard index >= 0, index < table.count, table[index].pointee.fd >= 0 else { return }
        connectionDeadline(table[index], index)
    }

    /// A connection's deadline: the linger's end, write stalled, the kind's own, or idle. After a
    /// stall of the whole process (SIGSTOP, a frozen VM) the socket may have become writable or
    /// readable meanwhile, so it is tried once before anyone is judged.
    private func connectionDeadline(_ c: Slot, _ index: Int) {
        let profile = profile(of: c)
        let now = loop.now
        if c.pointee.mode == .lingering {
            if now >= c.pointee.writeStalledSince + Self.lingerNanos { close(index, reason: "answered") } else { armTimer(c, index) }
            return
        }
        let stall = loop.lastStall
        let writing = c.pointee.output != nil || c.pointee.mode == .generating || c.pointee.mode == .generatingOnly
        if writing && now >= max(c.pointee.writeStalledSince, stall) + profile.writeNanos {
            let before = c.pointee.bytesOut
            if c.pointee.output != nil { guard flush(c, index) else { return } } else { guard generate(c, index) else { return } }
            if c.pointee.bytesOut == before {
                ServiceStats.add(stats.writeTimeouts, 1)
                abandon(index, reason: "pending output made no progress for \(formatSeconds(profile.writeTimeout)) (writeTimeout)")
                return
            }
        } else if let own = c.pointee.state.deadline(openedAt: c.pointee.openedAt), now >= own {
            // The kind's own deadline is total, but what already arrived is read first (an
            // acknowledgement that came during a stall counts).
            if c.pointee.mode == .reading { readInput(c, index) }
            if c.pointee.fd < 0 { return }
            if let still = c.pointee.state.deadline(openedAt: c.pointee.openedAt), now >= still {
                apply(c.pointee.state.deadlinePassed(now: now), to: c, index, inputCount: 0)
            }
            if c.pointee.fd < 0 { return }
        } else if Connection.idleTimeoutApplies && now >= max(c.pointee.lastActivity, stall) + profile.idleNanos {
            if c.pointee.mode == .reading || c.pointee.mode == .generating {
                let before = c.pointee.bytesIn
                readInput(c, index)
                if c.pointee.fd < 0 { return }
                if c.pointee.bytesIn != before {
                    armTimer(c, index)
                    return
                }
            }
            ServiceStats.add(stats.idleTimeouts, 1)
            abandon(index, reason: "idle for \(formatSeconds(profile.idleTimeout)) (idleTimeout)")
            return
        }
        if c.pointee.fd >= 0 { armTimer(c, index) }
    }

    // MARK: Closing

    /// Closes for a reason of the engine's own (timeouts, I/O errors, the drain): the kind
    /// counts what it must first.
    func abandon(_ index: Int, reason: String) {
        let c = table[index]
        guard c.pointee.fd >= 0 else { return }
        c.pointee.state.abandoned()
        close(index, reason: reason)
    }

    /// Closes every connection (the drain deadline, shutdown).
    func closeAll(reason: String) {
        for index in table.liveIndices { abandon(index, reason: reason) }
    }

    /// Closes the connections from `peer` (nil: all) at once: control's `kill`. Returns their peers.
    func kill(from peer: SocketAddress?) -> [SocketAddress] {
        var closed: [SocketAddress] = []
        for index in table.liveIndices {
            let from = table[index].pointee.peer
            guard peer.map({ $0.sameEndpoint(as: from) }) ?? true else { continue }
            closed.append(from)
            abandon(index, reason: "closed by control (kill)")
        }
        return closed
    }

    /// Closes the connection in `index` and frees the slot.
    func close(_ index: Int, reason: String) {
        let c = table[index]
        guard c.pointee.fd >= 0 else { return }
        Syscall.close(c.pointee.fd)
        loop.timers.cancel(firstConnectionTimer + index)
        ServiceStats.add(stats.live, -1)
        if logger.enabled(.debug) {
            let duration = loop.now - c.pointee.openedAt
            logger.debug(name, event: "connection-closed",
                         "\(c.pointee.peer): closed after \(duration / 1_000_000) ms (in \(c.pointee.bytesIn) B, out \(c.pointee.bytesOut) B): \(reason)",
                         fields: Self.closeFields(peer: c.pointee.peer, duration: duration, bytesIn: c.pointee.bytesIn, bytesOut: c.pointee.bytesOut))
        }
        if c.pointee.countedInSources { admission.release(c.pointee.peer) }
        releaseProfile(c.pointee.profileID)
        table.release(index)
        context.connectionClosed()
    }

    private func releaseProfile(_ id: Int32) {
        if id == profile.id {
            profile.connections -= 1
        } else if let old = retired[id] {
            old.connections -= 1
            if old.connections == 0 { retired[id] = nil }
        }
    }

    static func closeFields(peer: SocketAddress, duration: MonotonicNanos, bytesIn: Int, bytesOut: Int) -> [JSONMember] {
        [JSONMember("peer", .string(peer.description)), JSONMember("durationMs", .double(Double(duration / 1000) / 1000)),
         JSONMember("bytesIn", .int(bytesIn)), JSONMember("bytesOut", .int(bytesOut))]
    }

    // MARK: Status

    /// The live connections, for status.
    func liveConnections() -> [LiveConnection] {
        table.liveIndices.map { index in
            let c = table[index]
            return LiveConnection(peer: c.pointee.peer, since: c.pointee.since, bytesIn: c.pointee.bytesIn, bytesOut: c.pointee.bytesOut)
        }
    }
}
