// The shape of a daytime or sentence reply, tracked as its bytes arrive in pieces: enough to
// decide at end of file whether it was exactly one non-empty line, without keeping the bytes.
import Portvisor

/// Counts and positions of a reply read so far.
struct BenchReplyShape: Equatable {
    private(set) var total = 0
    /// Offset of the first "\n", -1 before one arrives.
    private(set) var firstNewline = -1
    private(set) var newlines = 0
    private var firstByte: UInt8 = 0
    private var lastByte: UInt8 = 0

    /// Takes the next `count` bytes of the reply.
    mutating func scan(_ bytes: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        let buffer = UnsafeRawBufferPointer(start: bytes, count: count)
        if total == 0 { firstByte = buffer[0] }
        for i in 0..<count where buffer[i] == 10 {
            if firstNewline < 0 { firstNewline = total + i }
            newlines += 1
        }
        lastByte = buffer[count - 1]
        total += count
    }

    var hasLine: Bool { firstNewline >= 0 }

    /// Exactly one line ending in "\n" (or "\r\n") with something before its end: what daytime
    /// sends, and all a sentence server may send.
    var isOneNonEmptyLine: Bool {
        guard newlines == 1, lastByte == 10, firstNewline > 0 else { return false }
        return !(firstNewline == 1 && firstByte == 13)
    }
}
