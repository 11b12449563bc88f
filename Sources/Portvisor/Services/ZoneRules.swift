// Time zones read straight from the system's tz database (TZif files, RFC 8536, and the
// POSIX TZ rule in their footer), so daytime can print the zone's real abbreviation ("CET")
// and offset without calling setenv/tzset, which is not thread-safe.

/// The offset, daylight-saving flag and abbreviation in force at some instant.
public struct LocalTimeType: Sendable, Equatable {
    /// Seconds east of UTC.
    public var offset: Int
    public var isDST: Bool
    public var abbreviation: String
}

/// One zone's rules: transitions from a TZif file plus the POSIX rule for later times.
public struct ZoneRules: Sendable {
    public static let databasePath = "/usr/share/zoneinfo"

    let transitions: [Int64]
    let transitionTypes: [Int]
    let types: [LocalTimeType]
    let footer: PosixTimeZone?

    /// The rules of `name` (`Europe/Paris`) from the tz database; nil when unknown.
    public static func named(_ name: String) -> ZoneRules? {
        guard isSafeName(name) else { return nil }
        guard let bytes = try? FileReader.readSmallFile("\(databasePath)/\(name)", limit: 1 << 20) else { return nil }
        return parse(bytes)
    }

    /// The machine's zone: `$TZ` (a name, `:name`, or a POSIX rule), else /etc/localtime; UTC
    /// when neither can be read.
    public static func local(environment: [String: String]) -> ZoneRules {
        if let tz = environment["TZ"], !tz.isEmpty {
            let name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
            if let rules = named(name) { return rules }
            if let rule = PosixTimeZone(parsing: tz) { return ZoneRules(transitions: [], transitionTypes: [], types: [], footer: rule) }
        }
        if let bytes = try? FileReader.readSmallFile("/etc/localtime", limit: 1 << 20), let rules = parse(bytes) { return rules }
        return .utc
    }

    public static let utc = ZoneRules(transitions: [], transitionTypes: [], types: [LocalTimeType(offset: 0, isDST: false, abbreviation: "UTC")], footer: nil)

