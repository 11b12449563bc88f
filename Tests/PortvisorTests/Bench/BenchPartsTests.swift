// The bench's small parts: reply shapes, --ack escapes, the caps, the pattern's message offsets.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct BenchPartsTests {
    static func shape(_ pieces: [String]) -> BenchReplyShape {
        var shape = BenchReplyShape()
        for piece in pieces {
            var bytes = Array(piece.utf8)
            bytes.withUnsafeMutableBytes { shape.scan($0.baseAddress!, count: $0.count) }
        }
        return shape
    }

    @Test(arguments: [
        (["2026-11-25T13:02:02Z\r\n"], true),
        (["2026-11-25T", "13:02:02Z\r", "\n"], true),
        (["x\n"], true),
        (["\r\n"], false),
        (["\n"], false),
        (["no newline"], false),
        (["one\n", "two\n"], false),
        (["line\nand more"], false),
        ([], false),
    ])
    func replyShape(_ pieces: [String], _ valid: Bool) {
        #expect(Self.shape(pieces).isOneNonEmptyLine == valid, "\(pieces)")
    }

    @Test func ackEscapes() {
        #expect(BenchOptions.unescape(#"ACK\r\n"#) == Array("ACK\r\n".utf8))
        #expect(BenchOptions.unescape(#"a\tb\\c\"#) == Array("a\tb\\c\\".utf8))
        #expect(BenchOptions.unescape("plain") == Array("plain".utf8))
    }

    @Test func capsAreEnforced() throws {
        let address = SocketAddress(ip: .loopbackV4, port: 7)
        var options = BenchOptions(mode: .rr, address: address)
        try options.check()
        for change in [{ (o: inout BenchOptions) in o.duration = 601 }, { $0.warmup = 61 }, { $0.connections = 60_001 },
                       { $0.threads = 65 }, { $0.size = (1 << 20) + 1 }, { $0.size = 0 }, { $0.timeout = 0 }] {
            var bad = options
            change(&bad)
            #expect(throws: UsageError.self) { try bad.check() }
        }
        options = BenchOptions(mode: .sentence, address: address)
        options.ack = []
        #expect(throws: UsageError.self) { try options.check() }
        options.ack = Array("ok\n".utf8)
        options.size = 0  // unused by sentence
        try options.check()
        #expect(throws: UsageError.self) { try BenchOptions(mode: .connect, address: SocketAddress(ip: .loopbackV4, port: 0)).check() }
    }

    @Test func messagesDifferPerConnectionAndRound() {
        var offsets = Set<Int>()
        for connection in 0..<50 {
            for iteration in 0..<20 as Range<UInt64> {
                offsets.insert(BenchPattern.messageOffset(connection: connection, iteration: iteration))
            }
        }
        #expect(offsets.count == 1000)
        let pattern = BenchPattern()
        // The second copy continues the first, so any slice is contiguous.
        #expect(pattern.base[BenchPattern.period + 5] == pattern.base[5])
        #expect(pattern.matches(pattern.base + 123, count: 4096, at: BenchPattern.period + 123))
        #expect(!pattern.matches(pattern.base + 1, count: 64, at: 0))
    }
}
