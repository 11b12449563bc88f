// A service's live statistics, shared between its worker thread (the only writer) and the
// status endpoint (a reader). Counters are atomics; the listener's state sits behind a lock.
// The list of live connections is not here: the worker builds it on request (see ServiceWorker).
import Synchronization

/// A service's lifecycle state (SPEC §4).
public enum ServiceState: String, Sendable, Equatable {
    case starting, running, backoff, failed, stopped
}

/// The listener's side of a service: what status shows besides the counters.
public struct ListenerStatus: Sendable, Equatable {
    public var state: ServiceState = .starting
    /// The port actually bound (differs from the config when it says 0); nil before the first bind.
    public var boundPort: Int?
    /// The most recent failure's reason; stays after recovery.
    public var lastError: String?
    public var config: ServiceConfig
    /// "control" while a `portvisor stop` holds the service stopped (until `start`).
    public var stoppedBy: String?
}

/// Counters and state of one service. Safe from any thread.
public final class ServiceStats: Sendable {
    public let name: String
    public let live = Atomic<Int>(0)
    public let total = Atomic<Int>(0)
    /// Connections closed at once because `maxConnections` were live.
    public let rejected = Atomic<Int>(0)
    /// Connections closed at once by allow/deny, maxConnectionsPerSource or the per-source rate.
    public let refused = Atomic<Int>(0)
    /// Connections closed by idleTimeout, writeTimeout, or a sentence's ackTimeout.
    public let idleTimeouts = Atomic<Int>(0)
    public let writeTimeouts = Atomic<Int>(0)
    /// UDP services: datagrams received, answered, and dropped (refused sources, looping
    /// defences, the per-source rate, or a full send buffer).
    public let datagramsIn = Atomic<Int>(0)
    public let datagramsOut = Atomic<Int>(0)
    public let datagramsDropped = Atomic<Int>(0)
    public let bytesIn = Atomic<Int>(0)
    public let bytesOut = Atomic<Int>(0)
    /// Rebind attempts after the first bind, for the life of the process.
    public let restarts = Atomic<Int>(0)
    /// The kind's own counters (sentence acknowledgements, …), when it has any.
    public let kind: (any KindStats)?
    private let listener: Locked<ListenerStatus>

    public init(config: ServiceConfig) {
        name = config.name
        kind = Kinds.named(config.kind)?.makeStats()
        listener = Locked(ListenerStatus(state: config.enabled ? .starting : .stopped, config: config))
    }

    public var listenerStatus: ListenerStatus { listener.withLock { $0 } }

    public func update(_ change: (inout ListenerStatus) -> Void) {
        listener.withLock { change(&$0) }
    }

    /// Adds `amount` to a counter. Relaxed: these are statistics, not synchronisation.
    @inline(__always)
    public static func add(_ counter: borrowing Atomic<Int>, _ amount: Int) {
        counter.wrappingAdd(amount, ordering: .relaxed)
    }

    /// The counters and state now, with `connections` as the live list (nil: not collected).
    public func snapshot(connections: [LiveConnection]?) -> ServiceSnapshot {
        let status = listenerStatus
        let kind = self.kind?.snapshot()
        return ServiceSnapshot(
            config: status.config, state: status.state, boundPort: status.boundPort, lastError: status.lastError, stoppedBy: status.stoppedBy,
            restarts: restarts.load(ordering: .relaxed), live: live.load(ordering: .relaxed),
            total: total.load(ordering: .relaxed), rejected: rejected.load(ordering: .relaxed),
            refused: refused.load(ordering: .relaxed),
            timeouts: Timeouts(idle: idleTimeouts.load(ordering: .relaxed), write: writeTimeouts.load(ordering: .relaxed),
                               ack: kind?.deadlineTimeouts ?? 0),
            bytesIn: bytesIn.load(ordering: .relaxed), bytesOut: bytesOut.load(ordering: .relaxed),
            datagrams: Datagrams(received: datagramsIn.load(ordering: .relaxed), sent: datagramsOut.load(ordering: .relaxed),
                                 dropped: datagramsDropped.load(ordering: .relaxed)),
            kind: kind, connections: connections)
    }
}

/// A UDP service's datagram counts.
public struct Datagrams: Sendable, Equatable {
    public var received = 0
    public var sent = 0
    public var dropped = 0
}

/// Connections closed by each deadline.
public struct Timeouts: Sendable, Equatable {
    public var idle = 0
    public var write = 0
    public var ack = 0
}

/// One live connection, as status lists it.
public struct LiveConnection: Sendable, Equatable {
    public var peer: SocketAddress
    public var since: WallTime
    public var bytesIn: Int
    public var bytesOut: Int
    /// exec: the child serving it.
    public var pid: Int32?
    /// proxy: where it is forwarded.
    public var upstream: SocketAddress?

    public init(peer: SocketAddress, since: WallTime, bytesIn: Int, bytesOut: Int, pid: Int32? = nil, upstream: SocketAddress? = nil) {
        self.peer = peer
        self.since = since
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.pid = pid
        self.upstream = upstream
    }
}

/// Everything status reports about one service at one moment.
public struct ServiceSnapshot: Sendable {
    public var config: ServiceConfig
    public var state: ServiceState
    public var boundPort: Int?
    public var lastError: String?
    public var stoppedBy: String? = nil
    public var restarts: Int
    public var live: Int
    public var total: Int
    public var rejected: Int
    public var refused: Int
    public var timeouts: Timeouts
    public var bytesIn: Int
    public var bytesOut: Int
    public var datagrams: Datagrams
    /// The kind's own counters (`sentences`, …), when it has any.
    public var kind: (any KindSnapshot)?
    /// The live connections, when they were collected.
    public var connections: [LiveConnection]?

    /// The port to show: the bound one, else the configured one.
    public var port: Int { boundPort ?? config.port }
}
