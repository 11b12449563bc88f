// daytime (RFC 867): on accept, one line with the time and CRLF, then close. `format`:
// iso8601 (default), rfc867, rfc2822 or a strftime pattern; `timeZone`: UTC (default), local,
// or an IANA name read from the system's tz database. The line is formatted at most once per
// second per worker (DaytimeClock caches it). Over UDP each datagram gets the line.

extension KindName {
    public static let daytime: KindName = "daytime"
}

public struct DaytimeOptions: KindOptions, Equatable {
    public var format: DaytimeFormat
    public var timeZone: DaytimeZone
    public init(format: DaytimeFormat = .iso8601, timeZone: DaytimeZone = .utc) {
        self.format = format
        self.timeZone = timeZone
    }
}

/// How a daytime service writes the time.
public enum DaytimeFormat: Sendable, Equatable {
    /// `2026-11-25T13:02:02Z`, or with the zone's offset (`+01:00`) outside UTC.
    case iso8601
    /// `Wednesday, November 25, 2026 13:02:02-UTC`.
    case rfc867
    /// `Wed, 25 Nov 2026 13:02:02 +0000`.
    case rfc2822
    /// A strftime(3) pattern; it contains at least one `%`.
    case strftime(String)
}

/// The zone a daytime service reports the time in.
public enum DaytimeZone: Sendable, Equatable {
    case utc
    /// The machine's zone (`$TZ`, else `/etc/localtime`).
    case local
    /// An IANA zone name such as `Europe/Paris`.
    case named(String)
}

enum DaytimeKind: StreamKind, DatagramKind {
    static let name = KindName.daytime
    typealias Runtime = DaytimeRuntime
    typealias UDPRuntime = DaytimeDatagramRuntime
    static let summary = "RFC 867: the time as one line (format, timeZone), then close"
    static let optionKeys = ["format", "timeZone"]
    static let transports: [TransportProtocol] = [.tcp, .udp]
    static var defaultOptions: any KindOptions { DaytimeOptions() }
    /// The longest strftime pattern accepted.
    static let maxPatternBytes = 256

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        var options = DaytimeOptions()
        if let format = validator.string(fields, "format") {
            switch format {
            case "iso8601": options.format = .iso8601
            case "rfc867": options.format = .rfc867
            case "rfc2822": options.format = .rfc2822
            case _ where format.contains("%") && format.utf8.count <= maxPatternBytes: options.format = .strftime(format)
            case _ where format.contains("%"):
                validator.add(fields.path("format"), "a strftime pattern of \(format.utf8.count) bytes is longer than \(maxPatternBytes)")
            default:
                validator.add(fields.path("format"), "\(ConfigValidator.quoted(format)) is not \"iso8601\", \"rfc867\", \"rfc2822\" or a strftime pattern containing \"%\"")
            }
        }
        if let zone = validator.string(fields, "timeZone") {
            switch zone {
            case "UTC": options.timeZone = .utc
            case "local": options.timeZone = .local
            default:
                if ZoneRules.named(zone) != nil {
                    options.timeZone = .named(zone)
                } else {
                    validator.add(fields.path("timeZone"), "unknown time zone \(ConfigValidator.quoted(zone)) (use \"UTC\", \"local\" or an IANA name such as \"Europe/Paris\")")
                }
            }
        }
        return options
    }

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> DaytimeService {
        DaytimeService(config.options as? DaytimeOptions ?? DaytimeOptions())
    }

    static func datagramService(_ config: ServiceConfig) -> DaytimeService { service(config, stats: nil) }
}

/// What serves daytime on its worker (concrete, so the engine is compiled for daytime).
final class DaytimeRuntime: StreamRuntime {
    typealias Kind = DaytimeKind
    let engine: StreamEngine<DaytimeService>
    init(engine: StreamEngine<DaytimeService>) { self.engine = engine }
}

final class DaytimeDatagramRuntime: DatagramRuntime {
    typealias Kind = DaytimeKind
    let engine: DatagramEngine<DaytimeService>
    init(engine: DatagramEngine<DaytimeService>) { self.engine = engine }
}

public struct DaytimeService: StreamService, DatagramService {
    var clock: DaytimeClock

    public init(_ options: DaytimeOptions) { clock = DaytimeClock(options) }

    public mutating func open(wall: WallTime) -> (GreetingConnection, Step) {
        (GreetingConnection(), Step(.bytes(clock.line(at: wall)), then: .finish))
    }

    public mutating func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply {
        .bytes(clock.line(at: wall))
    }
}

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
