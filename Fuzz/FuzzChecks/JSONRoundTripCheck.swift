// Fuzz property of the JSON parser and writer: whatever the parser accepts, the writer's compact
// and pretty forms parse back to the same value; a rejection points inside the document.
import Portvisor

/// Checks `JSONParser.parse` against `JSONWriter` (run as part of the config target).
enum JSONRoundTripCheck {
    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(input)
        } catch {
            let lines = input.count(where: { $0 == 0x0A }) + 1
            try expect(error.line >= 1 && error.line <= lines && error.column >= 1,
                       "error position \(error.line):\(error.column) outside \(lines) lines: \(preview(input))")
            return
        }
        for (form, text) in [("compact", JSONWriter.compact(value)), ("pretty", JSONWriter.pretty(value))] {
            let again: JSONValue
            do {
                again = try JSONParser.parse(text)
            } catch {
                throw FuzzFailure("the \(form) form does not parse (\(error)): \(preview(Array(text.utf8)))")
            }
            try expect(again == value, "the \(form) form reads back differently: \(preview(Array(text.utf8)))")
        }
    }
}
