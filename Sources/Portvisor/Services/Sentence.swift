// sentence: on accept, the sentence and CRLF; then one acknowledgement line from the client
// (ends at LF, any content) within ackTimeout (a total deadline from accept, not reset per byte)
// and maxAckBytes; then close. Every connection ends counted once: acknowledged, or
// unacknowledged (end of file, the deadline, too long, or closed by the engine first).
// `idleTimeout` does not apply. No UDP form. AckScanner is the pure part that finds the line.
import Synchronization

extension KindName {
    public static let sentence: KindName = "sentence"
}

public struct SentenceOptions: KindOptions, Equatable {
    public static let builtInSentence = "Every connection deserves a complete sentence."
    public static let defaultAckTimeout = 10.0
    public static let defaultMaxAckBytes = 1024
    public static let maxSentenceBytes = 1000

    /// Served round-robin, one per connection; never empty.
    public var sentences: [String]
    /// Seconds from accept within which the acknowledgement line must arrive (a total deadline).
    public var ackTimeout: Double
    /// Most bytes of the acknowledgement line, its terminator included.
    public var maxAckBytes: Int

    public init(sentences: [String] = [SentenceOptions.builtInSentence],
                ackTimeout: Double = SentenceOptions.defaultAckTimeout,
                maxAckBytes: Int = SentenceOptions.defaultMaxAckBytes) {
        self.sentences = sentences
        self.ackTimeout = ackTimeout
        self.maxAckBytes = maxAckBytes
    }
}

enum SentenceKind: StreamKind {
    static let name = KindName.sentence
    typealias Runtime = SentenceRuntime
    static let summary = "sends one sentence, then reads one acknowledgement line (ackTimeout, maxAckBytes)"
    static let optionKeys = ["sentence", "sentences", "ackTimeout", "maxAckBytes"]
    static var defaultOptions: any KindOptions { SentenceOptions() }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        var options = SentenceOptions()
        let single = fields.value("sentence")
        let many = fields.value("sentences")
        if single != nil && many != nil {
            validator.add(fields.path("sentences"), "set either \"sentence\" or \"sentences\", not both")
        } else if single != nil {
            if let text = validator.string(fields, "sentence"), checkSentence(text, at: fields.path("sentence"), &validator) {
                options.sentences = [text]
            }
        } else if let many {
            let path = fields.path("sentences")
            if case .array(let items) = many {
                if items.isEmpty { validator.add(path, "must hold at least one sentence") }
                var sentences: [String] = []
                for (i, item) in items.enumerated() {
                    guard case .string(let text) = item else {
                        validator.add("\(path)[\(i)]", "expected a string, found \(validator.describe(item))")
                        continue
                    }
                    if checkSentence(text, at: "\(path)[\(i)]", &validator) { sentences.append(text) }
                }
                if !sentences.isEmpty { options.sentences = sentences }
            } else {
                validator.add(path, "expected an array of strings, found \(validator.describe(many))")
            }
        }
        options.ackTimeout = validator.seconds(fields, "ackTimeout") ?? options.ackTimeout
        options.maxAckBytes = validator.integer(fields, "maxAckBytes", in: 1...(1 << 20)) ?? options.maxAckBytes
        return options
    }

    private static func checkSentence(_ text: String, at path: String, _ validator: inout ConfigValidator) -> Bool {
        let bytes = text.utf8.count
        if bytes == 0 {
            validator.add(path, "is empty; a sentence needs 1...\(SentenceOptions.maxSentenceBytes) bytes")
        } else if bytes > SentenceOptions.maxSentenceBytes {
            validator.add(path, "is \(bytes) bytes, longer than \(SentenceOptions.maxSentenceBytes)")
        } else if text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
            validator.add(path, "must be one line: it contains CR or LF")
        } else {
            return true
        }
        return false
    }

    static func makeStats() -> (any KindStats)? { SentenceStats() }

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> SentenceService {
        SentenceService(config.options as? SentenceOptions ?? SentenceOptions(), stats: stats as? SentenceStats ?? SentenceStats())
    }
}

/// What serves sentence on its worker (concrete, so the engine is compiled for sentence).
final class SentenceRuntime: StreamRuntime {
    typealias Kind = SentenceKind
    let engine: StreamEngine<SentenceService>
    init(engine: StreamEngine<SentenceService>) { self.engine = engine }
}

/// A sentence service's counters. Safe from any thread.
public final class SentenceStats: KindStats {
    public let acknowledged = Atomic<Int>(0)
    public let unacknowledged = Atomic<Int>(0)
    /// Connections the ackTimeout closed (also counted unacknowledged).
    public let ackTimeouts = Atomic<Int>(0)

    public init() {}

    public func snapshot() -> any KindSnapshot {
        SentenceSnapshot(acknowledged: acknowledged.load(ordering: .relaxed), unacknowledged: unacknowledged.load(ordering: .relaxed),
                         ackTimeouts: ackTimeouts.load(ordering: .relaxed))
    }
}

/// `"sentences": { "acknowledged", "unacknowledged" }` in status.
public struct SentenceSnapshot: KindSnapshot, Equatable {
    public var acknowledged: Int
    public var unacknowledged: Int
    public var ackTimeouts: Int

    public var deadlineTimeouts: Int { ackTimeouts }

