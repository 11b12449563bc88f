// What a bench worker counts: operations, bytes, connection events and each kind of failure.
// Plain integers owned by one thread; the runner adds the workers' counters up after joining them.
import Portvisor

/// The kinds of failure a bench run tells apart.
enum BenchFailure {
    /// connect failed (refused, unreachable, no descriptor left).
    case connect
    /// read or write failed (reset, broken pipe).
    case io
    /// The server closed while an answer was still due.
    case eof
    /// No progress for longer than the timeout.
    case timeout
    /// An echo differed from what was sent: verification failed.
    case mismatch
    /// A daytime or sentence reply was not exactly one non-empty line: verification failed.
    case invalid
}

/// Counts from one worker, or the sum over all of them.
public struct BenchCounters: Sendable, Equatable {
    /// Operations completed inside the measured window (rr round trips, connect/sentence replies).
    public var ops = 0
    /// Operations completed at any time, warm-up included.
    public var opsTotal = 0
    /// stream: verified echo bytes received inside the window.
    public var bytesEchoed = 0
    /// stream: bytes sent inside the window.
    public var bytesSent = 0
    /// connect/sentence: bytes of the replies counted in `ops`.
    public var replyBytes = 0

    public var connectErrors = 0
    public var ioErrors = 0
    public var eofErrors = 0
    public var timeouts = 0
    public var mismatches = 0
    public var invalidReplies = 0

    /// rr/stream/idle: connections established, and (rr, idle) proven by a first round trip.
    public var established = 0
    public var verified = 0
    /// Connections set up again after a failure.
    public var reconnects = 0
    /// idle: connections lost while held or failing the final proof, and those still echoing.
    public var dropped = 0
    public var stillEchoing = 0
    /// Bytes that arrived on a connection where nothing was due.
    public var unexpected = 0

    public init() {}

    /// Every failure of any kind.
    public var errors: Int { connectErrors + ioErrors + eofErrors + timeouts + mismatches + invalidReplies }

    /// Failures that mean the server answered wrongly (exit status 1).
    public var verificationFailures: Int { mismatches + invalidReplies }

    @inline(__always)
    mutating func count(_ failure: BenchFailure) {
        switch failure {
        case .connect: connectErrors += 1
        case .io: ioErrors += 1
        case .eof: eofErrors += 1
        case .timeout: timeouts += 1
        case .mismatch: mismatches += 1
        case .invalid: invalidReplies += 1
        }
    }

    public mutating func add(_ other: BenchCounters) {
        ops += other.ops
        opsTotal += other.opsTotal
        bytesEchoed += other.bytesEchoed
        bytesSent += other.bytesSent
        replyBytes += other.replyBytes
        connectErrors += other.connectErrors
        ioErrors += other.ioErrors
        eofErrors += other.eofErrors
        timeouts += other.timeouts
        mismatches += other.mismatches
        invalidReplies += other.invalidReplies
        established += other.established
        verified += other.verified
        reconnects += other.reconnects
        dropped += other.dropped
        stillEchoing += other.stillEchoing
        unexpected += other.unexpected
    }

    /// The failure kinds as (name, count), in report order.
    public var failureBreakdown: [(String, Int)] {
        [("connect", connectErrors), ("io", ioErrors), ("eof", eofErrors), ("timeout", timeouts),
         ("mismatch", mismatches), ("invalid", invalidReplies)]
    }
}
