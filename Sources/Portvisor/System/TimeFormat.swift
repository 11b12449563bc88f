// strftime(3) in the C locale on a broken-down time that the caller chose (a zone's offset and
// abbreviation), without touching the process's TZ: setenv/tzset are not thread-safe.
import Glibc

public enum TimeFormat {
    /// The largest text one pattern may produce (a 256-byte pattern of `%c` stays far below).
    public static let maxOutputBytes = 65536

    /// `pattern` applied to `seconds` since the epoch shifted by `offset` seconds, with `%Z`
    /// printing `abbreviation` and `%z` the offset. The buffer grows until the text fits.
    public static func strftime(_ pattern: String, seconds: Int64, offset: Int, abbreviation: String) -> String {
        if pattern.isEmpty { return "" }
        var shifted = time_t(seconds &+ Int64(offset))
        var parts = tm()
        gmtime_r(&shifted, &parts)
        parts.tm_gmtoff = offset
        var size = 1024
        while size <= maxOutputBytes {
            var buffer = [CChar](repeating: 0, count: size)
            let count = abbreviation.withCString { zoneName -> Int in
                parts.tm_zone = zoneName
                return Glibc.strftime(&buffer, buffer.count, pattern, &parts)
            }
            // 0 means "did not fit" (or an empty result, which a pattern with text cannot give
            // unless it is only conversions that print nothing, such as "%P" in some locales).
            if count > 0 { return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            size *= 4
        }
        return ""
    }

    /// Broken-down UTC fields of `seconds` since the epoch: (year, month 1-12, day, hour, minute, second).
    public static func utcFields(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
