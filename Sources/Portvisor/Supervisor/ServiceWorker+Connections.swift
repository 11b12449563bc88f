// Connection I/O on a worker thread: what each kind does on accept, on readable, on writable,
// and at its deadline. One shared read buffer per worker; an output buffer only while a write
// is incomplete. Reads are bounded so an echo never holds more than maxBufferedBytes.
import Glibc

extension ServiceWorker {
    // MARK: Accept

    /// A new connection from `peer`: apply allow/deny, the per-source limits and
    /// maxConnections, then start the kind's protocol.
    func accepted(_ fd: Int32, peer: SocketAddress) {
        let config = profile.config
        let source = peer.ip.unmapped
        if !config.access.allowsEverything && !config.access.permits(source) {
            refuse(fd, peer: peer, .access)
            return
        }
        var counted = false
        if profile.tracksSources {
            if let refusal = sources.admit(source, now: loop.now, perSourceLimit: config.maxConnectionsPerSource,
                                           rate: config.maxConnectionRatePerSource) {
                refuse(fd, peer: peer, refusal)
                return
            }
            counted = true
            scheduleSourceSweep()
        }
        if connections.live >= config.maxConnections {
            if counted { sources.release(source) }
            Syscall.close(fd)
            ServiceStats.add(stats.rejected, 1)
            logRejection(peer)
            return
        }
        ServiceStats.add(stats.total, 1)
        let now = loop.now
        let wall = Clock.wall()
        // daytime, time, qotd: the greeting is formed once; the common case writes it whole and
        // closes without ever taking a slot. Whatever the socket does not take is kept below.
        let greeting = profile.greeting(at: wall)
        var greetingSent = 0
        if let greeting {
            let written = greeting.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> IOResult in try Syscall.write(fd, raw.baseAddress!, raw.count) }
            }
            switch written {
            case .success(.done(let count)) where count == greeting.count:
                if counted { sources.release(source) }
                ServiceStats.add(stats.bytesOut, count)
                if logger.enabled(.debug) {
                    logger.debug(name, event: "connection-closed", "\(peer): sent \(count) B and closed",
                                 fields: closeFields(peer: peer, duration: 0, bytesIn: 0, bytesOut: count))
                }
                Syscall.close(fd)
                return
            case .success(.done(let count)):
                greetingSent = count
            case .success(.wouldBlock):
                break
            case .failure(let error):
                if counted { sources.release(source) }
                logger.debug(name, event: "connection-closed", "\(peer): \(error.reason)")
                Syscall.close(fd)
                return
            }
        }
        let slot = connections.allocate()
        ServiceStats.add(stats.live, 1)
        profile.connections += 1
        connections.slots[slot].fd = fd
        connections.slots[slot].profileID = profile.id
        connections.slots[slot].peer = peer
        connections.slots[slot].since = wall
        connections.slots[slot].openedAt = now
        connections.slots[slot].lastActivity = now
        connections.slots[slot].countedInSources = counted
        connections.slots[slot].maxBufferedBytes = profile.maxBufferedBytes
        logger.debug(name, event: "connection-opened", "\(peer): connected")
        switch profile.config.kind {
        case .daytime, .time, .qotd:
            connections.slots[slot].phase = .closingAfterFlush
            if greetingSent > 0 { sent(slot, greetingSent) }
            let rest = Array((greeting ?? [])[greetingSent...])
            rest.withUnsafeBytes { writeOrKeep(slot, $0.baseAddress!, $0.count) }
        case .discard, .echo:
            connections.slots[slot].phase = profile.config.kind == .echo ? .echoing : .discarding
            setInterest(slot, .readable)
            armTimer(slot)
        case .chargen:
            connections.slots[slot].phase = .generating
            connections.slots[slot].writeStalledSince = now
            setInterest(slot, [.readable, .writable])
            armTimer(slot)
        case .sentence:
            connections.slots[slot].phase = .awaitingAck
            var line = profile.sentences?.nextLine() ?? []
            guard send(slot, &line) else { return }
            armTimer(slot)
        }
    }

    /// Closes a connection refused by allow/deny or a per-source limit; logs it at most once per
    /// second per source.
    private func refuse(_ fd: Int32, peer: SocketAddress, _ refusal: Refusal) {
        Syscall.close(fd)
        ServiceStats.add(stats.refused, 1)
        let source = peer.ip.unmapped
        if sources.shouldLogRefusal(source, now: loop.now) {
            logger.warning(name, event: "connection-refused", "\(source): refused: \(refusal.reason)",
                           fields: [JSONMember("peer", .string(peer.description))])
        }
        scheduleSourceSweep()
    }

    func scheduleSourceSweep() {
        if loop.timers.deadline(of: Self.sourceSweepTimer) == nil {
            loop.timers.schedule(Self.sourceSweepTimer, at: loop.now + 1_000_000_000)
        }
    }

    /// Once a second while the source table has entries: forget idle sources.
    func sweepSources() {
        if sources.sweep(now: loop.now, rate: profile.config.maxConnectionRatePerSource) {
            loop.timers.schedule(Self.sourceSweepTimer, at: loop.now + 1_000_000_000)
        }
    }

    private func logRejection(_ peer: SocketAddress) {
        logger.debug(name, event: "connection-rejected", "\(peer): rejected, \(connections.live) connections live (maxConnections)")
        if loop.now - lastRejectionWarning >= 1_000_000_000 {
            lastRejectionWarning = loop.now
            logger.warning(name, event: "max-connections", "maxConnections (\(profile.config.maxConnections)) reached; rejecting new connections")
        }
    }

    // MARK: Readiness

    func connectionReady(_ slot: Int, _ events: IOEvents) {
        if connections.slots[slot].output != nil && (events.contains(.writable) || events.contains(.error) || events.contains(.hangup)) {
            guard flush(slot) else { return }
        }
        if connections.slots[slot].phase == .generating && events.contains(.writable) {
            guard generate(slot) else { return }
        }
        guard connections.slots[slot].fd >= 0 else { return }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            switch connections.slots[slot].phase {
            case .echoing: echoReadable(slot)
            case .awaitingAck: ackReadable(slot)
            case .discarding, .generating: dropInput(slot)
            case .closingAfterFlush, .closed: break
            }
        }
    }

    /// discard, and chargen's input: read and drop; the client's end of file closes.
    private func dropInput(_ slot: Int) {
        do {
            switch try Syscall.read(connections.slots[slot].fd, readBuffer, Self.readBufferSize) {
            case .wouldBlock: return
            case .done(0): closeConnection(slot, reason: "client closed")
            case .done(let n): received(slot, n)
            }
        } catch {
            closeConnection(slot, reason: error.reason)
        }
    }

    /// chargen: write the next window of the pattern. Returns false if the connection closed.
    private func generate(_ slot: Int) -> Bool {
        let pattern = ChargenPattern.shared
        let start = connections.slots[slot].chargenOffset
        let result: Result<IOResult, SystemError> = pattern.bytes.withUnsafeBytes { raw in
            do throws(SystemError) {
                return .success(try Syscall.write(connections.slots[slot].fd, raw.baseAddress! + start, pattern.maxWindow))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(.done(let n)) where n > 0:
            sent(slot, n)
            connections.slots[slot].writeStalledSince = loop.now
            connections.slots[slot].chargenOffset = (start + n) % ChargenPattern.cycleLength
        case .success:
            break
        case .failure(let error):
            closeConnection(slot, reason: error.reason)
            return false
        }
        return true
    }

    /// echo: read at most what still fits under maxBufferedBytes and write it straight back.
    /// A connection whose read filled the buffer is read again at once, up to this many times
    /// per wakeup: a streaming client then costs one epoll_wait per 256 KiB, not per 64 KiB,
    /// while small reads (round trips) return to the loop at once and stay fair.
    static let echoReadsPerWakeup = 4

    private func echoReadable(_ slot: Int) {
        for _ in 0..<Self.echoReadsPerWakeup {
            guard echoReadOnce(slot) else { return }
        }
    }

    /// One read and its echo. Returns true when the read filled the buffer and everything went
    /// straight back out, so more is probably waiting.
    private func echoReadOnce(_ slot: Int) -> Bool {
        let limit = connections.slots[slot].maxBufferedBytes
        let room = limit - connections.slots[slot].pendingCount
        guard room > 0 else {
            setInterest(slot, .writable)
            return false
        }
        let fd = connections.slots[slot].fd
        let wanted = min(Self.readBufferSize, room)
        let count: Int
        do {
            switch try Syscall.read(fd, readBuffer, wanted) {
            case .wouldBlock: return false
            case .done(let n): count = n
            }
        } catch {
            closeConnection(slot, reason: error.reason)
            return false
        }
        if count == 0 {
            // The client shut down its side: send what is pending, then close.
            if connections.slots[slot].output == nil {
                closeConnection(slot, reason: "client closed")
            } else {
                connections.slots[slot].phase = .closingAfterFlush
                setInterest(slot, .writable)
            }
            return false
        }
        received(slot, count)
        if connections.slots[slot].output == nil {
            writeOrKeep(slot, readBuffer, count)
        } else {
            connections.slots[slot].output!.append(readBuffer, count: count)
            updateEchoInterest(slot)
        }
        return count == wanted && connections.slots[slot].fd == fd && connections.slots[slot].output == nil
    }

    /// sentence: look for the end of the acknowledgement line.
    private func ackReadable(_ slot: Int) {
        let fd = connections.slots[slot].fd
        let count: Int
        do {
            switch try Syscall.read(fd, readBuffer, Self.readBufferSize) {
            case .wouldBlock: return
            case .done(let n): count = n
            }
        } catch {
            finishSentence(slot, acknowledged: false, reason: error.reason)
            return
        }
        if count == 0 {
            finishSentence(slot, acknowledged: false, reason: "client closed before acknowledging")
            return
        }
        received(slot, count)
        var scanner = AckScanner(maxBytes: profile(of: slot).maxAckBytes, consumed: connections.slots[slot].ackConsumed)
        let outcome = scanner.scan(UnsafeRawBufferPointer(start: readBuffer, count: count))
        connections.slots[slot].ackConsumed = scanner.consumed
        switch outcome {
        case .needMore: break
        case .acknowledged: finishSentence(slot, acknowledged: true, reason: "acknowledged")
        case .tooLong: finishSentence(slot, acknowledged: false, reason: "acknowledgement longer than maxAckBytes")
        }
    }

    /// Counts an acknowledged or unacknowledged sentence and closes (after the sentence is out).
    private func finishSentence(_ slot: Int, acknowledged: Bool, reason: String) {
        guard connections.slots[slot].phase == .awaitingAck else { return }
        if acknowledged {
            ServiceStats.add(stats.acknowledged, 1)
        } else {
            ServiceStats.add(stats.unacknowledged, 1)
        }
        if acknowledged && connections.slots[slot].output != nil {
            connections.slots[slot].phase = .closingAfterFlush
            connections.slots[slot].acknowledged = true
            setInterest(slot, .writable)
        } else {
            closeConnection(slot, reason: reason)
        }
    }

    private func received(_ slot: Int, _ count: Int) {
        connections.slots[slot].bytesIn += count
        connections.slots[slot].lastActivity = loop.now
        ServiceStats.add(stats.bytesIn, count)
    }

    private func sent(_ slot: Int, _ count: Int) {
        connections.slots[slot].bytesOut += count
        connections.slots[slot].lastActivity = loop.now
        ServiceStats.add(stats.bytesOut, count)
    }

    // MARK: Writing

    /// Writes a greeting (daytime line, sentence); keeps what does not fit. Returns false if the
    /// connection was closed.
    @discardableResult
    private func send(_ slot: Int, _ bytes: inout [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeOrKeep(slot, $0.baseAddress!, $0.count) }
        return connections.slots[slot].fd >= 0
    }

    /// Writes `count` bytes; whatever the socket does not take goes to the output buffer.
    /// A daytime connection with nothing left is closed.
    private func writeOrKeep(_ slot: Int, _ pointer: UnsafeRawPointer, _ count: Int) {
        var written = 0
        do {
            if case .done(let n) = try Syscall.write(connections.slots[slot].fd, pointer, count) { written = n }
        } catch {
            closeConnection(slot, reason: error.reason)
            return
        }
        if written > 0 { sent(slot, written) }
        if written < count {
            connections.slots[slot].output = OutputBuffer(pointer + written, count: count - written)
            connections.slots[slot].writeStalledSince = loop.now
            armTimer(slot)
        }
        afterWrite(slot)
    }

    /// Writes pending output. Returns false if the connection was closed.
    private func flush(_ slot: Int) -> Bool {
        guard let output = connections.slots[slot].output else { return true }
        let fd = connections.slots[slot].fd
        let result: IOResult
        do {
            result = try output.withPending { (pending) throws(SystemError) -> IOResult in
                try Syscall.write(fd, pending.baseAddress!, pending.count)
            }
        } catch {
            closeConnection(slot, reason: error.reason)
            return false
        }
        if case .done(let n) = result, n > 0 {
            sent(slot, n)
            connections.slots[slot].writeStalledSince = loop.now
            connections.slots[slot].output!.consume(n)
            if connections.slots[slot].output!.isEmpty { connections.slots[slot].output = nil }
        }
        afterWrite(slot)
        return connections.slots[slot].fd >= 0
    }

    /// After any write: close if done, else register for what the connection waits on.
    private func afterWrite(_ slot: Int) {
        let pending = connections.slots[slot].output != nil
        switch connections.slots[slot].phase {
        case .closingAfterFlush:
            if pending {
                setInterest(slot, .writable)
            } else {
                let reason = connections.slots[slot].acknowledged ? "acknowledged" : "sent everything"
                closeConnection(slot, reason: reason)
            }
        case .echoing:
            updateEchoInterest(slot)
        case .awaitingAck:
            setInterest(slot, pending ? [.readable, .writable] : .readable)
        case .discarding, .generating, .closed:
            break
        }
    }

    /// echo: read while there is room under maxBufferedBytes; watch for writable while pending.
    private func updateEchoInterest(_ slot: Int) {
        let pending = connections.slots[slot].pendingCount
        var interest: IOEvents = []
        if pending < connections.slots[slot].maxBufferedBytes { interest.insert(.readable) }
        if pending > 0 { interest.insert(.writable) }
        setInterest(slot, interest)
    }

    /// Registers or changes the slot's epoll interest, only when it differs.
    private func setInterest(_ slot: Int, _ interest: IOEvents) {
        let registered = connections.slots[slot].registered
        guard !registered || connections.slots[slot].interest != interest else { return }
        let fd = connections.slots[slot].fd
        do {
            if registered {
                try loop.epoll.modify(fd, interest, token: connections.token(slot))
            } else {
                try loop.epoll.add(fd, interest, token: connections.token(slot))
                connections.slots[slot].registered = true
            }
            connections.slots[slot].interest = interest
        } catch {
            closeConnection(slot, reason: "\(error)")
        }
    }

    // MARK: Deadlines and closing

    /// The earliest deadline that applies to `slot`: the acknowledgement deadline (sentence) or
    /// the idle deadline (the others), and the write deadline while output is pending.
    func deadline(of slot: Int) -> MonotonicNanos {
        let connection = connections.slots[slot]
        let profile = profile(of: slot)
        var deadline = profile.config.kind == .sentence ? connection.openedAt + profile.ackNanos : connection.lastActivity + profile.idleNanos
        if connection.output != nil || connection.phase == .generating {
            deadline = min(deadline, connection.writeStalledSince + profile.writeNanos)
        }
        return deadline
    }

    /// Sets the slot's timer to its current deadline. Activity only records timestamps; a timer
    /// that fires early re-arms itself, so the heap is touched once per deadline, not per read.
    func armTimer(_ slot: Int) {
        loop.timers.schedule(slot + Self.firstConnectionTimer, at: deadline(of: slot))
    }

    /// A connection's deadline: write stalled, acknowledgement missing, or idle.
    func connectionTimerFired(_ slot: Int) {
        guard slot < connections.slots.count, connections.slots[slot].fd >= 0 else { return }
        let connection = connections.slots[slot]
        let profile = profile(of: slot)
        let now = loop.now
        if (connection.output != nil || connection.phase == .generating) && now >= connection.writeStalledSince + profile.writeNanos {
            ServiceStats.add(stats.writeTimeouts, 1)
            if connection.phase == .awaitingAck { ServiceStats.add(stats.unacknowledged, 1) }
            closeConnection(slot, reason: "pending output made no progress for \(formatSeconds(profile.config.writeTimeout)) (writeTimeout)")
        } else if profile.config.kind == .sentence && now >= connection.openedAt + profile.ackNanos {
            if connection.phase == .awaitingAck {
                ServiceStats.add(stats.ackTimeouts, 1)
                finishSentence(slot, acknowledged: false, reason: "no acknowledgement within \(formatSeconds(Double(profile.ackNanos) / 1e9)) (ackTimeout)")
            } else {
                closeConnection(slot, reason: "ackTimeout passed while sending")
            }
        } else if profile.config.kind != .sentence && now >= connection.lastActivity + profile.idleNanos {
            ServiceStats.add(stats.idleTimeouts, 1)
            closeConnection(slot, reason: "idle for \(formatSeconds(profile.config.idleTimeout)) (idleTimeout)")
        } else {
            armTimer(slot)
        }
    }

    /// Closes the connection in `slot` and frees the slot.
    func closeConnection(_ slot: Int, reason: String) {
        let connection = connections.slots[slot]
        guard connection.fd >= 0 else { return }
        Syscall.close(connection.fd)
        loop.timers.cancel(slot + Self.firstConnectionTimer)
        ServiceStats.add(stats.live, -1)
        if logger.enabled(.debug) {
            let duration = loop.now - connection.openedAt
            logger.debug(name, event: "connection-closed",
                         "\(connection.peer): closed after \(duration / 1_000_000) ms (in \(connection.bytesIn) B, out \(connection.bytesOut) B): \(reason)",
                         fields: closeFields(peer: connection.peer, duration: duration, bytesIn: connection.bytesIn, bytesOut: connection.bytesOut))
        }
        if connection.countedInSources { sources.release(connection.peer.ip.unmapped) }
        releaseProfile(connection.profileID)
        connections.release(slot)
        connectionCountChanged()
    }

    func closeFields(peer: SocketAddress, duration: MonotonicNanos, bytesIn: Int, bytesOut: Int) -> [JSONMember] {
        [JSONMember("peer", .string(peer.description)), JSONMember("durationMs", .double(Double(duration / 1000) / 1000)),
         JSONMember("bytesIn", .int(bytesIn)), JSONMember("bytesOut", .int(bytesOut))]
    }

    // MARK: Profiles

    /// The settings `slot` was accepted under.
    @inline(__always)
    func profile(of slot: Int) -> ServiceProfile {
        let id = connections.slots[slot].profileID
        return id == profile.id ? profile : retiredProfiles[id] ?? profile
    }

    private func releaseProfile(_ id: Int) {
        if id == profile.id {
            profile.connections -= 1
        } else if let retired = retiredProfiles[id] {
            retired.connections -= 1
            if retired.connections == 0 { retiredProfiles[id] = nil }
        }
    }
}
