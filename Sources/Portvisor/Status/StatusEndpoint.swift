// The status endpoint's thread: the same Listener and StreamEngine as every service, with
// HTTPConnection as its protocol. A complete request suspends its connection; /status asks
// every worker for its live connections through a Gather and answers when all have replied or
// one second has passed, so no request ever blocks this thread. When every slot is taken, the
// connection that has waited longest for its request makes room: idle or slow clients, however
// many, cannot starve a real request (SPEC §5, §9).

/// Commands to the status thread.
enum StatusCommand: Sendable {
    /// Move the endpoint (reload); nil turns it off. `ticket` is reported after the bind attempt.
    case rebind(StatusEndpointConfig?, ticket: Int)
    /// Close everything and end the thread.
    case stop
    /// The watchdog's proof of life.
    case ping(Gather<Bool>, index: Int)
    /// The connection lists of request `id` are all in.
    case gathered(Int)
}

final class StatusEndpoint: EventHandler, ListenerOwner, @unchecked Sendable {
    // @unchecked Sendable: after `start`, other threads only use `mailbox` (Sendable).

    static let maxConnections = 256
    /// How long /status waits for the workers' lists.
    static let gatherNanos: MonotonicNanos = 1_000_000_000
    /// Pending output of an answer may make no progress for this long.
    static let writeTimeout = 5.0
    static let listenerTimer = 0
    static let gatherTimer = 1

    let id: Int
    let mailbox: Mailbox<StatusCommand>
    private let loop: EventLoop
    private let logger: Logger
    private let context: EngineContext
    private let engine: StreamEngine<HTTPService>
    private weak var supervisor: Supervisor?
    private let report: @Sendable (SupervisorMessage) -> Void

    // Loop-thread state.
    private var config: StatusEndpointConfig?
    private var listener: Listener!
    private var environment = PortEnvironment.current()
    private var bindTicket: Int?
    /// /status requests waiting for their lists, by request id.
    private var pending: [Int: Pending] = [:]
    private var nextRequest = 0

    private struct Pending {
        let slot: Int
        let generation: UInt32
        let request: HTTPRequest
        let handles: [ServiceHandle]
        let gather: Gather<[LiveConnection]>
        let deadline: MonotonicNanos
    }

    init(id: Int, config: StatusEndpointConfig, logger: Logger, adopted: Int32?, startTicket: Int, supervisor: Supervisor?,
         report: @escaping @Sendable (SupervisorMessage) -> Void) throws(SystemError) {
        self.id = id
        self.config = config
        self.logger = logger
        self.supervisor = supervisor
        self.report = report
        bindTicket = startTicket
        loop = try EventLoop()
        mailbox = Mailbox(waking: loop.waker)
        let stats = ServiceStats(config: ServiceConfig(name: "status", kind: "http", port: config.port))
        context = EngineContext(name: "status", loop: loop, stats: stats, logger: logger, firstTimer: Self.gatherTimer + 1)
        let profile = StreamProfile(id: 0, policy: Self.policy(config), 
                                    idleTimeout: 300, writeTimeout: Self.writeTimeout, service: HTTPService())
        engine = StreamEngine(context: context, profile: profile, empty: HTTPConnection())
        listener = Listener(Self.settings(config), owner: self, loop: loop, logger: logger, timerOwner: Self.listenerTimer, adopted: adopted)
        engine.onSuspend = { [unowned self] slot in self.requestComplete(slot) }
    }

    static func policy(_ config: StatusEndpointConfig) -> AdmissionPolicy {
        AdmissionPolicy(access: config.access, maxConnections: maxConnections, whenFull: .evictOldest)
    }

    static func settings(_ config: StatusEndpointConfig) -> ListenerSettings {
        // The status endpoint retries forever: it must come back whatever happened to its port.
        ListenerSettings(name: "status", host: config.host, address: config.address, port: config.port, transport: .tcp,
                         restart: RestartPolicy(), backlog: 128, acceptsPerWakeup: 64)
    }

    func start() throws(SystemError) {
        try LoopThread.start(name: "pv-status") { self.run() }
    }

    private func run() {
        listener.start()
        do {
            try loop.run(self)
        } catch {
            logger.error("status", event: "loop-failed", "event loop failed: \(error)")
        }
        listener.stop()
        engine.closeAll(reason: "shutdown")
        reportBindAttempt()
        report(.worker(.exited(worker: id)))
    }

    private func reportBindAttempt() {
        if let ticket = bindTicket {
            bindTicket = nil
            report(.worker(.done(ticket: ticket)))
        }
    }

    // MARK: EventHandler

    func handleEvent(token: UInt64, events: IOEvents) {
        if Listener.isListenerToken(token) {
            if listener.owns(token) { listener.ready(events) }
        } else {
            engine.handleEvent(token: token, events: events)
        }
    }

