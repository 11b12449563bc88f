// chargen (RFC 864): lines of 72 characters from the 95 printable ASCII characters (space to
// tilde), each line starting one character further on, ending in CRLF. The whole stream repeats
// every 95 lines; ChargenPattern holds that cycle once, repeated so any window of up to 64 KiB
// can be written from one contiguous buffer.

public final class ChargenPattern: Sendable {
    public static let lineLength = 72
    public static let printable = 95
    /// One cycle: 95 lines of 74 bytes (72 characters and CRLF).
    public static let cycleLength = printable * (lineLength + 2)

    public static let shared = ChargenPattern()

    /// The cycle repeated enough times to hold any window of `maxWindow` bytes from any offset.
    public let bytes: [UInt8]
    public let maxWindow = 65536

    private init() {
        var cycle: [UInt8] = []
        cycle.reserveCapacity(Self.cycleLength)
        for line in 0..<Self.printable {
            for column in 0..<Self.lineLength { cycle.append(UInt8(32 + (line + column) % Self.printable)) }
            cycle += [0x0D, 0x0A]
        }
        var bytes: [UInt8] = []
        while bytes.count < Self.cycleLength + maxWindow { bytes += cycle }
        self.bytes = bytes
    }

    /// `count` bytes of the stream starting at stream offset `offset` (for tests and UDP).
    public func slice(from offset: Int, count: Int) -> ArraySlice<UInt8> {
        let start = offset % Self.cycleLength
        return bytes[start..<(start + min(count, maxWindow))]
    }
}
