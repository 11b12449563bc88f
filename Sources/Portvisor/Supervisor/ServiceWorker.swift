// One service's thread: its event loop owns the listener and every connection of the service.
// Other threads talk to it only through `mailbox` (commands) and read `stats` (atomics).
// Listener lifecycle: ServiceWorker+Listener.swift; connection I/O: ServiceWorker+Connections.swift.
import Dispatch
import Glibc
import Synchronization

/// Commands other threads send to a worker.
enum WorkerCommand: Sendable {
    /// Reply with the live connections.
    case snapshot(SnapshotRequest)
    /// The service's settings changed (reload): rebind; existing connections keep their settings.
    /// `done` is signalled after the rebind attempt.
    case reconfigure(ServiceConfig, done: DispatchSemaphore?)
    /// Stop accepting now; close the connections still open after `drainSeconds`; then exit.
    /// `listenerClosed` is signalled once the listening socket is closed.
    case stop(drainSeconds: Double, listenerClosed: DispatchSemaphore?)
    /// Test hook: treat the listening socket as failed, as if `ss -K` had destroyed it.
    case failListener(reason: String)
}

/// A request for a worker's live connections, answered from the worker's thread.
final class SnapshotRequest: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let result = Locked<[LiveConnection]?>(nil)

    func fulfil(_ connections: [LiveConnection]) {
        result.withLock { $0 = connections }
        done.signal()
    }

    /// The connections, or nil if the worker did not answer within `timeout` seconds.
    func wait(timeout: Double) -> [LiveConnection]? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return result.withLock { $0 }
    }
}

/// A service's settings as the worker applies them; connections keep the one they started with.
/// Loop-thread only.
final class ServiceProfile {
    let id: Int
    let config: ServiceConfig
    let idleNanos: MonotonicNanos
    let writeNanos: MonotonicNanos
    let ackNanos: MonotonicNanos
    /// Whether connections are counted per source (maxConnectionsPerSource or a rate is set).
    let tracksSources: Bool
    let maxAckBytes: Int
    let maxBufferedBytes: Int
    var daytime: DaytimeClock?
    var sentences: SentenceRotation?
    var quotes: QuoteRotation?
    /// Live connections accepted under this profile.
    var connections = 0

    init(id: Int, config: ServiceConfig) {
        self.id = id
        self.config = config
        idleNanos = Clock.nanos(config.idleTimeout)
        writeNanos = Clock.nanos(config.writeTimeout)
        tracksSources = config.maxConnectionsPerSource != nil || config.maxConnectionRatePerSource != nil
        var ack = SentenceOptions.defaultAckTimeout, maxAck = SentenceOptions.defaultMaxAckBytes
        var maxBuffered = EchoOptions.defaultMaxBufferedBytes
        switch config.options {
        case .daytime(let options): daytime = DaytimeClock(options)
        case .echo(let options): maxBuffered = options.maxBufferedBytes
        case .sentence(let options):
            sentences = SentenceRotation(options.sentences)
            ack = options.ackTimeout
            maxAck = options.maxAckBytes
        case .qotd(let options): quotes = QuoteRotation(options.quotes)
        case .discard, .chargen, .time: break
        }
        ackNanos = Clock.nanos(ack)
        maxAckBytes = maxAck
        maxBufferedBytes = maxBuffered
    }

    /// What a kind that answers once and closes (daytime, time, qotd) sends on accept; nil for
    /// the kinds that keep talking.
    func greeting(at time: WallTime) -> [UInt8]? {
        switch config.kind {
        case .daytime: return daytime?.line(at: time)
        case .time: return TimeProtocol.bytes(unixSeconds: time.seconds)
        case .qotd: return quotes?.nextQuote()
        case .echo, .sentence, .discard, .chargen: return nil
        }
    }
}

