// What a finished bench run deserves: clean (exit 0), a reply failed verification (1), or the
// load was not served — connections failed, or nothing at all was measured (2) — and, when it
// is not clean, one line that says why, with the hint that applies.
import Portvisor

extension BenchResult {
    /// How a run ended, worst first.
    public enum Outcome: Sendable, Equatable {
        /// A reply differed from what was sent, or was not one line (exit 1).
        case verificationFailed
        /// Connections failed: refused, reset, closed early or stalled (exit 2).
        case errors
        /// Nothing completed in the measured window (exit 2).
        case nothingMeasured
        /// Every connection served, something measured (exit 0).
        case clean
    }

    public var outcome: Outcome {
        if counters.verificationFailures > 0 { return .verificationFailed }
        if counters.errors > 0 { return .errors }
        if !measuredSomething { return .nothingMeasured }
        return .clean
    }

    /// 0 clean, 1 verification failed, 2 errors or nothing measured.
    public var exitCode: Int32 {
        switch outcome {
        case .clean: return ExitCode.ok
        case .verificationFailed: return 1
        case .errors, .nothingMeasured: return 2
        }
    }

    /// Whether the run measured anything: an operation in the window, verified stream bytes,
    /// or (idle) a connection still echoing after the hold.
    var measuredSomething: Bool {
        switch options.mode {
        case .rr, .connect, .sentence: return counters.ops > 0
        case .stream: return counters.bytesEchoed > 0
        case .idle: return counters.stillEchoing > 0
        }
    }

    /// Why the run is not clean, in one line (without the "portvisor bench: " prefix); nil when
    /// it is clean.
    public var failure: String? {
        let o = options
        switch outcome {
        case .clean:
            return nil
        case .verificationFailed:
            // With --service the kind was checked before the run: the service itself answered wrongly.
            let known = o.service != nil
            if o.mode.expectsEcho {
                return "the reply was not an echo of what was sent" + (known ? "" : ": is this an echo service?")
            }
            let shape = "a reply was not one non-empty line (at most \(BenchOptions.maxReplyBytes) bytes) followed by the end of the connection"
            guard !known else { return shape }
            return shape + (o.mode == .sentence ? ": is this a sentence service?" : ": is this a daytime or qotd service?")
        case .errors:
            return errorsLine()
        case .nothingMeasured:
            var line = "nothing was measured: "
            switch o.mode {
            case .rr: line += "no round trip completed in the \(Self.seconds(o.duration)) window"
            case .stream: line += "no echoed byte came back in the \(Self.seconds(o.duration)) window"
            case .connect, .sentence: line += "no connection ended with a complete reply in the \(Self.seconds(o.duration)) window"
            case .idle: line += "no connection was still echoing after the hold"
            }
            if o.service == nil {
                switch o.mode {
                case .connect: line += "; connect expects a server that sends one line and closes, like daytime or qotd"
                case .sentence: line += "; sentence expects a server that sends one line and reads an acknowledgement"
                case .rr, .stream, .idle: line += "; \(o.mode.rawValue) expects an echo server"
                }
            }
            return line
        }
    }

    /// "488 of 1000 connections failed; the service's maxConnections is 512", or the counts
    /// and the first error when the config does not explain them.
    private func errorsLine() -> String {
        let o = options
        let c = counters
        let plural = c.errors == 1 ? "" : "s"
        var line: String
        if (o.mode == .rr || o.mode == .idle) && c.verified < o.connections {
            line = "\(o.connections - c.verified) of \(o.connections) connections failed"
        } else if o.mode == .connect || o.mode == .sentence {
            line = "\(c.errors) of \(c.opsTotal + c.errors) connections failed"
        } else {
            line = "\(c.errors) connection\(plural) failed during the run"
        }
        if let service = o.service, service.maxConnections < o.connections {
            return line + "; the service's maxConnections is \(service.maxConnections)"
        }
        let kinds = c.failureBreakdown.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
        line += " (\(kinds))"
        if let firstError {
            line += "; first error: \(firstError)"
        } else if c.eofErrors > 0 {
            line += "; the server closed connections while an answer was due"
        } else if c.timeouts > 0 {
            line += "; no progress for \(Self.seconds(o.timeout))"
        }
        return line
    }
}
