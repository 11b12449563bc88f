// daytime (RFC 867): on accept, one line with the time and CRLF, then close. The line is
// formatted at most once per second per worker (DaytimeClock caches it).

/// Formats the time as a daytime service's options say. Pure: give it a time, get the text.
public struct DaytimeFormatter: Sendable {
    public let options: DaytimeOptions
    /// nil for UTC.
    private let zone: ZoneRules?

    public init(_ options: DaytimeOptions) {
        self.options = options
        switch options.timeZone {
        case .utc: zone = nil
        case .local: zone = ZoneRules.local(environment: ProcessEnvironment.current())
        case .named(let name): zone = ZoneRules.named(name) ?? .utc
        }
    }

    /// The zone's offset from UTC in seconds and its abbreviation at `time`.
    func zoneInfo(at seconds: Int64) -> (offset: Int, abbreviation: String) {
        guard let zone else { return (0, "UTC") }
        let type = zone.localType(at: seconds)
        return (type.offset, type.abbreviation)
    }

    /// The formatted time, without the line ending.
    public func string(at time: WallTime) -> String {
        let (offset, abbreviation) = zoneInfo(at: time.seconds)
        switch options.format {
        case .iso8601:
            let suffix = (zone == nil) ? "Z" : Self.numericOffset(offset, colon: true)
            return strftime("%Y-%m-%dT%H:%M:%S", time.seconds, offset, abbreviation) + suffix
        case .rfc867:
            return strftime("%A, %B %-d, %Y %H:%M:%S-%Z", time.seconds, offset, abbreviation)
        case .rfc2822:
            return strftime("%a, %d %b %Y %H:%M:%S %z", time.seconds, offset, abbreviation)
        case .strftime(let pattern):
            return strftime(pattern, time.seconds, offset, abbreviation)
        }
    }

    /// The line a client receives: the time, CR, LF.
    public func line(at time: WallTime) -> [UInt8] { Array((string(at: time) + "\r\n").utf8) }

    /// `+01:00` / `-0530`.
    static func numericOffset(_ offset: Int, colon: Bool) -> String {
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3600, minutes = abs(offset) % 3600 / 60
        let h = hours < 10 ? "0\(hours)" : "\(hours)", m = minutes < 10 ? "0\(minutes)" : "\(minutes)"
        return sign + h + (colon ? ":" : "") + m
    }

    /// strftime(3) in the C locale on the broken-down local time of the zone.
    private func strftime(_ pattern: String, _ seconds: Int64, _ offset: Int, _ abbreviation: String) -> String {
        TimeFormat.strftime(pattern, seconds: seconds, offset: offset, abbreviation: abbreviation)
    }
}

/// A per-worker cache of the daytime line for the current second. Loop-thread only.
public struct DaytimeClock {
    public let formatter: DaytimeFormatter
    private var cachedSecond: Int64 = .min
    private var cachedLine: [UInt8] = []

    public init(_ options: DaytimeOptions) { formatter = DaytimeFormatter(options) }

    /// The line for `time`, formatted at most once per second.
    public mutating func line(at time: WallTime) -> [UInt8] {
        if time.seconds != cachedSecond {
            cachedSecond = time.seconds
            cachedLine = formatter.line(at: time)
        }
        return cachedLine
    }
}