/// The listener's lifecycle on the worker's thread.
enum ListenerPhase {
    /// Before the first bind.
    case idle
    case listening(fd: Int32)
    /// Out of descriptors: accepting is paused until the listener timer fires.
    case paused(fd: Int32)
    /// Waiting for the listener timer to rebind.
    case waiting
    case failed
    case stopped
}

final class ServiceWorker: EventHandler, @unchecked Sendable {
    // @unchecked Sendable: the object is handed to its thread once at start; after that only
    // `mailbox`, `stats` and `loop.waker` (all Sendable) are used from other threads.

    static let listenerToken = UInt64.max - 1
    /// Timer owners: the listener's retry/resume timer, the drain deadline, the source-table
    /// sweep, then connection slots.
    static let listenerTimer = 0
    static let drainTimer = 1
    static let sourceSweepTimer = 2
    static let firstConnectionTimer = 3
    static let readBufferSize = 65536
    static let acceptsPerWakeup = 64

    let mailbox: Mailbox<WorkerCommand>
    let stats: ServiceStats
    let logger: Logger
    let loop: EventLoop
    /// Called once on the worker's thread after the first bind attempt, whatever its outcome.
    private let onStarted: @Sendable (ServiceState) -> Void
    /// Called on the worker's thread as its last act, after every descriptor is closed.
    private let onExit: @Sendable () -> Void
    private var startReported = false

    // Loop-thread state.
    var profile: ServiceProfile
    var retiredProfiles: [Int: ServiceProfile] = [:]
    var connections = ConnectionTable()
    var listener = ListenerPhase.idle
    var backoff: BackoffPolicy
    /// Consecutive rebind attempts not separated by `resetAfter` seconds of running.
    var consecutiveAttempts = 0
    var listeningSince: MonotonicNanos?
    /// The port the kernel chose, reused on rebind when the config says 0.
    var lastBoundPort: Int?
    /// EMFILE/ENFILE pause, doubling from 10 ms to 1 s; nil when not paused.
    var acceptPause: MonotonicNanos?
    var lastRejectionWarning: MonotonicNanos = -(1 << 62)
    /// Per-source counts and rates (only filled when the profile limits sources or refuses some).
    var sources = SourceTable()
    /// UDP chargen: the pattern line the next datagram starts at.
    var chargenDatagramLine = 0
    /// The UDP port this worker registered in `ownDatagramPorts`, if any.
    var registeredDatagramPort: UInt16?
    /// A socket passed by systemd (socket activation). It wins over the configured address and
    /// is not closed while it works: after a failure it is adopted again rather than replaced.
    /// Only when it is destroyed (no longer listening, e.g. `ss -K`) is a new socket bound, at
    /// the address it had.
    var adopted: Int32?
    /// The address of the adopted socket, where a replacement is bound.
    var adoptedAddress: SocketAddress?
    var warnedAboutAdoptedAddress = false
    var stopping = false
    let readBuffer: UnsafeMutableRawPointer

    var name: String { stats.name }

    init(config: ServiceConfig, stats: ServiceStats, logger: Logger, adopted: Int32? = nil,
         onStarted: @escaping @Sendable (ServiceState) -> Void, onExit: @escaping @Sendable () -> Void) throws(SystemError) {
        self.adopted = adopted
        self.stats = stats
        self.logger = logger
        self.onStarted = onStarted
        self.onExit = onExit
        loop = try EventLoop()
        mailbox = Mailbox(waking: loop.waker)
        profile = ServiceProfile(id: 0, config: config)
        backoff = BackoffPolicy(config.restart)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
    }

    deinit { readBuffer.deallocate() }

    /// Starts the worker's thread. The thread binds, serves, and ends after `.stop`.
    func start() throws(SystemError) {
        try LoopThread.start(name: "pv-\(name)") { self.run() }
    }

    private func run() {
        bindListener(isRestart: false)
        do {
            try loop.run(self)
        } catch {
            logger.error(name, event: "loop-failed", "event loop failed: \(error)")
            stats.update { $0.state = .failed; $0.lastError = "event loop failed: \(error)" }
        }
        closeEverything()
        reportStarted()
        onExit()
    }

