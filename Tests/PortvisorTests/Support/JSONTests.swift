// The JSON parser and writer: strictness, positions in errors, order and duplicates kept.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct JSONTests {
    @Test func parsesEveryType() throws {
        let value = try JSONParser.parse(#"{"a": [1, -2.5e1, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}}"#)
        #expect(value == .object([
            JSONMember("a", .array([.int(1), .number(JSONNumber(text: "-2.5e1", double: -25)), .bool(true), .bool(false),
                                    .null, .string("x\né😀")])),
            JSONMember("b", .object([])),
        ]))
    }

    @Test func keepsOrderAndDuplicates() throws {
        let value = try JSONParser.parse(#"{"z": 1, "a": 2, "z": 3}"#)
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["z", "a", "z"])
        #expect(value["z"] == .int(1))
    }

    @Test func integersAreRecognised() throws {
        #expect(JSONNumber(text: "2e4", double: 2e4).integer == 20000)
        #expect(JSONNumber(text: "2.5", double: 2.5).integer == nil)
        #expect(JSONNumber(text: "1e300", double: 1e300).integer == nil)
    }

    @Test(arguments: [
        ("", "line 1, column 1: unexpected end of input, expected a value"),
        ("{", "line 1, column 2: unexpected end of input, expected a string key"),
        ("{\"a\" 1}", "line 1, column 6: unexpected \"1\", expected \":\" after a key"),
        ("[1,]", "line 1, column 4: unexpected \"]\", expected a value"),
        ("[1 2]", "line 1, column 4: unexpected \"2\", expected \",\" or \"]\" in an array"),
        ("01", "line 1, column 2: leading zeros are not allowed in a number"),
        ("\"a", "line 1, column 3: unterminated string"),
        ("\"\\x\"", "line 1, column 3: invalid escape \\x"),
        ("\"\\ud800\"", "line 1, column 8: unpaired UTF-16 surrogate in \\u escape"),
        ("tru", "line 1, column 1: unexpected \"t\", expected a value"),
        ("{}\n x", "line 2, column 2: unexpected \"x\" after the JSON value"),
        ("\"\u{1}\"", "line 1, column 2: control character 0x1 inside a string (escape it)"),
        ("[1.]", "line 1, column 4: expected a digit after the decimal point"),
    ])
    func errorsNameLineAndColumn(input: String, message: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(input) }
        do {
            _ = try JSONParser.parse(input)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func invalidUTF8IsRejected() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "[", count: 100_000)
        do {
            _ = try JSONParser.parse(deep)
            Issue.record("parsed 100000 levels")
        } catch {
            #expect(error.reason == "nesting deeper than 64 levels")
        }
        _ = try JSONParser.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))
    }

    @Test func writerRoundTrips() throws {
        let value: JSONValue = .fields([
            "s": .string("a\"b\\c\n\u{1}é"), "n": .int(-3), "d": .double(0.5), "a": .array([.null, .bool(true)]), "o": .fields([:]),
        ])
        #expect(JSONWriter.compact(value) == #"{"s":"a\"b\\c\n\u0001é","n":-3,"d":0.5,"a":[null,true],"o":{}}"#)
        #expect(try JSONParser.parse(JSONWriter.pretty(value)) == value)
    }

    @Test func writerEscapesEveryUnprintableCharacter() throws {
        let text = "a\u{7F}b\u{80}\u{85}\u{9B}\u{9F}c\u{2028}\u{2029}\u{1B}[2J\u{A0}é"
        var out = ""
        JSONWriter.writeString(text, into: &out)
        #expect(out == #""a\u007fb\u0080\u0085\u009b\u009fc\u2028\u2029\u001b[2J\#u{A0}é""#)
        #expect(out.unicodeScalars.allSatisfy { !TextSanitizer.needsEscape($0) })
        #expect(try JSONParser.parse(out) == .string(text))
    }
}
