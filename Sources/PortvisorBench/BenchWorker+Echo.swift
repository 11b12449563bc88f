// The echo modes on one worker: rr round trips, the stream, and idle's hold and final proof.
// Every byte that comes back is compared with the pattern before it counts.
import Portvisor

extension BenchWorker {
    // MARK: rr (and the proofs of rr and idle)

    /// Sends the connection's next message and starts its clock.
    func beginRoundTrip(_ i: Int, now: Int64) {
        connections[i].messageOffset = BenchPattern.messageOffset(connection: firstIndex + i, iteration: connections[i].iteration)
        connections[i].sent = 0
        connections[i].received = 0
        connections[i].startedAt = now
        connections[i].lastProgress = now
        connections[i].state = .roundTrip
        writeMessage(i, now: now)
    }

    func writeMessage(_ i: Int, now: Int64) {
        let size = options.size
        while connections[i].sent < size {
            let sent = connections[i].sent
            guard let n = writeSome(i, pattern.bytes(at: connections[i].messageOffset + sent), size - sent, now: now), n > 0 else { return }
            connections[i].sent = sent + n
        }
        _ = setWrites(i, false, now: now)
    }

    func roundTripReadable(_ i: Int, now: Int64) {
        while let n = readSome(i, now: now), n > 0 {
            let received = connections[i].received
            guard received + n <= connections[i].sent,
                  pattern.matches(scratch, count: n, at: connections[i].messageOffset + received) else {
                fail(i, .mismatch, now: now)
                return
            }
            connections[i].received = received + n
            connections[i].lastProgress = now
            if received + n == options.size {
                completeRoundTrip(i, now: Clock.monotonic())
                return
            }
        }
    }

    /// One read for connection `i` into the scratch buffer: the bytes read, 0 when none are
    /// waiting, or nil when the connection failed or ended (counted and closed).
    func readSome(_ i: Int, now: Int64) -> Int? {
        let result: IOResult
        do {
            result = try Syscall.read(connections[i].fd, scratch, Self.scratchSize)
        } catch {
            note(error)
            fail(i, .io, now: now)
            return nil
        }
        switch result {
        case .wouldBlock: return 0
        case .done(0):
            fail(i, .eof, now: now)
            return nil
        case .done(let n): return n
        }
    }

    private func completeRoundTrip(_ i: Int, now: Int64) {
        connections[i].iteration += 1
        if settingUp {
            counters.verified += 1
            connections[i].state = options.mode == .idle ? .holding : .ready
            return
        }
        if proving {
            counters.stillEchoing += 1
            close(i)
            connections[i].state = .done
            return
        }
        counters.opsTotal += 1
        if inWindow(now) {
            counters.ops += 1
            histogram.record(now - connections[i].startedAt)
        }
        if now >= window.measureUntil {
            close(i)
            connections[i].state = .done
            return
        }
        beginRoundTrip(i, now: now)
    }

    // MARK: stream

    func beginStream(_ i: Int, now: Int64) {
        connections[i].state = .streaming
        connections[i].sent = 0
        connections[i].received = 0
        connections[i].lastProgress = now
        writeStream(i, now: now)
    }

    /// Writes while the unechoed bytes stay under the window and the run lasts.
    func writeStream(_ i: Int, now: Int64) {
        let limit = BenchOptions.streamWindow
        while now < window.measureUntil {
            let sent = connections[i].sent
            let room = limit - (sent - connections[i].received)
            if room <= 0 { break }
            guard let n = writeSome(i, pattern.bytes(at: sent), min(options.size, room), now: now), n > 0 else { return }
            connections[i].sent = sent + n
            if inWindow(now) { counters.bytesSent += n }
        }
        _ = setWrites(i, false, now: now)
    }

    func streamReadable(_ i: Int, now: Int64) {
        while true {
            guard let n = readSome(i, now: now) else { return }
            if n == 0 { break }
            let received = connections[i].received
            guard received + n <= connections[i].sent, pattern.matches(scratch, count: n, at: received) else {
                fail(i, .mismatch, now: now)
                return
            }
            connections[i].received = received + n
            connections[i].lastProgress = now
            if inWindow(now) { counters.bytesEchoed += n }
        }
        // Room opened up under the window: send more, unless epoll will say when.
        if !connections[i].pollingWrites { writeStream(i, now: now) }
    }

    // MARK: Connections with nothing due (ready before the run, idle while held)

    /// Data here was never asked for; end of file or an error means the connection is gone.
    func quietReadable(_ i: Int, now: Int64) {
        if let n = readSome(i, now: now), n > 0 { counters.unexpected += 1 }
    }

    /// idle, after the hold: every held connection must echo once more, within the timeout.
    func proveHeld() {
        proving = true
        var now = Clock.monotonic()
        let deadline = now + timeoutNanos
        var pending = 0
        for i in 0..<count where connections[i].state == .holding {
            beginRoundTrip(i, now: now)
            if connections[i].state == .roundTrip { pending += 1 }
        }
        while pending > 0 && now < deadline {
            let left = (deadline - now + 999_999) / 1_000_000
            guard poll(timeoutMillis: Int32(min(left, 10)), now: &now) else { break }
            pending = 0
            for i in 0..<count where connections[i].state == .roundTrip { pending += 1 }
        }
        for i in 0..<count where connections[i].state == .roundTrip {
            fail(i, .timeout, now: now)
        }
        proving = false
    }
}
