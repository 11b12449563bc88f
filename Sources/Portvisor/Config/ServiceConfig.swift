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
    /// Seconds live connections may finish after a stop (SIGTERM, or a service removed or
    /// disabled by a reload) before the rest are closed.
    public var drainTimeout: Double
    /// Where `run` listens for control commands (SPEC §9).
    public var control: ControlSetting = .automatic

    public static let defaultDrainTimeout = 5.0
    /// What validation pointed out without refusing the file (not part of equality).
    public var warnings: [ConfigIssue] = []

    public init(path: String, status: StatusEndpointConfig?, services: [ServiceConfig], drainTimeout: Double = PortvisorConfig.defaultDrainTimeout) {
        self.path = path
        self.status = status
        self.services = services
        self.drainTimeout = drainTimeout
    }

    /// Equal settings (warnings aside).
    public static func == (a: PortvisorConfig, b: PortvisorConfig) -> Bool {
        a.path == b.path && a.status == b.status && a.services == b.services && a.drainTimeout == b.drainTimeout && a.control == b.control
    }

    /// What validation pointed out about service `index` (a user switch without the privilege).
    public func warnings(forService index: Int) -> [String] {
        let prefix = "services[\(index)]"
        return warnings.filter { $0.path == prefix || $0.path.hasPrefix(prefix + ".") }.map(\.message)
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
    /// Who may connect (`status.allow`, `status.deny`).
    public var access = AccessPolicy()
    /// `status.tokenFile`, and the token read from its first line: when set, `/`, `/status`
    /// and `/metrics` require `Authorization: Bearer TOKEN`.
    public var tokenFile: String?
    public var token: String?

    public init(host: String, address: IPAddress, port: Int, access: AccessPolicy = AccessPolicy(), tokenFile: String? = nil, token: String? = nil) {
        self.host = host
        self.address = address
        self.port = port
        self.access = access
        self.tokenFile = tokenFile
        self.token = token
    }

    /// The same address (a change of access or token needs no rebind).
    func sameAddress(as other: StatusEndpointConfig) -> Bool { host == other.host && address == other.address && port == other.port }

    public static let `default` = StatusEndpointConfig(
        host: defaultHost, address: .v4(127, 0, 0, 1), port: defaultPort)
}

/// TCP (the default) or UDP.
public enum TransportProtocol: String, Sendable, CaseIterable, Equatable {
    case tcp
    case udp
}

/// One declared service, validated, with every default filled in. The kind's own options are
/// the kind's type (`EchoOptions`, …): see Services/.
public struct ServiceConfig: Sendable, Equatable {
    public static let defaultHost = "127.0.0.1"
    public static let defaultMaxConnections = 512
    public static let defaultIdleTimeout = 300.0
    public static let defaultWriteTimeout = 30.0
    public static let defaultIPv6SourcePrefix = 64
    public static let defaultMaxReplyBytesPerSecond = 262_144

    public var name: String
    public var kind: KindName
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
    public var options: any KindOptions
    /// `allow` / `deny`.
    public var access: AccessPolicy
    /// Live connections per source address, when limited.
    public var maxConnectionsPerSource: Int?
    /// New connections per source address per second, when limited.
    public var maxConnectionRatePerSource: Double?
    /// Seconds pending output may make no progress before the connection is closed.
    public var writeTimeout: Double
    public var transport: TransportProtocol
    /// IPv6 sources are counted per prefix of this length for the per-source limits (a host
    /// holds a /64 at least, so counting single addresses would give it 2^64 "sources").
    public var ipv6SourcePrefix: Int
    /// UDP: reply bytes per second for the whole service, across all sources (a spoofed range of
    /// sources cannot turn it into a reflector).
    public var maxReplyBytesPerSecond: Int

    public init(name: String, kind: KindName, host: String = ServiceConfig.defaultHost,
                address: IPAddress = .v4(127, 0, 0, 1), port: Int, enabled: Bool = true,
                maxConnections: Int = ServiceConfig.defaultMaxConnections,
                idleTimeout: Double = ServiceConfig.defaultIdleTimeout,
                restart: RestartPolicy = RestartPolicy(), options: (any KindOptions)? = nil,
                access: AccessPolicy = AccessPolicy(), maxConnectionsPerSource: Int? = nil,
                maxConnectionRatePerSource: Double? = nil, writeTimeout: Double = ServiceConfig.defaultWriteTimeout,
                transport: TransportProtocol = .tcp, ipv6SourcePrefix: Int = ServiceConfig.defaultIPv6SourcePrefix,
                maxReplyBytesPerSecond: Int = ServiceConfig.defaultMaxReplyBytesPerSecond) {
        self.name = name
        self.kind = kind
        self.host = host
        self.address = address
        self.port = port
        self.enabled = enabled
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.restart = restart
        self.options = options ?? Kinds.named(kind)?.defaultOptions ?? NoOptions()
        self.access = access
        self.maxConnectionsPerSource = maxConnectionsPerSource
        self.maxConnectionRatePerSource = maxConnectionRatePerSource
        self.writeTimeout = writeTimeout
        self.transport = transport
        self.ipv6SourcePrefix = ipv6SourcePrefix
        self.maxReplyBytesPerSecond = maxReplyBytesPerSecond
    }

    /// The port's IANA range; port 0 (kernel's choice) classifies as dynamic.
    public var range: PortRange { PortRange.classify(port) }

    public static func == (a: ServiceConfig, b: ServiceConfig) -> Bool {
        a.name == b.name && a.kind == b.kind && a.host == b.host && a.address == b.address && a.port == b.port
            && a.enabled == b.enabled && a.maxConnections == b.maxConnections && a.idleTimeout == b.idleTimeout
            && a.restart == b.restart && a.options.isEqual(to: b.options) && a.access == b.access
            && a.maxConnectionsPerSource == b.maxConnectionsPerSource && a.maxConnectionRatePerSource == b.maxConnectionRatePerSource
            && a.writeTimeout == b.writeTimeout && a.transport == b.transport && a.ipv6SourcePrefix == b.ipv6SourcePrefix
            && a.maxReplyBytesPerSecond == b.maxReplyBytesPerSecond
    }
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
