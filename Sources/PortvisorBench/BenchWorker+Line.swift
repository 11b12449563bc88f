// The line modes on one worker: connect reads one line to end of file (daytime); sentence also
// acknowledges the line, then reads to end of file. Each reply's shape is checked at the end.
import Portvisor

extension BenchWorker {
    /// Reads what the server sent; on end of file judges the reply and starts the next connection.
    func lineReadable(_ i: Int, now: Int64) {
        while true {
            let result: IOResult
            do {
                result = try Syscall.read(connections[i].fd, scratch, Self.scratchSize)
            } catch {
                // A refused connect is reported here, as nothing was read yet.
                let refused = error.errno == Errno.ECONNREFUSED && connections[i].reply.total == 0
                note(error)
                if refused { connections[i].wasRefused = true }
                fail(i, refused ? .connect : .io, now: now)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .done(0):
                if options.mode == .sentence && connections[i].state != .draining {
                    // Closed before the acknowledgement went out.
                    fail(i, connections[i].reply.hasLine ? .eof : .invalid, now: now)
                    return
                }
                finishLine(i, now: Clock.monotonic())
                return
            case .done(let n):
                connections[i].reply.scan(scratch, count: n)
                connections[i].lastProgress = now
                if connections[i].reply.total > BenchOptions.maxReplyBytes {
                    fail(i, .invalid, now: now)
                    return
                }
                if options.mode == .sentence && connections[i].state == .readingLine && connections[i].reply.hasLine {
                    connections[i].state = .writingAck
                    writeAck(i, now: now)
                    guard connections[i].state == .writingAck || connections[i].state == .draining else { return }
                }
            }
        }
    }

    /// sentence: writes the rest of the acknowledgement, then reads to end of file.
    func writeAck(_ i: Int, now: Int64) {
        let length = options.ack.count
        while connections[i].ackSent < length {
            let offset = connections[i].ackSent
            guard let n = writeSome(i, ack + offset, length - offset, now: now), n > 0 else { return }
            connections[i].ackSent = offset + n
        }
        guard setWrites(i, false, now: now) else { return }
        connections[i].state = .draining
    }

    /// The server closed: count the reply if it was one non-empty line, then connect again.
    private func finishLine(_ i: Int, now: Int64) {
        close(i)
        let reply = connections[i].reply
        if reply.isOneNonEmptyLine {
            counters.opsTotal += 1
            if inWindow(now) {
                counters.ops += 1
                counters.replyBytes += reply.total
                histogram.record(now - connections[i].startedAt)
            }
        } else {
            counters.count(.invalid)
        }
        if now >= window.measureUntil {
            connections[i].state = .done
            return
        }
        open(i, now: now)
    }
}
