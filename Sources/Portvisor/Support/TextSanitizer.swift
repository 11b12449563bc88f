// Text from outside (a config file, argv, a status endpoint's JSON, a client) on its way to a
// terminal: every character that is not printable is escaped, so nothing hostile can move the
// cursor, clear the screen, or end a line early.

public enum TextSanitizer {
    /// `text` with C0 controls, DEL, C1 controls (U+0080–U+009F) and the Unicode line and
    /// paragraph separators escaped as `\n`, `\r`, `\t` or `\u{…}`; everything else unchanged.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    @inline(__always)
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (value >= 0x7F && value <= 0x9F) || value == 0x2028 || value == 0x2029
    }
}
