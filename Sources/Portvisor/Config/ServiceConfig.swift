// The validated configuration: plain Sendable values, built by ConfigValidator from services.json.
// Runtime state never mutates these; a reload builds a new PortvisorConfig and compares.

/// The whole validated `services.json`.
public struct PortvisorConfig: Sendable, Equatable {
    /// The path the file was read from, as given (relative paths stay relative).
    public var path: String
    /// The status endpoint, or `nil` when the file says `"status": false`.
    public var status: StatusEndpointConfig?
    /// The services, in file order.
    public var services: [ServiceConfig]

    public init(path: String, status: StatusEndpointConfig?, services: [ServiceConfig]) {
        self.path = path
        self.status = status
        self.services = services
    }

    /// The service named `name`, if declared.
    public func service(named name: String) -> ServiceConfig? {
        services.first { $0.name == name }
    }
}

/// Where the HTTP status endpoint listens.
public struct StatusEndpointConfig: Sendable, Equatable {
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 20080

    public var host: String
    public var address: IPAddress
    public var port: Int

    public init(host: String, address: IPAddress, port: Int) {
        self.host = host
        self.address = address
        self.port = port
    }

    public static let `default` = StatusEndpointConfig(
        host: defaultHost, address: .v4(127, 0, 0, 1), port: defaultPort)
}

/// The built-in service kinds. Each has its logic in one file under Services/.
public enum ServiceKind: String, Sendable, CaseIterable, Equatable {
    case daytime
    case echo
    case sentence
    /// RFC 863: read and drop.
    case discard
    /// RFC 864: 72-character lines of the printable ASCII characters, rotating.
    case chargen
    /// RFC 868: the time as four bytes, seconds since 1900, then close.
    case time
    /// RFC 865: a quote, then close.
    case qotd

    /// Whether the kind has a UDP form (`"protocol": "udp"`).
    public var supportsUDP: Bool { self != .sentence }
}

/// TCP (the default) or UDP.
public enum TransportProtocol: String, Sendable, CaseIterable, Equatable {
    case tcp
    case udp
}

/// One declared service, validated, with every default filled in.
public struct ServiceConfig: Sendable, Equatable {
    public static let defaultHost = "127.0.0.1"
    public static let defaultMaxConnections = 512
    public static let defaultIdleTimeout = 300.0
    public static let defaultWriteTimeout = 30.0

    public var name: String
    public var kind: ServiceKind
    /// The host as written in the file (`"localhost"`, `"::"`, …).
    public var host: String
    /// The address that `host` means (`localhost` is 127.0.0.1).
    public var address: IPAddress
    /// The configured port; 0 lets the kernel choose.
    public var port: Int
    public var enabled: Bool
    public var maxConnections: Int
    /// Seconds without a byte in either direction before a connection is closed.
    public var idleTimeout: Double
    public var restart: RestartPolicy
    public var options: KindOptions
    /// `allow` / `deny`.
    public var access: AccessPolicy
    /// Live connections per source address, when limited.
    public var maxConnectionsPerSource: Int?
    /// New connections per source address per second, when limited.
    public var maxConnectionRatePerSource: Double?
    /// Seconds pending output may make no progress before the connection is closed.
    public var writeTimeout: Double
    public var transport: TransportProtocol

    public init(name: String, kind: ServiceKind, host: String = ServiceConfig.defaultHost,
                address: IPAddress = .v4(127, 0, 0, 1), port: Int, enabled: Bool = true,
                maxConnections: Int = ServiceConfig.defaultMaxConnections,
                idleTimeout: Double = ServiceConfig.defaultIdleTimeout,
                restart: RestartPolicy = RestartPolicy(), options: KindOptions? = nil,
                access: AccessPolicy = AccessPolicy(), maxConnectionsPerSource: Int? = nil,
                maxConnectionRatePerSource: Double? = nil, writeTimeout: Double = ServiceConfig.defaultWriteTimeout,
                transport: TransportProtocol = .tcp) {
        self.name = name
        self.kind = kind
        self.host = host
        self.address = address
        self.port = port
        self.enabled = enabled
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.restart = restart
        self.options = options ?? KindOptions.defaults(for: kind)
        self.access = access
        self.maxConnectionsPerSource = maxConnectionsPerSource
        self.maxConnectionRatePerSource = maxConnectionRatePerSource
        self.writeTimeout = writeTimeout
        self.transport = transport
    }

    /// The port's IANA range; port 0 (kernel's choice) classifies as dynamic.
    public var range: PortRange { PortRange.classify(port) }
}

/// How a failed listener is retried (SPEC §4). Delays are seconds.
public struct RestartPolicy: Sendable, Equatable {
    public var initialDelay: Double
    public var maxDelay: Double
    /// Seconds of healthy running after which the backoff starts again from `initialDelay`.
    public var resetAfter: Double
    /// Consecutive restarts allowed before the service is `failed`; `nil` never gives up.
    public var maxRestarts: Int?

    public init(initialDelay: Double = 0.1, maxDelay: Double = 5, resetAfter: Double = 10, maxRestarts: Int? = nil) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.resetAfter = resetAfter
        self.maxRestarts = maxRestarts
    }
}

/// The options that belong to one kind.
public enum KindOptions: Sendable, Equatable {
    case daytime(DaytimeOptions)
    case echo(EchoOptions)
    case sentence(SentenceOptions)
    case discard
    case chargen
    case time
    case qotd(QotdOptions)

    public static func defaults(for kind: ServiceKind) -> KindOptions {
        switch kind {
        case .daytime: return .daytime(DaytimeOptions())
        case .echo: return .echo(EchoOptions())
        case .sentence: return .sentence(SentenceOptions())
        case .discard: return .discard
        case .chargen: return .chargen
        case .time: return .time
        case .qotd: return .qotd(QotdOptions(quotes: ["Simplicity is prerequisite for reliability."]))
        }
    }
}

public struct DaytimeOptions: Sendable, Equatable {
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

public struct EchoOptions: Sendable, Equatable {
    public static let defaultMaxBufferedBytes = 65536
    /// Echo bytes pending for one connection before the server stops reading from it.
    public var maxBufferedBytes: Int
    public init(maxBufferedBytes: Int = EchoOptions.defaultMaxBufferedBytes) {
        self.maxBufferedBytes = maxBufferedBytes
    }
}

public struct QotdOptions: Sendable, Equatable {
    /// Longest quote: RFC 865 asks for under 512 characters.
    public static let maxQuoteBytes = 511
    /// Served round-robin, each followed by CRLF; never empty. A quote may span lines.
    public var quotes: [String]
    public init(quotes: [String]) { self.quotes = quotes }
}

public struct SentenceOptions: Sendable, Equatable {
    public static let builtInSentence = "Every connection deserves a complete sentence."
    public static let defaultAckTimeout = 10.0
    public static let defaultMaxAckBytes = 1024
    public static let maxSentenceBytes = 1000

    /// Served round-robin, one per connection; never empty.
    public var sentences: [String]
    /// Seconds from accept within which the acknowledgement line must arrive (a total deadline).
    public var ackTimeout: Double
    /// Most bytes of the acknowledgement line, its terminator included.
    public var maxAckBytes: Int

    public init(sentences: [String] = [SentenceOptions.builtInSentence],
                ackTimeout: Double = SentenceOptions.defaultAckTimeout,
                maxAckBytes: Int = SentenceOptions.defaultMaxAckBytes) {
        self.sentences = sentences
        self.ackTimeout = ackTimeout
        self.maxAckBytes = maxAckBytes
    }
}
