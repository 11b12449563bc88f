// One service's thread: its event loop owns the listener (EventLoop/Listener.swift) and the
// runtime that serves what it accepts (the kind's engine: StreamEngine, DatagramRuntime, …).
// Other threads talk to it only through `mailbox` (commands) and read `stats` (atomics); it
// reports to the supervisor through `report`, never by blocking.

/// Commands other threads send to a worker.
enum WorkerCommand: Sendable {
    /// Fill part `index` of `gather` with the live connections.
    case snapshot(Gather<[LiveConnection]>, index: Int)
    /// Fill part `index` of `gather` at once: the watchdog's proof that the loop turns.
    case ping(Gather<Bool>, index: Int)
    /// New settings of the same kind and transport: rebind; live connections keep their
    /// settings. `ticket` is reported after the bind attempt.
    case reconfigure(ServiceConfig, ticket: Int)
    /// Stop accepting now; close the connections still open after `drainSeconds`; then end.
    /// `ticket` is reported once the listening socket is closed.
    case stop(drainSeconds: Double, ticket: Int)
    /// Test hook: treat the listening socket as failed, as if `ss -K` had destroyed it.
    case failListener(reason: String)
    /// `restart` (control): rebind now with a fresh backoff (a daemon: start its program again
    /// on the same socket). `ticket` is reported after the bind attempt.
    case restart(ticket: Int)
    /// `start` on a failed or backing-off service: try again now with a fresh backoff.
    case retry(ticket: Int)
    /// `kill` (control): close the live connections from `peer` (nil: all); `reply` gets their
    /// peers, or why this kind cannot.
    case kill(peer: SocketAddress?, reply: @Sendable (Result<[SocketAddress], ControlFailure>) -> Void)
}

/// What a worker tells the supervisor.
enum WorkerReport: Sendable {
    /// The work a ticket stood for is done (a bind attempted, a listener closed).
    case done(ticket: Int)
    /// The thread has ended; every descriptor it owned is closed.
    case exited(worker: Int)
}

/// What serves a service's traffic on its worker thread: the kind's engine.
protocol ServiceRuntime: AnyObject {
    /// A connection was accepted (TCP).
    func accepted(_ fd: Int32, peer: SocketAddress)
    /// The datagram socket is readable (UDP).
    func datagramsReady(_ fd: Int32)
    /// The listener bound or closed its socket.
    func listenerChanged(_ event: ListenerEvent)
    /// An event for one of the runtime's own descriptors.
    func handleEvent(token: UInt64, events: IOEvents)
    /// One of the runtime's timers (owners from `EngineContext.firstTimer` on).
    func handleTimer(owner: Int)
    /// New settings for what it accepts from now on.
    func reconfigure(_ config: ServiceConfig)
    /// Live connections now.
    var liveCount: Int { get }
    func liveConnections() -> [LiveConnection]
    /// The drain deadline: closes every connection now (a program kind stops its children
    /// instead, and the worker waits for them).
    func closeAll(reason: String)
    /// The worker's loop has ended: release everything at once.
    func shutdown()
    /// Why the service cannot run at all (a user switch without the privilege), checked
    /// before binding; nil when it can.
    var unusable: String? { get }
    /// The worker's listener, for a runtime that switches what it does (daemon).
    func attach(_ listener: Listener)
    /// `watch` mode: a connection waits (a daemon started on demand).
    func connectionWaiting(_ fd: Int32)
    /// The worker stops accepting (the listener is closed): a daemon is stopped at once.
    func stopAccepting()
    /// Whether new settings rebind the listener even when its address is unchanged (SPEC §6:
    /// a changed service is rebound); a daemon keeps its socket and restarts its program on it.
    var rebindsOnReconfigure: Bool { get }
    /// The log line for a stop that has to wait: connections draining, or a program stopping.
    func drainMessage(drainSeconds: Double) -> String
    /// `kill`: closes the live connections from `peer` (nil: every one) and returns their peers;
    /// a kind without connections of its own says why.
    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure>
    /// `restart`/`start` (control) on a kind that runs a program on the socket (daemon): start
    /// it again (`fresh`: with its backoff and restart count reset) without rebinding; returns
    /// false for kinds where a restart is a rebind.
    func restartProgram(fresh: Bool) -> Bool
}

extension ServiceRuntime {
    func datagramsReady(_ fd: Int32) {}
    func listenerChanged(_ event: ListenerEvent) {}
    func shutdown() { closeAll(reason: "shutdown") }
    var unusable: String? { nil }
    func drainMessage(drainSeconds: Double) -> String {
        let live = liveCount
        return "stopped accepting; draining \(live) connection\(live == 1 ? "" : "s") for up to \(formatSeconds(drainSeconds))"
    }
    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> {
        .failure(.usage("kind \"\(String(describing: type(of: self)))\" has no connections to close"))
    }
    func restartProgram(fresh: Bool) -> Bool { false }
    func attach(_ listener: Listener) {}
    func connectionWaiting(_ fd: Int32) {}
    func stopAccepting() {}
    var rebindsOnReconfigure: Bool { true }
}