    /// Zone names are relative paths of letters, digits and `_+-/`, never `..`.
    static func isSafeName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), name.utf8.count <= 255 else { return false }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            (scalar.value < 128) && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_+-/".unicodeScalars.contains(scalar))
        }
        return allowed && !name.split(separator: "/").contains { $0 == ".." || $0 == "." || $0.isEmpty }
    }

    /// The local time type at `seconds` since the epoch (UTC).
    public func localType(at seconds: Int64) -> LocalTimeType {
        if let last = transitions.last, seconds >= last, let footer {
            return footer.localType(at: seconds)
        }
        if transitions.isEmpty {
            if let footer { return footer.localType(at: seconds) }
            return types.first ?? LocalTimeType(offset: 0, isDST: false, abbreviation: "UTC")
        }
        if seconds < transitions[0] { return types[0] }
        // The last transition at or before `seconds`.
        var low = 0, high = transitions.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= seconds { low = middle } else { high = middle - 1 }
        }
        return types[transitionTypes[low]]
    }

    // MARK: TZif parsing

    /// Parses a TZif file (version 1, 2, 3 or 4); uses the 64-bit data when present.
    public static func parse(_ bytes: [UInt8]) -> ZoneRules? {
        var reader = ByteReader(bytes: bytes)
        guard let first = reader.header() else { return nil }
        if first.version >= 2 {
            // Skip the 32-bit block, then read the 64-bit one.
            guard reader.skip(first.dataLength(timeSize: 4)), let second = reader.header() else { return nil }
            guard let rules = reader.data(second, timeSize: 8) else { return nil }
            let footer = reader.footer().flatMap(PosixTimeZone.init(parsing:))
            return ZoneRules(transitions: rules.0, transitionTypes: rules.1, types: rules.2, footer: footer)
        }
        guard let rules = reader.data(first, timeSize: 4) else { return nil }
        return ZoneRules(transitions: rules.0, transitionTypes: rules.1, types: rules.2, footer: nil)
    }

    private struct Header {
        var version: Int
        var isUTCCount, isStdCount, leapCount, timeCount, typeCount, charCount: Int

        func dataLength(timeSize: Int) -> Int {
            timeCount * timeSize + timeCount + typeCount * 6 + charCount + leapCount * (timeSize + 4) + isStdCount + isUTCCount
        }
    }

    private struct ByteReader {
        let bytes: [UInt8]
        var index = 0

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, index + count <= bytes.count else { return false }
            index += count
            return true
        }

        mutating func integer(_ size: Int) -> Int64? {
            guard index + size <= bytes.count else { return nil }
            var value: UInt64 = 0
            for i in 0..<size { value = value << 8 | UInt64(bytes[index + i]) }
            index += size
            return size == 4 ? Int64(Int32(bitPattern: UInt32(value))) : Int64(bitPattern: value)
        }

        mutating func header() -> Header? {
            guard index + 44 <= bytes.count, Array(bytes[index..<(index + 4)]) == Array("TZif".utf8) else { return nil }
            let versionByte = bytes[index + 4]
            let version = versionByte == 0 ? 1 : Int(versionByte) - 48
            index += 20
            var counts: [Int] = []
            for _ in 0..<6 {
                guard let count = integer(4), count >= 0, count < 1 << 20 else { return nil }
                counts.append(Int(count))
            }
            guard version >= 1, counts[4] > 0 else { return nil }
            return Header(version: version, isUTCCount: counts[0], isStdCount: counts[1], leapCount: counts[2],
                          timeCount: counts[3], typeCount: counts[4], charCount: counts[5])
        }

        mutating func data(_ header: Header, timeSize: Int) -> ([Int64], [Int], [LocalTimeType])? {
            var transitions: [Int64] = []
            for _ in 0..<header.timeCount {
                guard let time = integer(timeSize) else { return nil }
                transitions.append(time)
            }
            var indices: [Int] = []
            for _ in 0..<header.timeCount {
                guard let typeIndex = integer(1), typeIndex < header.typeCount else { return nil }
                indices.append(Int(typeIndex))
            }
            var raw: [(offset: Int, isDST: Bool, abbreviationIndex: Int)] = []
            for _ in 0..<header.typeCount {
                guard let offset = integer(4), let dst = integer(1), let abbreviation = integer(1) else { return nil }
                raw.append((Int(offset), dst != 0, Int(abbreviation)))
            }
            guard index + header.charCount <= bytes.count else { return nil }
            let characters = Array(bytes[index..<(index + header.charCount)])
            index += header.charCount
            let types = raw.map { entry -> LocalTimeType in
                let start = min(entry.abbreviationIndex, characters.count)
                let end = characters[start...].firstIndex(of: 0) ?? characters.count
                return LocalTimeType(offset: entry.offset, isDST: entry.isDST,
                                     abbreviation: String(decoding: characters[start..<end], as: UTF8.self))
            }
            guard skip(header.leapCount * (timeSize + 4) + header.isStdCount + header.isUTCCount) else { return nil }
            return (transitions, indices, types)
        }

        /// The POSIX TZ string between the newlines after the 64-bit block.
        mutating func footer() -> String? {
            guard index < bytes.count, bytes[index] == 0x0A else { return nil }
            let start = index + 1
            guard let end = bytes[start...].firstIndex(of: 0x0A) else { return nil }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
    }
}

