// sentence: on accept, the sentence and CRLF; then one acknowledgement line from the client
// (ends at LF, any content) within ackTimeout and maxAckBytes; then close. AckScanner is the
// pure part: feed it bytes, it says when the line is complete or too long.

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
