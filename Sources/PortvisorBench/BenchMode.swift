// The five load patterns of `portvisor bench` (the same as the C tcpload's) and their defaults.
import Portvisor

/// What a bench run does with each connection.
public enum BenchMode: String, Sendable, CaseIterable {
    /// Send a message, wait for its full echo, check it, repeat; latency per round trip.
    case rr
    /// Push a pseudo-random stream with a bounded amount unechoed and check the echo; MB/s.
    case stream
    /// Connect, read one line to end of file, close; connections per second (daytime).
    case connect
    /// Like connect, but acknowledge the line before reading to end of file (sentence).
    case sentence
    /// Open connections, prove each with an echo, hold them, prove them again.
    case idle

    /// rr, stream and idle open every connection before the clock starts; connect and sentence
    /// open one per operation.
    var opensConnectionsFirst: Bool { self == .rr || self == .stream || self == .idle }

    /// Whether the target must echo (rr, stream, idle) rather than send one line (connect, sentence).
    public var expectsEcho: Bool { opensConnectionsFirst }

    /// rr: message size; stream: bytes per write; idle: probe size; unused by connect and sentence.
    public var defaultSize: Int {
        switch self {
        case .rr: return 64
        case .stream: return 65536
        case .idle: return 16
        case .connect, .sentence: return 0
        }
    }

    public var defaultConnections: Int { self == .idle ? 100 : 1 }

    /// Seconds of unmeasured load before the measured window: 1 for rr and stream, else 0.
    public var defaultWarmup: Double { self == .rr || self == .stream ? 1 : 0 }

    /// What the headline rate counts.
    var rateUnit: String {
        switch self {
        case .rr: return "rps"
        case .stream: return "MB/s"
        case .connect, .sentence: return "conn/s"
        case .idle: return "held"
        }
    }
}