    func handleTimer(owner: Int) {
        switch owner {
        case Self.listenerTimer: listener.timerFired()
        case Self.gatherTimer: answerOverdue()
        default: engine.handleTimer(owner: owner)
        }
    }

    func handleWakeup() {
        for command in mailbox.takeAll() {
            switch command {
            case .rebind(let next, let ticket):
                rebind(next, ticket: ticket)
            case .stop:
                loop.stop()
            case .ping(let gather, let index):
                gather.fulfil(index, true)
            case .gathered(let request):
                if let waiting = pending.removeValue(forKey: request) { answer(waiting) }
            }
        }
    }

    private func rebind(_ next: StatusEndpointConfig?, ticket: Int) {
        environment = PortEnvironment.current()
        guard next != config else {
            report(.worker(.done(ticket: ticket)))
            return
        }
        let previous = config
        config = next
        if let next {
            engine.reconfigure(policy: Self.policy(next), idleTimeout: 300, writeTimeout: Self.writeTimeout, service: HTTPService())
        }
        if let next, let previous, next.sameAddress(as: previous), !listener.isStopped {
            logger.info("status", event: "reconfigured", "access rules or token changed; the socket stays")
            report(.worker(.done(ticket: ticket)))
            return
        }
        guard let next else {
            listener.stop()
            listener = Listener(Self.settings(StatusEndpointConfig.default), owner: self, loop: loop, logger: logger,
                                timerOwner: Self.listenerTimer, adopted: nil)
            logger.info("status", event: "off", "status endpoint turned off")
            report(.worker(.done(ticket: ticket)))
            return
        }
        bindTicket = ticket
        if listener.isStopped {
            listener = Listener(Self.settings(next), owner: self, loop: loop, logger: logger, timerOwner: Self.listenerTimer, adopted: nil)
            listener.start()
        } else {
            listener.reconfigure(Self.settings(next))
        }
    }

    // MARK: ListenerOwner

    func accepted(_ fd: Int32, peer: SocketAddress) { engine.accepted(fd, peer: peer) }

    func datagramsReady(_ fd: Int32) {}

    func listener(_ listener: Listener, reported event: ListenerEvent) {
        switch event {
        case .listening(_, let port):
            report(.statusBound(port))
            if let config {
                logger.info("status", event: "listening", "status endpoint on http://\(Address.display(host: config.host, port: port))/status",
                            fields: [JSONMember("port", .int(port))])
            }
            reportBindAttempt()
        case .closed:
            report(.statusBound(nil))
        case .backoff, .failed:
            reportBindAttempt()
        case .restarting:
            break
        }
    }

    // MARK: Requests

    /// A connection's request head is complete: answer it now, or gather first for /status.
    private func requestComplete(_ slot: Int) {
        guard let request = engine.state(of: slot)?.request else { return }
        if let refusal = StatusAccess.check(request, token: config?.token) {
            engine.resume(slot, with: HTTPConnection.answer(refusal.serialized(includeBody: request.method != "HEAD")))
            return
        }
        guard let supervisor else {
            engine.resume(slot, with: HTTPConnection.answer(HTTPResponse.error(503, "the supervisor is gone")))
            return
        }
        guard StatusRouter.needsConnections(request) else {
            let snapshot = supervisor.snapshot(connections: false)
            engine.resume(slot, with: respond(request, snapshot))
            return
        }
        let handles = supervisor.directory.withLock { $0.all }
        let id = nextRequest
        nextRequest &+= 1
        let mailbox = self.mailbox
        let gather = supervisor.requestLists(handles) { mailbox.post(.gathered(id)) }
        let deadline = loop.now + Self.gatherNanos
        pending[id] = Pending(slot: slot, generation: engine.generation(of: slot), request: request, handles: handles, gather: gather, deadline: deadline)
        if loop.timers.deadline(of: Self.gatherTimer) == nil { loop.timers.schedule(Self.gatherTimer, at: deadline) }
    }

    /// The gather deadline: answer every request that has waited a second with what arrived.
    private func answerOverdue() {
        let now = loop.now
        for (id, waiting) in pending where waiting.deadline <= now {
            pending[id] = nil
            answer(waiting)
        }
        if let next = pending.values.map(\.deadline).min() { loop.timers.schedule(Self.gatherTimer, at: next) }
    }

    private func answer(_ waiting: Pending) {
        guard engine.isSuspended(waiting.slot, generation: waiting.generation), let supervisor else { return }
        let snapshot = supervisor.assemble(waiting.handles, lists: waiting.gather.parts)
        engine.resume(waiting.slot, with: respond(waiting.request, snapshot))
    }

    private func respond(_ request: HTTPRequest, _ snapshot: SupervisorSnapshot) -> Step {
        let response = StatusRouter.route(request, snapshot: snapshot, environment: environment)
        return HTTPConnection.answer(response.serialized(includeBody: request.method != "HEAD"))
    }
}
