// Writing roff source safely: plain text is escaped (backslashes, option dashes, non-ASCII, a
// leading dot or quote), and indented "term  text" blocks become tagged paragraphs.
import Portvisor

/// roff source built line by line, for ManPage.
struct Roff {
    private(set) var output = ""

    mutating func comment(_ text: String) { output += ".\\\" \(text)\n" }

    /// `.NAME ARG…`; each argument is plain text, escaped and quoted when needed.
    mutating func macro(_ name: String, _ arguments: String...) {
        output += "." + name + arguments.map { " " + Self.quote(Self.escape($0)) }.joined() + "\n"
    }

    /// One line of roff text (already escaped); guarded against being read as a request.
    mutating func line(_ roff: String) {
        output += (roff.hasPrefix(".") || roff.hasPrefix("'") ? "\\&" : "") + roff + "\n"
    }

    /// Plain text: lines are filled; a blank line starts a paragraph; a block of lines indented
    /// by two spaces is a list of `term  text` items (deeper indentation continues the text).
    mutating func text(_ plain: String) {
        var items: [(term: String, text: String)] = []
        func flushItems() {
            guard !items.isEmpty else { return }
            let width = (items.map(\.term.count).max() ?? 0) + 2
            macro("RS")
            for item in items {
                output += ".TP \(width)n\n"
                line(Self.bold(Self.escape(item.term)))
                line(Self.escape(item.text))
            }
            macro("RE")
            items = []
        }
        for raw in plain.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = String(raw.reversed().drop { $0 == " " }.reversed())
            if text.isEmpty {
                flushItems()
                macro("PP")
            } else if text.hasPrefix("    "), !items.isEmpty {
                items[items.count - 1].text += " " + text.drop { $0 == " " }
            } else if text.hasPrefix("  "), let item = Self.item(text) {
                items.append(item)
            } else {
                if !items.isEmpty {
                    flushItems()
                    macro("PP")
                }
                line(Self.escape(String(text.drop { $0 == " " })))
            }
        }
        flushItems()
    }

    /// `  term   text` → (term, text).
    private static func item(_ line: String) -> (term: String, text: String)? {
        let body = line.drop { $0 == " " }
        guard let gap = body.firstRange(of: "  ") else { return nil }
        let term = body[..<gap.lowerBound]
        let text = body[gap.upperBound...].drop { $0 == " " }
        guard !term.contains(" "), !text.isEmpty else { return nil }
        return (String(term), String(text))
    }

    /// Plain text as roff: `\` → `\e`, a dash that starts a word → `\-` (options stay
    /// copyable), anything outside ASCII → `\[uXXXX]`.
    static func escape(_ plain: String) -> String {
        var result = ""
        var previous: Character?
        for character in plain {
            if character == "\\" {
                result += "\\e"
            } else if character == "-", !(previous.map { $0.isLetter || $0.isNumber } ?? false) {
                result += "\\-"
            } else if let scalar = character.unicodeScalars.first, !character.isASCII {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\[u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + "]"
            } else {
                result.append(character)
            }
            previous = character
        }
        return result
    }

    static func bold(_ roff: String) -> String { "\\fB" + roff + "\\fR" }
    static func italic(_ roff: String) -> String { "\\fI" + roff + "\\fR" }

    private static func quote(_ argument: String) -> String {
        argument.isEmpty || argument.contains(" ") ? "\"" + argument.replacing("\"", with: "\\(dq") + "\"" : argument
    }
}