/// A POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3` or `IST-5:30`.
struct PosixTimeZone: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            /// `Jn`: day 1…365, February 29 never counted.
            case julianNoLeap(Int)
            /// `n`: day 0…365, February 29 counted.
            case zeroBased(Int)
            /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
            case monthWeekDay(month: Int, week: Int, weekday: Int)
        }
        var day: Day
        /// Local seconds after midnight (may be negative or past 24 h, RFC 8536).
        var time: Int
    }

    var standard: LocalTimeType
    var daylight: LocalTimeType?
    var start: Rule?
    var end: Rule?

    init?(parsing text: String) {
        var scanner = Scanner(Array(text.utf8))
        guard let standardName = scanner.name(), let standardOffset = scanner.offset() else { return nil }
        standard = LocalTimeType(offset: -standardOffset, isDST: false, abbreviation: standardName)
        if scanner.atEnd {
            daylight = nil
            return
        }
        guard let daylightName = scanner.name() else { return nil }
        let daylightOffset = scanner.peekIsOffset ? scanner.offset() : standardOffset - 3600
        guard let daylightOffset else { return nil }
        daylight = LocalTimeType(offset: -daylightOffset, isDST: true, abbreviation: daylightName)
        // Without a rule POSIX leaves the dates to the implementation; use the US rule, as glibc does.
        guard scanner.consume(UInt8(ascii: ",")) else {
            start = Rule(day: .monthWeekDay(month: 3, week: 2, weekday: 0), time: 7200)
            end = Rule(day: .monthWeekDay(month: 11, week: 1, weekday: 0), time: 7200)
            return
        }
        guard let start = scanner.rule(), scanner.consume(UInt8(ascii: ",")), let end = scanner.rule(), scanner.atEnd else { return nil }
        self.start = start
        self.end = end
    }

    func localType(at seconds: Int64) -> LocalTimeType {
        guard let daylight, let start, let end else { return standard }
        let year = CivilDate(daysSinceEpoch: Int(floorDivide(seconds + Int64(standard.offset), 86400))).year
        let startUTC = Int64(Self.localSeconds(of: start, year: year) - standard.offset)
        let endUTC = Int64(Self.localSeconds(of: end, year: year) - daylight.offset)
        let inDaylight = startUTC < endUTC ? (seconds >= startUTC && seconds < endUTC) : !(seconds >= endUTC && seconds < startUTC)
        return inDaylight ? daylight : standard
    }

    /// Seconds since the epoch, in local terms, at which `rule` falls in `year`.
    static func localSeconds(of rule: Rule, year: Int) -> Int {
        let januaryFirst = CivilDate.daysSinceEpoch(year: year, month: 1, day: 1)
        let leap = CivilDate.isLeap(year)
        let day: Int
        switch rule.day {
        case .julianNoLeap(let n):
            day = januaryFirst + n - 1 + (leap && n >= 60 ? 1 : 0)
        case .zeroBased(let n):
            day = januaryFirst + n
        case .monthWeekDay(let month, let week, let weekday):
            let first = CivilDate.daysSinceEpoch(year: year, month: month, day: 1)
            let firstWeekday = ((first % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
            var dayOfMonth = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
            let length = CivilDate.daysInMonth(year: year, month: month)
            while dayOfMonth > length { dayOfMonth -= 7 }
            day = first + dayOfMonth - 1
        }
        return day * 86400 + rule.time
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }
        var peekIsOffset: Bool {
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            return byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || (byte >= 48 && byte <= 57)
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// `CET` or `<+0530>`.
        mutating func name() -> String? {
            let start: Int, end: Int
            if consume(UInt8(ascii: "<")) {
                start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: ">") { index += 1 }
                end = index
                guard consume(UInt8(ascii: ">")) else { return nil }
            } else {
                start = index
                while index < bytes.count, (bytes[index] | 0x20) >= UInt8(ascii: "a"), (bytes[index] | 0x20) <= UInt8(ascii: "z") { index += 1 }
                end = index
            }
            guard end - start >= 3 else { return nil }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        /// `[+-]hh[:mm[:ss]]` as seconds.
        mutating func offset() -> Int? {
            var sign = 1
            if consume(UInt8(ascii: "-")) { sign = -1 } else { _ = consume(UInt8(ascii: "+")) }
            guard let hours = number() else { return nil }
            var total = hours * 3600
            if consume(UInt8(ascii: ":")) {
                guard let minutes = number() else { return nil }
                total += minutes * 60
                if consume(UInt8(ascii: ":")) {
                    guard let seconds = number() else { return nil }
                    total += seconds
                }
            }
            return sign * total
        }

        mutating func number() -> Int? {
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, index - start < 4 {
                value = value * 10 + Int(bytes[index] - 48)
                index += 1
            }
            return index > start ? value : nil
        }

        mutating func rule() -> Rule? {
            let day: Rule.Day
            if consume(UInt8(ascii: "M")) {
                guard let month = number(), consume(UInt8(ascii: ".")), let week = number(), consume(UInt8(ascii: ".")),
                      let weekday = number(), (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday) else { return nil }
                day = .monthWeekDay(month: month, week: week, weekday: weekday)
            } else if consume(UInt8(ascii: "J")) {
                guard let n = number(), (1...365).contains(n) else { return nil }
                day = .julianNoLeap(n)
            } else {
                guard let n = number(), (0...365).contains(n) else { return nil }
                day = .zeroBased(n)
            }
            var time = 7200
            if consume(UInt8(ascii: "/")) {
                guard let parsed = offset() else { return nil }
                time = parsed
            }
            return Rule(day: day, time: time)
        }
    }
}

/// Proleptic Gregorian dates from days since 1970-01-01 (Howard Hinnant's algorithms).
struct CivilDate: Equatable {
    var year: Int
    var month: Int
    var day: Int

    init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : -((-a + b - 1) / b)
}
