// chargen (RFC 864): lines of 72 characters from the 95 printable ASCII characters (space to
// tilde), each line starting one character further on, ending in CRLF. The stream goes on
// until the client closes completely or an error ends it: a client that only shuts down its
// write side still gets the stream. Over UDP each datagram gets one reply of the next line(s).
//
// The whole stream repeats every 95 lines; ChargenPattern holds that cycle once, repeated so
// that any window of up to 64 KiB can be written from one contiguous, never-moving buffer.

extension KindName {
    public static let chargen: KindName = "chargen"
}

enum ChargenKind: StreamKind, DatagramKind {
    static let name = KindName.chargen
    typealias Runtime = ChargenRuntime
    typealias UDPRuntime = ChargenDatagramRuntime
    static let summary = "RFC 864: a stream of rotating 72-character lines until the client closes"
    static let transports: [TransportProtocol] = [.tcp, .udp]

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> ChargenService { ChargenService() }
    static func datagramService(_ config: ServiceConfig) -> ChargenDatagrams { ChargenDatagrams() }
}

/// What serves chargen on its worker (concrete, so the engine is compiled for chargen).
final class ChargenRuntime: StreamRuntime {
    typealias Kind = ChargenKind
    let engine: StreamEngine<ChargenService>
    init(engine: StreamEngine<ChargenService>) { self.engine = engine }
}

final class ChargenDatagramRuntime: DatagramRuntime {
    typealias Kind = ChargenKind
    let engine: DatagramEngine<ChargenDatagrams>
    init(engine: DatagramEngine<ChargenDatagrams>) { self.engine = engine }
}

/// Immutable after init (its memory is written once, then only read), hence @unchecked.
public final class ChargenPattern: @unchecked Sendable {
    public static let lineLength = 72
    public static let printable = 95
    /// One cycle: 95 lines of 74 bytes (72 characters and CRLF).
    public static let cycleLength = printable * (lineLength + 2)

    public static let shared = ChargenPattern()

    /// The cycle repeated enough times to hold any window of `maxWindow` bytes from any offset.
    public let bytes: [UInt8]
    public let maxWindow = 65536
    /// `bytes` in memory that never moves or goes away (the shared pattern lives forever), so
    /// a step can hand out windows of it.
    let storage: UnsafeRawBufferPointer

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
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        memory.copyBytes(from: bytes)
        storage = UnsafeRawBufferPointer(memory)
    }

    /// `count` bytes of the stream starting at stream offset `offset` (for tests and UDP).
    public func slice(from offset: Int, count: Int) -> ArraySlice<UInt8> {
        let start = offset % Self.cycleLength
        return bytes[start..<(start + min(count, maxWindow))]
    }

    /// The window of at most `maxWindow` bytes starting at stream offset `offset`.
    func window(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        let start = offset % Self.cycleLength
        return UnsafeRawBufferPointer(rebasing: storage[start..<(start + min(count, maxWindow))])
    }
}

public struct ChargenService: StreamService {
    public init() {}
    public func open(wall: WallTime) -> (ChargenConnection, Step) { (ChargenConnection(), .generate) }
}

public struct ChargenConnection: StreamConnection {
    /// The offset in the character stream (below one cycle).
    var offset: Int32 = 0

    /// Input is read and dropped.
    public func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step { .generate }

    /// A half-close is not the end (RFC 864: "until the calling user terminates the
    /// connection"): keep generating; the write that fails after a full close ends it.
    public func endOfInput() -> Step { Step(then: .generateOnly) }

    public func generate() -> UnsafeRawBufferPointer {
        ChargenPattern.shared.window(at: Int(offset), count: ChargenPattern.shared.maxWindow)
    }

    public mutating func generated(_ count: Int) {
        offset = Int32((Int(offset) + count) % ChargenPattern.cycleLength)
    }
}

/// UDP: each datagram gets one reply of up to 512 bytes of the pattern (RFC 864 says "a random
/// number between 0 and 512"), the lines starting where the last reply stopped.
public struct ChargenDatagrams: DatagramService {
    public static let replyBytes = 512
    var line = 0

    public init() {}

    public mutating func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply {
        let start = line * (ChargenPattern.lineLength + 2)
        line = (line + 1) % ChargenPattern.printable
        return .stream(ChargenPattern.shared.window(at: start, count: Self.replyBytes), unit: ChargenPattern.lineLength + 2)
    }
}