final class ServiceWorker: EventHandler, ListenerOwner, @unchecked Sendable {
    // @unchecked Sendable: the object is handed to its thread once at start; after that only
    // `mailbox`, `stats` and `loop.waker` (all Sendable) are used from other threads.

    /// Timer owners: the listener's retry/resume timer, the drain deadline, then the runtime's.
    static let listenerTimer = 0
    static let drainTimer = 1
    static let firstRuntimeTimer = 2

    /// A unique number for this worker (the supervisor's key for it).
    let id: Int
    let mailbox: Mailbox<WorkerCommand>
    let stats: ServiceStats
    let logger: Logger
    let loop: EventLoop
    let context: EngineContext
    private let report: @Sendable (WorkerReport) -> Void

    // Loop-thread state.
    private(set) var config: ServiceConfig
    private var listener: Listener!
    /// A `let`: the hot path reaches it without a runtime exclusivity check.
    private let runtime: any ServiceRuntime
    private var stopping = false
    /// The ticket to report after the next bind attempt (start, reconfigure).
    private var bindTicket: Int?

    var name: String { stats.name }

    init(id: Int, config: ServiceConfig, stats: ServiceStats, logger: Logger, adopted: Int32?, startTicket: Int,
         report: @escaping @Sendable (WorkerReport) -> Void) throws(SystemError) {
        self.id = id
        self.config = config
        self.stats = stats
        self.logger = logger
        self.report = report
        bindTicket = startTicket
        loop = try EventLoop()
        mailbox = Mailbox(waking: loop.waker)
        let context = EngineContext(name: config.name, loop: loop, stats: stats, logger: logger, firstTimer: Self.firstRuntimeTimer)
        self.context = context
        runtime = Kinds.named(config.kind)?.makeRuntime(config, context) ?? UnservedRuntime()
        listener = Listener(Self.listenerSettings(config), owner: self, loop: loop, logger: logger,
                            timerOwner: Self.listenerTimer, adopted: adopted)
        runtime.attach(listener)
        context.connectionClosed = { [unowned self] in self.connectionClosed() }
    }

    static func listenerSettings(_ config: ServiceConfig) -> ListenerSettings {
        ListenerSettings(name: config.name, host: config.host, address: config.address, port: config.port,
                         transport: config.transport, restart: config.restart)
    }

    /// Starts the worker's thread. The thread binds, serves, and ends after `.stop`.
    func start() throws(SystemError) {
        try LoopThread.start(name: "pv-\(name)") { self.run() }
    }

    private func run() {
        if let reason = runtime.unusable {
            stats.update { $0.state = .failed; $0.lastError = reason }
            logger.error(name, event: "failed", "failed: \(reason)")
            listener.stop()
            reportBindAttempt()
        } else {
            listener.start()
        }
        do {
            try loop.run(self)
        } catch {
            logger.error(name, event: "loop-failed", "event loop failed: \(error)")
            stats.update { $0.state = .failed; $0.lastError = "event loop failed: \(error)" }
        }
        listener.stop()
        runtime.shutdown()
        reportBindAttempt()
        report(.exited(worker: id))
    }

    private func reportBindAttempt() {
        if let ticket = bindTicket {
            bindTicket = nil
            report(.done(ticket: ticket))
        }
    }

    // MARK: EventHandler

    func handleEvent(token: UInt64, events: IOEvents) {
        if Listener.isListenerToken(token) {
            if listener.owns(token) { listener.ready(events) }
        } else {
            runtime.handleEvent(token: token, events: events)
        }
    }

    func handleTimer(owner: Int) {
        switch owner {
        case Self.listenerTimer: listener.timerFired()
        case Self.drainTimer: drainDeadlinePassed()
        default: runtime.handleTimer(owner: owner)
        }
    }

    func handleWakeup() {
        for command in mailbox.takeAll() {
            switch command {
            case .snapshot(let gather, let index): gather.fulfil(index, runtime.liveConnections())
            case .ping(let gather, let index): gather.fulfil(index, true)
            case .reconfigure(let next, let ticket): reconfigure(next, ticket: ticket)
            case .stop(let drainSeconds, let ticket): stop(drainSeconds: drainSeconds, ticket: ticket)
            case .failListener(let reason): if !stopping { listener.failed(reason) }
            case .restart(let ticket): restart(ticket: ticket, onlyIfFailed: false)
            case .retry(let ticket): restart(ticket: ticket, onlyIfFailed: true)
            case .kill(let peer, let reply): reply(stopping ? .success([]) : runtime.kill(from: peer))
            }
        }
    }

    // MARK: ListenerOwner

    func accepted(_ fd: Int32, peer: SocketAddress) { runtime.accepted(fd, peer: peer) }

    func datagramsReady(_ fd: Int32) { runtime.datagramsReady(fd) }

