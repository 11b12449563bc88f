// Who may connect: allow/deny, the per-source limits (SourceTable), and maxConnections, in that
// order, with the refusal logged at most once per second per source and the maxConnections
// warning at most once per second. Shared by every engine that accepts connections.

/// The limits one profile applies at accept.
struct AdmissionPolicy {
    var access: AccessPolicy
    var perSourceLimit: Int?
    var rate: Double?
    var maxConnections: Int
    /// IPv6 sources are counted per prefix of this length.
    var ipv6Prefix = ServiceConfig.defaultIPv6SourcePrefix
    /// What a connection past maxConnections gets.
    var whenFull: WhenFull

    enum WhenFull {
        /// Accepted and closed at once, counted `rejected` (services).
        case reject
        /// The connection that has waited longest for its request makes room (status endpoint).
        case evictOldest
    }

    var tracksSources: Bool { perSourceLimit != nil || rate != nil }

    init(_ config: ServiceConfig) {
        access = config.access
        perSourceLimit = config.maxConnectionsPerSource
        rate = config.maxConnectionRatePerSource
        maxConnections = config.maxConnections
        ipv6Prefix = config.ipv6SourcePrefix
        whenFull = .reject
    }

    init(access: AccessPolicy, maxConnections: Int, whenFull: WhenFull) {
        self.access = access
        self.maxConnections = maxConnections
        self.whenFull = whenFull
    }
}

/// The verdict on one accepted connection.
enum AdmissionVerdict {
    /// Serve it; `counted`: it holds a place in the source table until released.
    case admit(counted: Bool)
    case refuse(Refusal)
    /// maxConnections are live.
    case full(counted: Bool)
}

/// Loop-thread only.
struct Admission {
    var sources = SourceTable()
    private var lastFullWarning: MonotonicNanos = -(1 << 62)

    mutating func judge(_ peer: SocketAddress, live: Int, policy: AdmissionPolicy, now: MonotonicNanos) -> AdmissionVerdict {
        let source = peer.ip.unmapped
        if !policy.access.allowsEverything && !policy.access.permits(source) { return .refuse(.access) }
        var counted = false
        if policy.tracksSources {
            sources.ipv6Prefix = policy.ipv6Prefix
            if let refusal = sources.admit(source, now: now, perSourceLimit: policy.perSourceLimit, rate: policy.rate) {
                return .refuse(refusal)
            }
            counted = true
        }
        return live >= policy.maxConnections ? .full(counted: counted) : .admit(counted: counted)
    }

    /// A connection counted at admission has closed.
    mutating func release(_ peer: SocketAddress) { sources.release(peer.ip.unmapped) }

    /// Logs a refusal at most once per second per source.
    mutating func logRefusal(_ peer: SocketAddress, _ refusal: Refusal, now: MonotonicNanos, name: String, logger: Logger) {
        let source = peer.ip.unmapped
        if sources.shouldLogRefusal(source, now: now) {
            logger.warning(name, event: "connection-refused", "\(source): refused: \(refusal.reason)",
                           fields: [JSONMember("peer", .string(peer.description))])
        }
    }

    /// Logs that maxConnections was reached, at most once per second.
    mutating func logFull(_ peer: SocketAddress, live: Int, limit: Int, now: MonotonicNanos, name: String, logger: Logger) {
        logger.debug(name, event: "connection-rejected", "\(peer): rejected, \(live) connections live (maxConnections)")
        if now - lastFullWarning >= 1_000_000_000 {
            lastFullWarning = now
            logger.warning(name, event: "max-connections", "maxConnections (\(limit)) reached; rejecting new connections")
        }
    }

    /// Once a second while the table has entries: forget idle sources. Returns whether any remain.
    mutating func sweep(now: MonotonicNanos, rate: Double?) -> Bool { sources.sweep(now: now, rate: rate) }

    var isTracking: Bool { !sources.entries.isEmpty }
}