    /// Tells the supervisor the first bind attempt is over (once).
    func reportStarted() {
        guard !startReported else { return }
        startReported = true
        onStarted(stats.listenerStatus.state)
    }

    // MARK: EventHandler

    func handleEvent(token: UInt64, events: IOEvents) {
        if token == Self.listenerToken {
            listenerReady(events)
        } else if let slot = connections.slot(for: token) {
            connectionReady(slot, events)
        }
    }

    func handleTimer(owner: Int) {
        switch owner {
        case Self.listenerTimer: listenerTimerFired()
        case Self.drainTimer: drainDeadlinePassed()
        case Self.sourceSweepTimer: sweepSources()
        default: connectionTimerFired(owner - Self.firstConnectionTimer)
        }
    }

    func handleWakeup() {
        for command in mailbox.takeAll() {
            switch command {
            case .snapshot(let request): request.fulfil(liveConnections())
            case .reconfigure(let config, let done):
                reconfigure(config)
                done?.signal()
            case .stop(let drainSeconds, let listenerClosed):
                stop(drainSeconds: drainSeconds)
                listenerClosed?.signal()
            case .failListener(let reason): listenerFailed(reason)
            }
        }
    }

    // MARK: Commands

    func liveConnections() -> [LiveConnection] {
        connections.liveIndices.map { index in
            let connection = connections.slots[index]
            return LiveConnection(peer: connection.peer, since: connection.since,
                                  bytesIn: connection.bytesIn, bytesOut: connection.bytesOut)
        }
    }

    private func reconfigure(_ config: ServiceConfig) {
        guard !stopping else { return }
        if profile.connections > 0 { retiredProfiles[profile.id] = profile }
        profile = ServiceProfile(id: profile.id + 1, config: config)
        backoff = BackoffPolicy(config.restart)
        stats.update { $0.config = config }
        logger.info(name, event: "reconfigured", "settings changed; rebinding")
        closeListener()
        if config.port != 0 { lastBoundPort = nil }
        consecutiveAttempts = 0
        loop.timers.cancel(Self.listenerTimer)
        bindListener(isRestart: false)
    }

    private func stop(drainSeconds: Double) {
        guard !stopping else { return }
        stopping = true
        closeListener()
        loop.timers.cancel(Self.listenerTimer)
        listener = .stopped
        stats.update { $0.state = .stopped }
        reportStarted()
        if connections.live == 0 {
            loop.stop()
        } else {
            logger.info(name, event: "draining", "stopped accepting; draining \(connections.live) connection\(connections.live == 1 ? "" : "s") for up to \(formatSeconds(drainSeconds))")
            loop.timers.schedule(Self.drainTimer, at: loop.now + Clock.nanos(drainSeconds))
        }
    }

    private func drainDeadlinePassed() {
        let open = connections.live
        if open > 0 {
            logger.warning(name, event: "drain-timeout", "closing \(open) connection\(open == 1 ? "" : "s") still open after the drain")
        }
        for index in connections.liveIndices { closeConnection(index, reason: "drain deadline") }
        loop.stop()
    }

    /// Called after a connection closes: a draining worker exits once the last one is gone.
    func connectionCountChanged() {
        if stopping && connections.live == 0 {
            loop.timers.cancel(Self.drainTimer)
            loop.stop()
        }
    }

    /// Releases every descriptor when the loop has ended.
    private func closeEverything() {
        closeListener()
        if let adopted { Syscall.close(adopted) }
        for index in connections.liveIndices { closeConnection(index, reason: "shutdown") }
    }
}

/// `0.1 s`, `5 s`, `1.5 s`.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
    if seconds >= 0.1 { return "\((seconds * 100).rounded() / 100) s" }
    return "\(Int((seconds * 1000).rounded())) ms"
}