    public func writeStatus(into out: JSONOutput) {
        out.raw(",\n      "); out.key("sentences")
        out.raw("{ "); out.key("acknowledged"); out.int(acknowledged)
        out.raw(", "); out.key("unacknowledged"); out.int(unacknowledged)
        out.raw(" }")
    }

    public func metrics(service: String) -> [MetricFamily] {
        [MetricFamily("portvisor_sentences_acknowledged_total", .counter, "Sentence connections that sent their acknowledgement line.",
                      [MetricSample(["service": service], acknowledged)]),
         MetricFamily("portvisor_sentences_unacknowledged_total", .counter, "Sentence connections closed without an acknowledgement.",
                      [MetricSample(["service": service], unacknowledged)])]
    }
}

extension ServiceSnapshot {
    /// sentence: connections that acknowledged (0 for other kinds).
    public var acknowledged: Int { (kind as? SentenceSnapshot)?.acknowledged ?? 0 }
    /// sentence: connections closed without an acknowledgement (0 for other kinds).
    public var unacknowledged: Int { (kind as? SentenceSnapshot)?.unacknowledged ?? 0 }
}

/// One service's settings: its sentences (round-robin), the ack deadline and bound.
public struct SentenceService: StreamService {
    var rotation: SentenceRotation
    let ackNanos: MonotonicNanos
    let maxAckBytes: Int
    let stats: SentenceStats

    public init(_ options: SentenceOptions, stats: SentenceStats) {
        rotation = SentenceRotation(options.sentences)
        ackNanos = Clock.nanos(options.ackTimeout)
        maxAckBytes = options.maxAckBytes
        self.stats = stats
    }

    public mutating func open(wall: WallTime) -> (SentenceConnection, Step) {
        (SentenceConnection(scanner: AckScanner(maxBytes: maxAckBytes), ackNanos: ackNanos, stats: stats),
         Step(.bytes(rotation.nextLine()), then: .read))
    }
}

/// One sentence connection: the ack line so far, the deadline, and whether it is still
/// waiting for the line.
public struct SentenceConnection: StreamConnection {
    var scanner: AckScanner
    let ackNanos: MonotonicNanos
    /// Outlives every connection: the service's stats live as long as the service.
    unowned(unsafe) let stats: SentenceStats
    /// The outcome is counted (acknowledged or not); nothing more is read.
    var counted = false

    public static var idleTimeoutApplies: Bool { false }

    init(scanner: AckScanner, ackNanos: MonotonicNanos, stats: SentenceStats) {
        self.scanner = scanner
        self.ackNanos = ackNanos
        self.stats = stats
    }

    public mutating func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step {
        guard !counted else { return .read }
        switch scanner.scan(input) {
        case .needMore:
            return .read
        case .acknowledged:
            count(acknowledged: true)
            return Step(then: .finish)  // the sentence may still be flushing
        case .tooLong:
            count(acknowledged: false)
            return Step(then: .close("acknowledgement longer than maxAckBytes"))
        }
    }

    public mutating func endOfInput() -> Step {
        count(acknowledged: false)
        return Step(then: .close("client closed before acknowledging"))
    }

    /// ackTimeout, counted from accept.
    public func deadline(openedAt: MonotonicNanos) -> MonotonicNanos? { openedAt + ackNanos }

    public mutating func deadlinePassed(now: MonotonicNanos) -> Step {
        guard !counted else { return Step(then: .close("ackTimeout passed while sending")) }
        stats.ackTimeouts.wrappingAdd(1, ordering: .relaxed)
        count(acknowledged: false)
        return Step(then: .close("no acknowledgement within \(formatSeconds(Double(ackNanos) / 1e9)) (ackTimeout)"))
    }

    public mutating func abandoned() {
        if !counted { count(acknowledged: false) }
    }

    private mutating func count(acknowledged: Bool) {
        guard !counted else { return }
        counted = true
        if acknowledged {
            stats.acknowledged.wrappingAdd(1, ordering: .relaxed)
        } else {
            stats.unacknowledged.wrappingAdd(1, ordering: .relaxed)
        }
    }
}

/// Finds the end of the acknowledgement line across reads.
public struct AckScanner: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// No LF yet and still within the limit.
        case needMore
        /// An LF arrived within `maxAckBytes` bytes (the terminator included).
        case acknowledged
        /// `maxAckBytes` bytes arrived without an LF.
        case tooLong
    }

    public let maxBytes: Int
    /// Bytes of the line seen so far.
    public private(set) var consumed = 0

    public init(maxBytes: Int, consumed: Int = 0) {
        self.maxBytes = maxBytes
        self.consumed = consumed
    }

    /// Scans the next bytes from the client. Bytes after the LF (or past the limit) are ignored.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let room = maxBytes - consumed
        let window = min(room, bytes.count)
        if window > 0, let base = bytes.baseAddress, Memory.firstIndex(of: 0x0A, in: base, count: window) != nil {
            consumed += window
            return .acknowledged
        }
        consumed += window
        return consumed >= maxBytes ? .tooLong : .needMore
    }

    public mutating func scan(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { scan($0) }
    }
}

/// The sentences of one service, encoded once, served round-robin. Loop-thread only.
public struct SentenceRotation {
    private let lines: [[UInt8]]
    private var next = 0

    public init(_ sentences: [String]) {
        lines = sentences.map { Array(($0 + "\r\n").utf8) }
    }

    /// The next sentence with its CRLF.
    public mutating func nextLine() -> [UInt8] {
        defer { next = (next + 1) % lines.count }
        return lines[next]
    }
}
