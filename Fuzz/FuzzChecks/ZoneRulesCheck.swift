// Fuzz properties of the tz database reader: any bytes as a TZif file, and the first line as the
// POSIX TZ rule of a TZif footer, either fail cleanly or give rules that answer for every instant
// of 1900...2100 the same way twice, with offsets a TZif file or POSIX rule can express.
import Portvisor

/// Checks `ZoneRules.parse(_:)`, including the POSIX TZ rule parser behind its footer.
public enum ZoneRulesCheck: FuzzCheck {
    public static let name = "zone-rules"
    /// Every 73 days and a few hours from 1900 to 2100: each month, weekday and hour is visited.
    static let instants: [Int64] = Array(stride(from: Int64(-2_208_988_800), through: 4_102_444_800, by: 73 * 86_400 + 3_607))

    public static func check(_ input: [UInt8]) throws(FuzzFailure) {
        if let rules = ZoneRules.parse(input) {
            try checkAnswers(rules, maxOffset: 1 << 31, what: "TZif \(preview(input, limit: 40))")
        }
        // The same bytes as the POSIX TZ rule in the footer of an otherwise empty TZif file.
        let footer = Array(input.prefix(while: { $0 != 0x0A }).prefix(64))
        guard let rules = ZoneRules.parse(tzif(footer: footer)) else { throw FuzzFailure("a TZif file with one type was refused") }
        // hh:mm:ss with at most four digits each, and daylight an hour off when not given.
        try checkAnswers(rules, maxOffset: 9999 * 3600 + 9999 * 60 + 9999 + 3600, what: "TZ \(preview(footer))")
    }

    /// A version 2 TZif file with no transitions, one type (UTC), and `footer` as its TZ rule.
    static func tzif(footer: [UInt8]) -> [UInt8] {
        // Counts: isut, isstd, leap, time, type, char.
        let header = Array("TZif2".utf8) + [UInt8](repeating: 0, count: 15) + [0, 0, 0, 0, 1, 4].flatMap { [0, 0, 0, UInt8($0)] }
        let data: [UInt8] = [0, 0, 0, 0, 0, 0] + Array("UTC".utf8) + [0]
        return header + data + header + data + [0x0A] + footer + [0x0A]
    }

    static func checkAnswers(_ rules: ZoneRules, maxOffset: Int, what: String) throws(FuzzFailure) {
        for instant in instants {
            let type = rules.localType(at: instant)
            try expect(type == rules.localType(at: instant), "\(what): two answers at \(instant)")
            try expect(abs(type.offset) <= maxOffset, "\(what): offset \(type.offset) at \(instant)")
        }
    }
}
