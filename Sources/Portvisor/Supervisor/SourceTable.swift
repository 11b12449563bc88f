// Per-source bookkeeping for one engine: live connections per source and a token bucket for the
// connection (or datagram) rate, bounded at 65,536 entries; and, apart, when a refusal was last
// logged. A full table never lifts a limit: idle entries (no live connection and a full bucket:
// indistinguishable from a source never seen) are reclaimed, and when none is, a new source is
// refused. IPv6 sources are counted per prefix (a /64 by default), so that one host
// cannot be 2^64 sources.

/// Why a connection was refused (counted in `connections.refused`).
public enum Refusal: Sendable, Equatable {
    case access
    case perSourceLimit(Int)
    case rate(Double)
    /// Every entry of the source table belongs to a source that is still limited.
    case tableFull

    public var reason: String {
        switch self {
        case .access: return "not allowed by allow/deny"
        case .perSourceLimit(let limit): return "\(limit) connection\(limit == 1 ? "" : "s") from this source already (maxConnectionsPerSource)"
        case .rate(let rate): return "more than \(JSONNumber(rate).text) new connection\(rate == 1 ? "" : "s") per second from this source (maxConnectionRatePerSource)"
        case .tableFull: return "\(SourceTable.maxEntries) sources are being limited already; refusing new ones until some go quiet"
        }
    }
}

/// Loop-thread only.
public struct SourceTable {
    public struct Entry: Equatable {
        public var live = 0
        /// Token bucket: `tokens` as of `refilledAt`; capacity max(1, rate).
        public var tokens: Double
        public var refilledAt: MonotonicNanos
    }

    /// Entries at most; see the file's header for what happens at the limit.
    public static let maxEntries = 65536
    /// How often a full table may be searched for idle entries (a search visits every entry).
    static let reclaimInterval: MonotonicNanos = 1_000_000_000

    public private(set) var entries: [IPAddress: Entry] = [:]
    /// IPv6 sources are keyed by this prefix length.
    public var ipv6Prefix: Int
    private var lastReclaim: MonotonicNanos?
    /// When each recently refused source was last logged. Apart from `entries`, so that logging
    /// refusals (of sources allow/deny turns away, say) never takes room a limit needs.
    private var refusalLogs: [IPAddress: MonotonicNanos] = [:]
    /// Sources whose refusals are throttled one by one; beyond that, once a second in all.
    static let maxRefusalLogs = 4096
    private var lastSharedLog: MonotonicNanos?

    public init(ipv6Prefix: Int = ServiceConfig.defaultIPv6SourcePrefix) {
        self.ipv6Prefix = ipv6Prefix
    }

    /// The key `source` is counted under: IPv4 as is, IPv6 cut to `ipv6Prefix` bits.
    public func key(_ source: IPAddress) -> IPAddress {
        let address = source.unmapped
        guard case .v6(let value) = address, ipv6Prefix < 128 else { return address }
        let mask: UInt128 = ipv6Prefix <= 0 ? 0 : ~UInt128(0) << (128 - ipv6Prefix)
        return .v6(value & mask)
    }

    /// Admits a new connection from `source` or says why not. An admitted connection is counted
    /// live until `release`.
    public mutating func admit(_ source: IPAddress, now: MonotonicNanos, perSourceLimit: Int?, rate: Double?) -> Refusal? {
        let key = key(source)
        let capacity = max(1, rate ?? 1)
        guard var entry = entries[key] ?? newEntry(capacity: capacity, now: now, rate: rate) else { return .tableFull }
        if let rate {
            entry.tokens = Self.refill(entry, now: now, rate: rate, capacity: capacity)
            entry.refilledAt = now
            if entry.tokens < 1 {
                entries[key] = entry
                return .rate(rate)
            }
        }
        if let limit = perSourceLimit, entry.live >= limit {
            entries[key] = entry
            return .perSourceLimit(limit)
        }
        if rate != nil { entry.tokens -= 1 }
        entry.live += 1
        entries[key] = entry
        return nil
    }

    /// A fresh entry, reclaiming idle ones when the table is full; nil when it stays full.
    private mutating func newEntry(capacity: Double, now: MonotonicNanos, rate: Double?) -> Entry? {
        if entries.count >= Self.maxEntries {
            if let last = lastReclaim, now - last < Self.reclaimInterval { return nil }
            lastReclaim = now
            sweep(now: now, rate: rate)
            if entries.count >= Self.maxEntries { return nil }
        }
        return Entry(tokens: capacity, refilledAt: now)
    }

    private static func refill(_ entry: Entry, now: MonotonicNanos, rate: Double, capacity: Double) -> Double {
        let elapsed = Double(max(0, now - entry.refilledAt)) / 1e9
        return min(capacity, entry.tokens + elapsed * rate)
    }

    /// Takes one token from `source`'s bucket (UDP: one per datagram answered); false when the
    /// source is over `rate` (or the table is full of limited sources).
    public mutating func takeToken(_ source: IPAddress, now: MonotonicNanos, rate: Double) -> Bool {
        let key = key(source)
        let capacity = max(1, rate)
        guard var entry = entries[key] ?? newEntry(capacity: capacity, now: now, rate: rate) else { return false }
        entry.tokens = Self.refill(entry, now: now, rate: rate, capacity: capacity)
        entry.refilledAt = now
        let allowed = entry.tokens >= 1
        if allowed { entry.tokens -= 1 }
        entries[key] = entry
        return allowed
    }

    /// A connection admitted from `source` has closed.
    public mutating func release(_ source: IPAddress) {
        let key = key(source)
        guard var entry = entries[key] else { return }
        entry.live = max(0, entry.live - 1)
        entries[key] = entry
    }

    /// Whether a refusal of `source` should be logged now: at most once per second per source,
    /// and once per second in all for sources beyond the first 4,096 refused in a second.
    public mutating func shouldLogRefusal(_ source: IPAddress, now: MonotonicNanos) -> Bool {
        let key = key(source)
        if let last = refusalLogs[key] {
            guard now - last >= 1_000_000_000 else { return false }
            refusalLogs[key] = now
            return true
        }
        if refusalLogs.count >= Self.maxRefusalLogs {
            refusalLogs = refusalLogs.filter { now - $0.value < 1_000_000_000 }
        }
        if refusalLogs.count < Self.maxRefusalLogs {
            refusalLogs[key] = now
            return true
        }
        if let last = lastSharedLog, now - last < 1_000_000_000 { return false }
        lastSharedLog = now
        return true
    }

    /// Drops entries with no live connection whose bucket (at `rate`) is full again, and
    /// refusal log times over a second old. Returns whether anything remains.
    @discardableResult
    public mutating func sweep(now: MonotonicNanos, rate: Double?) -> Bool {
        let capacity = max(1, rate ?? 1)
        entries = entries.filter { _, entry in
            let refilled = rate.map { Self.refill(entry, now: now, rate: $0, capacity: capacity) } ?? capacity
            return entry.live > 0 || refilled < capacity
        }
        refusalLogs = refusalLogs.filter { now - $0.value < 1_000_000_000 }
        return !entries.isEmpty || !refusalLogs.isEmpty
    }
}
