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

    /// The built-in kinds that speak this mode's protocol: an echo for rr, stream and idle; a
    /// server that sends one line and closes for connect; a sentence service for sentence.
    public var kinds: [String] {
        switch self {
        case .rr, .stream, .idle: return ["echo"]
        case .connect: return ["daytime", "qotd"]
        case .sentence: return ["sentence"]
        }
    }

    /// The mode that measures a built-in `kind`, if one does.
    public static func suited(to kind: String) -> BenchMode? {
        switch kind {
        case "echo": return .rr
        case "daytime", "qotd": return .connect
        case "sentence": return .sentence
        default: return nil
        }
    }

    /// What this mode needs of the server, for the line that refuses another kind.
    var needs: String {
        switch self {
        case .rr, .stream, .idle: return "an echo service"
        case .connect: return "a service that sends one line and closes (daytime or qotd)"
        case .sentence: return "a sentence service"
        }
    }

    /// Why this mode cannot measure `service`, or nil when it can: bench speaks TCP only, and
    /// a built-in kind must speak the mode's protocol (a mode run against the wrong kind only
    /// reports errors). A kind bench does not know is let through.
    public func refusal(of service: BenchService) -> String? {
        if service.isUDP { return "\(service.name) is a UDP service; bench measures TCP" }
        guard Self.builtInKinds.contains(service.kind), !kinds.contains(service.kind) else { return nil }
        let suggestion = Self.suited(to: service.kind).map { " (bench \($0.rawValue) measures it)" } ?? ""
        return "\(rawValue) needs \(needs); \(service.name) is of kind \(service.kind)\(suggestion)"
    }

    /// The kinds whose answers are fixed by their protocol, all of which bench can judge.
    static let builtInKinds: Set<String> = ["daytime", "echo", "sentence", "discard", "chargen", "time", "qotd"]

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
