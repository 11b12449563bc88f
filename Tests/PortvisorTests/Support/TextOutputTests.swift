// Text on its way to a terminal: TextTable cells and text log lines escape every character that
// is not printable (C0, DEL, C1, U+2028/9), and tables stay aligned on the escaped text.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// No byte that could steer a terminal: nothing below 0x20 but "\n", no DEL, no UTF-8 C1
/// sequence (0xC2 0x80...0x9F), no U+2028/U+2029 (0xE2 0x80 0xA8/0xA9).
func holdsOnlyPrintableText(_ bytes: [UInt8]) -> Bool {
    for (i, byte) in bytes.enumerated() {
        if (byte < 0x20 && byte != 0x0A) || byte == 0x7F { return false }
        if byte == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) { return false }
        if byte == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 { return false }
    }
    return true
}

@Suite struct TextOutputTests {
    static let hostile = "a\u{0}\u{7}\r\u{1B}[2J\u{9B}\u{85}\u{7F}\u{2028}\nz"

    @Test func tableCellsAreEscapedAndAligned() {
        var table = TextTable(["NAME", "STATE"])
        table.add([Self.hostile, "running"])
        table.add(["b", "stopped"])
        let rendered = table.render()
        #expect(holdsOnlyPrintableText(Array(rendered.utf8)))
        let lines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines[1] == #"a\u{0}\u{7}\r\u{1B}[2J\u{9B}\u{85}\u{7F}\u{2028}\nz  running"#)
        #expect(lines[2].firstRange(of: "stopped")?.lowerBound.utf16Offset(in: lines[2])
                == lines[1].firstRange(of: "running")?.lowerBound.utf16Offset(in: lines[1]))
    }

    @Test func aRowLongerThanTheHeaderDoesNotTrap() {
        var table = TextTable(["A"])
        table.add(["x", "y", "z"])
        #expect(table.render() == "A\nx  y  z")
    }

    @Test func textLogLinesEscapeTheMessageAndService() {
        let sink = LogSink.memory()
        let logger = Logger(level: .debug, format: .text, sink: sink)
        logger.info("e\u{1B}", event: "test", "peer sent \(Self.hostile)")
        #expect(sink.lines.count == 1)
        let line = sink.lines[0]
        #expect(line.hasSuffix(#" info e\u{1B}: peer sent a\u{0}\u{7}\r\u{1B}[2J\u{9B}\u{85}\u{7F}\u{2028}\nz"#), "\(line)")
        #expect(holdsOnlyPrintableText(Array(line.utf8)) && !line.contains("\n"))
    }

    @Test func jsonLogLinesEscapeTheMessage() throws {
        let sink = LogSink.memory()
        Logger(level: .debug, format: .json, sink: sink).info("e", event: "test", Self.hostile)
        let line = try #require(sink.lines.first)
        #expect(holdsOnlyPrintableText(Array(line.utf8)) && !line.contains("\n"))
        #expect(try JSONParser.parse(line)["message"] == .string(Self.hostile))
    }
}
