// Per-source bookkeeping for one worker: live connections per source address, a token bucket
// for the connection rate, and when a refusal was last logged. Bounded: idle entries are swept.

/// Why a connection was refused (counted in `connections.refused`).
public enum Refusal: Sendable, Equatable {
    case access
    case perSourceLimit(Int)
    case rate(Double)

    public var reason: String {
        switch self {
        case .access: return "not allowed by allow/deny"
        case .perSourceLimit(let limit): return "\(limit) connection\(limit == 1 ? "" : "s") from this source already (maxConnectionsPerSource)"
        case .rate(let rate): return "more than \(JSONNumber(rate).text) new connection\(rate == 1 ? "" : "s") per second from this source (maxConnectionRatePerSource)"
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
        public var lastRefusalLog: MonotonicNanos?
    }

    /// Entries beyond this are not created; such sources are admitted untracked.
    public static let maxEntries = 65536

    public private(set) var entries: [IPAddress: Entry] = [:]

    public init() {}

    /// Admits a new connection from `source` or says why not. An admitted connection is counted
    /// live until `release`.
    public mutating func admit(_ source: IPAddress, now: MonotonicNanos, perSourceLimit: Int?, rate: Double?) -> Refusal? {
        let capacity = max(1, rate ?? 1)
        guard var entry = entries[source] ?? newEntry(capacity: capacity, now: now) else { return nil }
        if let rate {
            entry.tokens = min(capacity, entry.tokens + Double(now - entry.refilledAt) / 1e9 * rate)
            entry.refilledAt = now
            if entry.tokens < 1 {
                entries[source] = entry
                return .rate(rate)
            }
        }
        if let limit = perSourceLimit, entry.live >= limit {
            entries[source] = entry
            return .perSourceLimit(limit)
        }
        if rate != nil { entry.tokens -= 1 }
        entry.live += 1
        entries[source] = entry
        return nil
    }

    private func newEntry(capacity: Double, now: MonotonicNanos) -> Entry? {
        entries.count < Self.maxEntries ? Entry(tokens: capacity, refilledAt: now) : nil
    }

    /// Takes one token from `source`'s bucket (UDP: one per datagram answered); false when the
    /// source is over `rate`.
    public mutating func takeToken(_ source: IPAddress, now: MonotonicNanos, rate: Double) -> Bool {
        let capacity = max(1, rate)
        guard var entry = entries[source] ?? newEntry(capacity: capacity, now: now) else { return true }
        entry.tokens = min(capacity, entry.tokens + Double(now - entry.refilledAt) / 1e9 * rate)
        entry.refilledAt = now
        let allowed = entry.tokens >= 1
        if allowed { entry.tokens -= 1 }
        entries[source] = entry
        return allowed
    }

    /// A connection admitted from `source` has closed.
    public mutating func release(_ source: IPAddress) {
        guard var entry = entries[source] else { return }
        entry.live = max(0, entry.live - 1)
        entries[source] = entry
    }

    /// Whether a refusal of `source` should be logged now: at most once per second per source.
    public mutating func shouldLogRefusal(_ source: IPAddress, now: MonotonicNanos) -> Bool {
        var entry = entries[source] ?? Entry(tokens: 1, refilledAt: now)
        if let last = entry.lastRefusalLog, now - last < 1_000_000_000 { return false }
        guard entries[source] != nil || entries.count < Self.maxEntries else { return true }
        entry.lastRefusalLog = now
        entries[source] = entry
        return true
    }

    /// Drops entries with no live connection whose bucket is full and whose last logged
    /// refusal is over a second old. Returns whether any entries remain.
    @discardableResult
    public mutating func sweep(now: MonotonicNanos, rate: Double?) -> Bool {
        let capacity = max(1, rate ?? 1)
        entries = entries.filter { _, entry in
            let refilled = rate.map { min(capacity, entry.tokens + Double(now - entry.refilledAt) / 1e9 * $0) } ?? capacity
            let recentLog = entry.lastRefusalLog.map { now - $0 < 1_000_000_000 } ?? false
            return entry.live > 0 || refilled < capacity || recentLog
        }
        return !entries.isEmpty
    }
}