    func connectionWaiting(_ fd: Int32) { runtime.connectionWaiting(fd) }

    func listener(_ listener: Listener, reported event: ListenerEvent) {
        switch event {
        case .listening(_, let port):
            stats.update {
                $0.state = .running
                $0.boundPort = port
            }
            let udp = config.transport == .udp ? "/udp" : ""
            logger.info(name, event: "listening", "listening on \(Address.display(host: config.host, port: port))\(udp) (\(PortRange.classify(port).rawValue))",
                        fields: [JSONMember("port", .int(port))])
            runtime.listenerChanged(event)
            reportBindAttempt()
        case .restarting:
            ServiceStats.add(stats.restarts, 1)
        case .backoff(let reason):
            stats.update {
                $0.state = .backoff
                $0.lastError = reason
            }
            reportBindAttempt()
        case .failed(let reason):
            stats.update {
                $0.state = .failed
                $0.lastError = reason
            }
            reportBindAttempt()
        case .closed:
            runtime.listenerChanged(event)
        }
    }

    // MARK: Commands

    private func reconfigure(_ next: ServiceConfig, ticket: Int) {
        guard !stopping else {
            report(.done(ticket: ticket))
            return
        }
        config = next
        stats.update { $0.config = next }
        runtime.reconfigure(next)
        let settings = Self.listenerSettings(next)
        var sameAddress = settings
        sameAddress.restart = listener.settings.restart
        if !runtime.rebindsOnReconfigure && sameAddress == listener.settings {
            logger.info(name, event: "reconfigured", "settings changed; the listening socket stays")
            listener.update(restart: next.restart)
            report(.done(ticket: ticket))
            return
        }
        logger.info(name, event: "reconfigured", "settings changed; rebinding")
        bindTicket = ticket
        listener.reconfigure(settings)
    }

    /// `restart`, or (`onlyIfFailed`) `start` on a service in backoff or failed: rebind at once
    /// with a fresh backoff; a daemon whose socket is fine starts its program again instead.
    private func restart(ticket: Int, onlyIfFailed: Bool) {
        let state = stats.listenerStatus.state
        guard !stopping, !onlyIfFailed || state == .backoff || state == .failed else {
            report(.done(ticket: ticket))
            return
        }
        if listener.boundPort != nil, runtime.restartProgram(fresh: true) {
            report(.done(ticket: ticket))
            return
        }
        if let reason = runtime.unusable {
            stats.update { $0.state = .failed; $0.lastError = reason }
            report(.done(ticket: ticket))
            return
        }
        logger.info(name, event: "restarting", onlyIfFailed ? "starting again now (control), with a fresh backoff" : "rebinding now (control)")
        bindTicket = ticket
        listener.rebindNow()
    }

    private func stop(drainSeconds: Double, ticket: Int) {
        guard !stopping else {
            report(.done(ticket: ticket))
            return
        }
        stopping = true
        listener.stop()
        runtime.stopAccepting()
        stats.update { $0.state = .stopped }
        reportBindAttempt()
        report(.done(ticket: ticket))
        let live = runtime.liveCount
        if live == 0 {
            loop.stop()
        } else {
            logger.info(name, event: "draining", runtime.drainMessage(drainSeconds: drainSeconds))
            loop.timers.schedule(Self.drainTimer, at: loop.now + Clock.nanos(drainSeconds))
        }
    }

    private func drainDeadlinePassed() {
        let open = runtime.liveCount
        if open > 0 {
            logger.warning(name, event: "drain-timeout", "closing \(open) connection\(open == 1 ? "" : "s") still open after the drain")
        }
        runtime.closeAll(reason: "drain deadline")
        if runtime.liveCount == 0 { loop.stop() }  // else: when the last child has ended
    }

    /// After a connection closes: a draining worker ends once the last one is gone.
    private func connectionClosed() {
        if stopping && runtime.liveCount == 0 {
            loop.timers.cancel(Self.drainTimer)
            loop.stop()
        }
    }
}

/// A kind the registry does not know (never reached: validation rejects unknown kinds).
private final class UnservedRuntime: ServiceRuntime {
    func accepted(_ fd: Int32, peer: SocketAddress) { Syscall.close(fd) }
    func handleEvent(token: UInt64, events: IOEvents) {}
    func handleTimer(owner: Int) {}
    func reconfigure(_ config: ServiceConfig) {}
    var liveCount: Int { 0 }
    func liveConnections() -> [LiveConnection] { [] }
    func closeAll(reason: String) {}
}

/// `0.1 s`, `5 s`, `1.5 s`.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds == seconds.rounded() && abs(seconds) < 1e15 { return "\(Int(seconds)) s" }
    if seconds >= 0.1 { return "\((seconds * 100).rounded() / 100) s" }
    if seconds >= 0.001 { return "\(Int((seconds * 1000).rounded())) ms" }
    return "\(seconds) s"
}
