// The supervisor's own loop: the one place where start, reload and shutdown are ordered. It
// owns the lifecycle (starting → running ⇄ reloading → draining → stopping the status endpoint),
// the signalfd, the systemd watchdog timer, and the list of workers. Workers and the status
// endpoint answer through its mailbox (a ticket per bind attempt or closed listener, an exit
// report per thread), so no step of a reload or a stop ever blocks a thread on another.

/// Messages to the supervisor loop.
enum SupervisorMessage: Sendable {
    case worker(WorkerReport)
    case reload(PortvisorConfig, reply: Reply<ReloadReport>?)
    /// nil: the config's drainTimeout.
    case stop(drainSeconds: Double?, reply: Reply<Bool>?)
    /// The status endpoint's bound port changed (nil: not listening).
    case statusBound(Int?)
    /// Every thread answered watchdog round `round`.
    case watchdogAnswered(round: Int)
    /// A worker carried out control's `kill` number `request`.
    case killed(request: Int, outcome: Result<[SocketAddress], ControlFailure>)
}

/// Loop-thread only (its thread is the one that called `run`).
final class SupervisorLoop: EventHandler, @unchecked Sendable {
    // @unchecked Sendable: other threads only use `mailbox`.

    enum Lifecycle {
        case starting
        case running
        /// A reload in progress (its phases wait for tickets).
        case reloading
        /// Listeners closed; connections drain until every worker has ended.
        case draining(deadline: MonotonicNanos)
        /// Every worker has ended; the status endpoint (which answered during the drain) ends last.
        case stoppingStatus
        /// Descendants reparented to Portvisor got SIGTERM; SIGKILL at the deadline.
        case stoppingOrphans(deadline: MonotonicNanos)
        case stopped
    }

    static let signalToken: UInt64 = 1
    /// Timer owners.
    static let phaseTimer = 0
    static let watchdogTimer = 1
    static let drainTimer = 2
    static let orphanTimer = 3
    /// The control socket's deadlines, and the wait for a control command's tickets.
    static let controlTimer = 4
    static let controlWaitTimer = 5
    /// How often orphans are looked for without a SIGCHLD (and while stopping them).
    static let orphanScanNanos: MonotonicNanos = 1_000_000_000
    /// The shortest time between two scans for orphans prompted by SIGCHLD.
    static let orphanScanSpacing: MonotonicNanos = 100_000_000
    /// How long reparented descendants get between SIGTERM and SIGKILL.
    static let orphanStopNanos: MonotonicNanos = 5_000_000_000
    /// How long a reload waits for the old listeners to close.
    static let stopPhaseSeconds = 2.0

    let loop: EventLoop
    let mailbox: Mailbox<SupervisorMessage>
    /// The process is Portvisor's own (`run`): every child no worker owns is an orphan.
    private let ownsProcess: Bool
    private let logger: Logger
    private let directory: Locked<Directory>
    weak var supervisor: Supervisor?

    // Loop-thread state.
    private var lifecycle = Lifecycle.starting
    private var config: PortvisorConfig
    private var activated: ActivatedSockets
    private var signals: SignalReceiver?
    private var systemd = SystemdHooks.none
    private var onReady: @Sendable () -> Void = {}
    /// Workers by id.
    private var handles: [Int: ServiceHandle] = [:]
    private var active: [ServiceHandle] = []
    private var draining: [ServiceHandle] = []
    private var status: StatusHandle?
    private var statusConfig: StatusEndpointConfig?
    private var nextID = 1
    /// The tickets the current phase waits for, and what follows it.
    private var pendingTickets = Set<Int>()
    private var afterPhase: (() -> Void)?
    /// Reloads asked for while another was in progress (the last config wins; nil: reread the file).
    private var queuedReload: (config: PortvisorConfig?, trigger: String, completion: ((ReloadReport) -> Void)?)?
    private var stopReplies: [Reply<Bool>] = []
    private var watchdogRound = 0
    private var watchdogAnswered = true
    private var readyReported = false
    /// Services whose orphans got SIGTERM, and when they get SIGKILL.
    private var orphanKills: [(service: String, at: MonotonicNanos)] = []
    private var lastOrphanScan: MonotonicNanos = -(1 << 62)
    /// The caller waiting for the reload in progress.
    private var reloadReply: ((ReloadReport) -> Void)?
    /// Who asked for the reload in progress, for `lastReload`.
    private var reloadTrigger = "SIGHUP"

    // Control (Control/ControlServer.swift, docs/control.md).
    private var controlSocket: ClaimedControlSocket?
    private var control: ControlServer?
    /// Services `portvisor stop` took down: they stay stopped, across reloads, until `start`.
    private var stoppedByControl = Set<String>()
    /// Services the file disables that `portvisor start` brought up.
    private var startedByControl = Set<String>()
    /// stop, start, restart and reload run one at a time, never during a reload or a start.
    private var controlQueue: [(request: ControlRequest, respond: ControlResponder)] = []
    private var controlBusy = false
    private var controlTickets = Set<Int>()
    private var afterControl: (() -> Void)?
    private var pendingKills: [Int: (peer: SocketAddress?, service: String, respond: ControlResponder)] = [:]
    private var nextKill = 0

    /// The status endpoint's thread.
    struct StatusHandle {
        let id: Int
        let mailbox: Mailbox<StatusCommand>
        var exited = false
    }

    init(config: PortvisorConfig, logger: Logger, activated: ActivatedSockets, directory: Locked<Directory>,
         ownsProcess: Bool, control: ClaimedControlSocket?) throws(SystemError) {
        self.ownsProcess = ownsProcess
        controlSocket = control
        self.config = config
        self.logger = logger
        self.activated = activated
        self.directory = directory
        loop = try EventLoop()
        mailbox = Mailbox(waking: loop.waker)
    }

    // MARK: Running

    func run(signals: SignalReceiver?, systemd: SystemdHooks, onReady: @escaping @Sendable () -> Void) throws(SystemError) {
        self.signals = signals
        self.systemd = systemd
        self.onReady = onReady
        if let signals { try loop.epoll.add(signals.fd, .readable, token: Self.signalToken) }
        if !Spawner.becomeSubreaper() {
            logger.warning("supervisor", event: "subreaper", "cannot become a child subreaper; descendants of programs that outlive their parent are not stopped")
        }
        loop.timers.schedule(Self.orphanTimer, at: loop.now + Self.orphanScanNanos)
        if let interval = systemd.watchdogNanos {
            logger.info("supervisor", event: "watchdog", "systemd watchdog every \(formatSeconds(Double(interval) / 1e9)); pinging at half that")
        }
        startControl()
        startEverything()
        try loop.run(self)
        if let signals { loop.epoll.remove(signals.fd) }
    }

    private func startEverything() {
        logPortWarnings(config)
        var tickets = Set<Int>()
        if let status = config.status {
            let ticket = newTicket()
            tickets.insert(ticket)
            startStatusEndpoint(status, ticket: ticket)
        }
        statusConfig = config.status
        for service in config.services {
            let ticket = service.enabled ? newTicket() : nil
            if let ticket { tickets.insert(ticket) }
            active.append(launch(service, ticket: ticket))
        }
        publish()
        wait(for: tickets, seconds: Supervisor.startTimeout) { [unowned self] in self.started() }
    }

    private func started() {
        for (name, fd) in activated.leftovers {
            let what = name.isEmpty ? "an unnamed socket" : "socket \"\(name)\""
            logger.warning("supervisor", event: "activation-unmatched", "systemd passed \(what) (fd \(fd)) that matches no service; closing it")
            Syscall.close(fd)
        }
        activated = ActivatedSockets()
        if case .starting = lifecycle { lifecycle = .running }
        reportReady()
        systemd.notifier?.send(["READY=1", "STATUS=\(summaryLine())"])
        if systemd.watchdogNanos != nil { watchdogTick() }
        runQueuedReload()
        runControlQueue()
    }

    private func reportReady() {
        guard !readyReported else { return }
        readyReported = true
        onReady()
    }

    // MARK: EventHandler

    func handleEvent(token: UInt64, events: IOEvents) {
        if ControlServer.isControlToken(token) {
            control?.handleEvent(token: token, events: events)
            return
        }
        guard token == Self.signalToken, let signals else { return }
        while let signal = signals.next() { handle(signal: signal) }
    }

    func handleTimer(owner: Int) {
        switch owner {
        case Self.phaseTimer:
            pendingTickets.removeAll()
            finishPhase()
        case Self.watchdogTimer:
            watchdogTick()
        case Self.drainTimer:
            // A worker that did not end within its drain and a margin: stop waiting for it.
            logger.warning("supervisor", event: "stop-forced", "a service thread did not end after its drain; exiting without it")
            stopStatusEndpoint()
        case Self.orphanTimer:
            orphanTick()
        case Self.controlTimer:
            control?.timerFired()
        case Self.controlWaitTimer:
            controlTickets.removeAll()
            finishControlWait()
        default:
            break
        }
    }

    func handleWakeup() {
        for message in mailbox.takeAll() {
            switch message {
            case .worker(.done(let ticket)):
                if pendingTickets.remove(ticket) != nil {
                    if pendingTickets.isEmpty { finishPhase() }
                } else if controlTickets.remove(ticket) != nil, controlTickets.isEmpty {
                    finishControlWait()
                }
            case .killed(let request, let outcome):
                killed(request, outcome)
            case .worker(.exited(let id)):
                workerExited(id)
            case .reload(let next, let reply):
                requestReload(next, trigger: "api", completion: reply.map { reply in { reply.fulfil($0) } })
            case .stop(let drainSeconds, let reply):
                if let reply { stopReplies.append(reply) }
                beginStop(drainSeconds: drainSeconds ?? config.drainTimeout, reason: nil)
            case .statusBound(let port):
                directory.withLock { $0.statusPort = port }
            case .watchdogAnswered(let round):
                if round == watchdogRound {
                    watchdogAnswered = true
                    systemd.notifier?.send(["WATCHDOG=1"])
                }
            }
        }
    }

    // MARK: Signals

    private func handle(signal: Int32) {
        switch signal {
        case Signals.SIGINT, Signals.SIGTERM:
            if case .draining = lifecycle {
                logger.warning("supervisor", event: "stop-forced", "\(SignalReceiver.name(signal)) again: exiting without waiting for the drain")
                finishStopping()
                return
            }
            if case .stoppingStatus = lifecycle {
                finishStopping()
                return
            }
            beginStop(drainSeconds: config.drainTimeout, reason: SignalReceiver.name(signal))
        case Signals.SIGHUP:
            logger.info("supervisor", event: "reloading", "SIGHUP received: reloading \(config.path)")
            requestReload(nil, trigger: "SIGHUP", completion: nil)
        case Signals.SIGUSR1:
            for line in summaryLines() { logger.info("supervisor", event: "summary", line) }
        case Signals.SIGCHLD:
            // Most SIGCHLDs are exec children their workers reap through pidfds; a scan for
            // orphans reads /proc for every thread, so under a storm of exits it runs at most
            // every 100 ms (an orphan waits that long to be reaped, no more).
            let now = loop.now
            if now - lastOrphanScan >= Self.orphanScanSpacing {
                Orphans.reap(everyChild: ownsProcess)
                lastOrphanScan = now
            } else if (loop.timers.deadline(of: Self.orphanTimer) ?? .max) > lastOrphanScan + Self.orphanScanSpacing {
                loop.timers.schedule(Self.orphanTimer, at: lastOrphanScan + Self.orphanScanSpacing)
            }
        default:
            logger.debug("supervisor", event: "signal", "\(SignalReceiver.name(signal)) ignored")
        }
    }

    // MARK: Phases

    private func newTicket() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    /// Runs `then` once every ticket is reported done, or after `seconds`.
    private func wait(for tickets: Set<Int>, seconds: Double, then: @escaping () -> Void) {
        pendingTickets = tickets
        afterPhase = then
        if tickets.isEmpty {
            finishPhase()
        } else {
            loop.timers.schedule(Self.phaseTimer, at: loop.now + Clock.nanos(seconds))
        }
    }

    private func finishPhase() {
        loop.timers.cancel(Self.phaseTimer)
        pendingTickets.removeAll()
        guard let next = afterPhase else { return }
        afterPhase = nil
        next()
    }

    // MARK: Workers

    /// The handle for `service` and, when it is enabled, its worker thread. `ticket` is
    /// reported after the first bind attempt.
    private func launch(_ service: ServiceConfig, ticket: Int?) -> ServiceHandle {
        let stats = ServiceStats(config: service)
        guard let ticket else {
            if stoppedByControl.contains(service.name) {
                stats.update { $0.state = .stopped; $0.stoppedBy = "control" }
                logger.info(service.name, event: "stopped", "stopped by control (portvisor stop); not bound until portvisor start")
            } else {
                logger.info(service.name, event: "disabled", "disabled in the config; not bound")
            }
            return ServiceHandle(stats: stats, worker: nil, mailbox: nil)
        }
        let id = newTicket()
        let adopted = activated.take(service.name)
        if let adopted { logger.info(service.name, event: "adopted", "using the socket passed by systemd (fd \(adopted))") }
        let mailbox = self.mailbox
        do {
            let worker = try ServiceWorker(id: id, config: service, stats: stats, logger: logger, adopted: adopted, startTicket: ticket,
                                           report: { mailbox.post(.worker($0)) })
            let handle = ServiceHandle(stats: stats, worker: id, mailbox: worker.mailbox)
            handles[id] = handle
            try worker.start()
            return handle
        } catch {
            handles[id] = nil
            if let adopted { Syscall.close(adopted) }
            stats.update { $0.state = .failed; $0.lastError = "cannot start its thread: \(error)" }
            logger.error(service.name, event: "failed", "failed: cannot start its thread: \(error)")
            mailbox.post(.worker(.done(ticket: ticket)))
            return ServiceHandle(stats: stats, worker: nil, mailbox: nil)
        }
    }

    private func workerExited(_ id: Int) {
        if let status, status.id == id {
            self.status?.exited = true
            directory.withLock { $0.statusPort = nil }
            if case .stoppingStatus = lifecycle { finishStopping() }
            return
        }
        guard let handle = handles.removeValue(forKey: id) else { return }
        handle.exited.store(true, ordering: .releasing)
        draining.removeAll { $0 === handle }
        publish()
        // Descendants its programs left behind stop with it.
        if Orphans.signal(service: handle.name, Signals.SIGTERM, everyChild: ownsProcess) > 0 {
            orphanKills.append((handle.name, loop.now + Self.orphanStopNanos))
        }
        if case .draining = lifecycle, handles.isEmpty { stopStatusEndpoint() }
    }

    /// Makes the current lists visible to the status endpoint and blocking callers.
    private func publish() {
        let (config, active, draining) = (self.config, self.active, self.draining)
        directory.withLock {
            $0.config = config
            $0.active = active
            $0.draining = draining
        }
    }

    // MARK: The status endpoint

    private func startStatusEndpoint(_ config: StatusEndpointConfig, ticket: Int) {
        let id = newTicket()
        let adopted = activated.take("status")
        if let adopted { logger.info("status", event: "adopted", "using the socket passed by systemd (fd \(adopted))") }
        let mailbox = self.mailbox
        do {
            let endpoint = try StatusEndpoint(id: id, config: config, logger: logger, adopted: adopted, startTicket: ticket,
                                              supervisor: supervisor, report: { mailbox.post($0) })
            status = StatusHandle(id: id, mailbox: endpoint.mailbox)
            try endpoint.start()
        } catch {
            status = nil
            logger.error("status", event: "failed", "cannot start the status endpoint: \(error)")
            mailbox.post(.worker(.done(ticket: ticket)))
        }
    }

    private func stopStatusEndpoint() {
        loop.timers.cancel(Self.drainTimer)
        lifecycle = .stoppingStatus
        guard let status, !status.exited else {
            finishStopping()
            return
        }
        status.mailbox.post(.stop)
        loop.timers.schedule(Self.phaseTimer, at: loop.now + 5_000_000_000)
        afterPhase = { [unowned self] in self.finishStopping() }
    }

    // MARK: Stopping

    private func beginStop(drainSeconds: Double, reason: String?) {
        switch lifecycle {
        case .draining, .stoppingStatus, .stoppingOrphans, .stopped: return
        default: break
        }
        afterPhase = nil
        pendingTickets.removeAll()
        loop.timers.cancel(Self.phaseTimer)
        reportReady()
        reloadReply?(ReloadReport(plan: nil, errors: ["the supervisor is stopping"]))
        reloadReply = nil
        rejectQueuedControl()
        lifecycle = .draining(deadline: loop.now + Clock.nanos(drainSeconds))
        systemd.notifier?.send(["STOPPING=1", "STATUS=stopping: draining connections"])
        if let reason {
            logger.info("supervisor", event: "stopping", "\(reason) received: closing listeners, draining connections for up to \(formatSeconds(drainSeconds))")
        }
        for handle in handles.values where handle.isRunningThread {
            handle.mailbox?.post(.stop(drainSeconds: drainSeconds, ticket: newTicket()))
        }
        if handles.isEmpty {
            stopStatusEndpoint()
        } else {
            // The drain, the longest stopTimeout of a program kind (SIGTERM then SIGKILL), a margin.
            let stopTimeouts = config.services.compactMap { ($0.options as? any ProgramKindOptions)?.program.stopTimeout }
            loop.timers.schedule(Self.drainTimer, at: loop.now + Clock.nanos(drainSeconds + (stopTimeouts.max() ?? 0)) + 5_000_000_000)
        }
    }

    /// Every thread has ended: stop what programs left behind, then end.
    private func finishStopping() {
        switch lifecycle {
        case .stopped, .stoppingOrphans: return
        default: break
        }
        if Orphans.signal(service: nil, Signals.SIGTERM, everyChild: ownsProcess) > 0 {
            logger.info("supervisor", event: "stopping-orphans", "stopping descendants of programs that outlived their parent")
            lifecycle = .stoppingOrphans(deadline: loop.now + Self.orphanStopNanos)
            loop.timers.schedule(Self.orphanTimer, at: loop.now + 20_000_000)
            return
        }
        ended()
    }

    /// The orphan timer: reap; while stopping, SIGKILL at the deadline and end once none is left.
    private func orphanTick() {
        Orphans.reap(everyChild: ownsProcess)
        let now = loop.now
        lastOrphanScan = now
        if case .stoppingOrphans(let deadline) = lifecycle {
            if Orphans.running(everyChild: ownsProcess).isEmpty {
                ended()
                return
            }
            if now >= deadline {
                Orphans.signal(service: nil, Signals.SIGKILL, everyChild: ownsProcess)
                usleepForReap()
                Orphans.reap(everyChild: ownsProcess)
                ended()
                return
            }
            loop.timers.schedule(Self.orphanTimer, at: now + 20_000_000)
            return
        }
        for kill in orphanKills where now >= kill.at { Orphans.signal(service: kill.service, Signals.SIGKILL, everyChild: ownsProcess) }
        orphanKills.removeAll { now >= $0.at }
        loop.timers.schedule(Self.orphanTimer, at: now + Self.orphanScanNanos)
    }

    /// After SIGKILL the kernel needs a moment before the processes can be reaped.
    private func usleepForReap() {
        Clock.sleep(until: Clock.monotonic() + 20_000_000)
    }

    private func ended() {
        if case .stopped = lifecycle { return }
        lifecycle = .stopped
        afterPhase = nil
        logger.info("supervisor", event: "stopped", "stopped")
        for reply in stopReplies { reply.fulfil(true) }
        stopReplies.removeAll()
        queuedReload?.completion?(ReloadReport(plan: nil, errors: ["the supervisor is stopping"]))
        queuedReload = nil
        rejectQueuedControl()
        control?.close()
        control = nil
        loop.stop()
    }

    // MARK: Reload

    /// `next` nil: read the config file again (SIGHUP, `portvisor reload`). `trigger` is recorded
    /// in `lastReload`; `completion` runs on this thread with the outcome.
    private func requestReload(_ next: PortvisorConfig?, trigger: String, completion: ((ReloadReport) -> Void)?) {
        switch lifecycle {
        case .running where !controlBusy || trigger == "control":
            break
        case .running, .starting, .reloading:
            queuedReload?.completion?(ReloadReport(plan: nil, errors: ["superseded by a later reload"]))
            queuedReload = (next, trigger, completion)
            return
        case .draining, .stoppingStatus, .stoppingOrphans, .stopped:
            completion?(ReloadReport(plan: nil, errors: ["the supervisor is stopping"]))
            return
        }
        systemd.notifier?.send(["RELOADING=1", "MONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())"])
        let newConfig: PortvisorConfig
        if let next {
            newConfig = next
        } else {
            do {
                newConfig = try ConfigLoader.load(path: config.path)
            } catch {
                for line in error.lines {
                    logger.error("supervisor", event: "reload-failed", "reload rejected, keeping the running config: \(line)")
                }
                record(ReloadRecord(at: Clock.wall(), ok: false, trigger: trigger, summary: nil, errors: error.lines))
                systemd.notifier?.send(["READY=1", "STATUS=\(summaryLine())"])
                completion?(ReloadReport(plan: nil, errors: error.lines))
                return
            }
        }
        lifecycle = .reloading
        reloadReply = completion
        reloadTrigger = trigger
        logPortWarnings(newConfig)
        let plan = ReloadPlan(from: config, to: newConfig, overrides: controlOverrides())
        let byName = Dictionary(active.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // 1. Stop what goes (or changes kind) and wait for those listeners to close, so that a
        //    new service may take the port.
        var tickets = Set<Int>()
        for change in plan.changes where change.change == .stop || change.change == .replace {
            guard let handle = byName[change.name], handle.isRunningThread else { continue }
            let ticket = newTicket()
            tickets.insert(ticket)
            handle.mailbox?.post(.stop(drainSeconds: newConfig.drainTimeout, ticket: ticket))
        }
        wait(for: tickets, seconds: Self.stopPhaseSeconds) { [unowned self] in
            self.applyReload(plan, byName: byName)
        }
    }

    /// What control holds against the file's `enabled`, for the reload plan.
    private func controlOverrides() -> [String: Bool] {
        var overrides: [String: Bool] = [:]
        for name in startedByControl { overrides[name] = true }
        for name in stoppedByControl { overrides[name] = false }
        return overrides
    }

    /// 2. Rebind what changed, start what is new, move the status endpoint; then 3. publish.
    private func applyReload(_ plan: ReloadPlan, byName: [String: ServiceHandle]) {
        var tickets = Set<Int>()
        var next: [ServiceHandle] = []
        for change in plan.changes {
            let old = byName[change.name]
            switch change.change {
            case .keep:
                guard let config = change.config else { continue }  // removed while disabled
                if let old {
                    old.stats.update { $0.config = config }  // a disabled entry may have changed
                    next.append(old)
                } else {
                    next.append(launch(config, ticket: nil))
                }
            case .reconfigure:
                guard let config = change.config, let old else { continue }
                if old.isRunningThread {
                    let ticket = newTicket()
                    tickets.insert(ticket)
                    old.mailbox?.post(.reconfigure(config, ticket: ticket))
                    next.append(old)
                } else {
                    let ticket = newTicket()
                    tickets.insert(ticket)
                    next.append(launch(config, ticket: ticket))
                }
            case .replace, .start:
                guard let config = change.config else { continue }
                if let old, change.change == .replace, old.isRunningThread { draining.append(old) }
                let ticket = newTicket()
                tickets.insert(ticket)
                next.append(launch(config, ticket: ticket))
            case .stop:
                guard let old else { continue }
                if let config = change.config {
                    // Disabled in place: the entry stays, listed as stopped with its counters and
                    // the connections it still drains.
                    old.stats.update {
                        $0.config = config
                        $0.state = .stopped
                    }
                    next.append(old)
                } else if old.isRunningThread {
                    draining.append(old)
                }
            }
        }
        if plan.statusChanged {
            if let status, !status.exited {
                let ticket = newTicket()
                tickets.insert(ticket)
                status.mailbox.post(.rebind(plan.newConfig.status, ticket: ticket))
            } else if let endpoint = plan.newConfig.status {
                let ticket = newTicket()
                tickets.insert(ticket)
                startStatusEndpoint(endpoint, ticket: ticket)
            }
        }
        if plan.newConfig.control != config.control {
            logger.warning("supervisor", event: "control-unchanged", "\"control\" changed in the file; the control socket moves at the next start")
        }
        config = plan.newConfig
        active = next
        // Control's holds follow the file: a removed service forgets them, and one the file
        // now enables no longer needs `start`'s.
        let names = Set(config.services.map(\.name))
        stoppedByControl = stoppedByControl.filter { names.contains($0) }
        startedByControl = startedByControl.filter { name in config.service(named: name).map { !$0.enabled } ?? false }
        wait(for: tickets, seconds: Supervisor.startTimeout) { [unowned self] in
            self.publish()
            self.lifecycle = .running
            self.logger.info("supervisor", event: "reloaded", "reloaded: \(plan.summary)")
            self.systemd.notifier?.send(["READY=1", "STATUS=\(self.summaryLine())"])
            let completion = self.reloadReply
            self.reloadReply = nil
            let touched = plan.changes.filter { [.start, .reconfigure, .replace].contains($0.change) }.map(\.name)
            let errors = self.notRunning(touched)
            self.record(ReloadRecord(at: Clock.wall(), ok: errors.isEmpty, trigger: self.reloadTrigger, summary: plan.summary, errors: errors))
            completion?(ReloadReport(plan: plan, errors: []))
            self.runQueuedReload()
            self.runControlQueue()
        }
    }

    /// `name: backoff: REASON` for each of `names` that is not running now.
    private func notRunning(_ names: [String]) -> [String] {
        names.compactMap { name in
            guard let handle = active.first(where: { $0.name == name }) else { return nil }
            let status = handle.stats.listenerStatus
            guard status.state != .running else { return nil }
            return "\(name): \(status.state.rawValue)" + (status.lastError.map { ": \($0)" } ?? "")
        }
    }

    private func record(_ reload: ReloadRecord) {
        directory.withLock { $0.lastReload = reload }
    }

    private func runQueuedReload() {
        guard case .running = lifecycle, !controlBusy, let queued = queuedReload else { return }
        queuedReload = nil
        requestReload(queued.config, trigger: queued.trigger, completion: queued.completion)
    }

    // MARK: Control

    private func startControl() {
        guard let socket = controlSocket else { return }
        controlSocket = nil
        do {
            control = try ControlServer(socket: socket, loop: loop, logger: logger, timerOwner: Self.controlTimer) { [unowned self] request, respond in
                self.handleControl(request, respond: respond)
            }
            logger.info("supervisor", event: "control", "control socket on \(socket.path)")
        } catch {
            Syscall.close(socket.fd)
            logger.warning("supervisor", event: "control-failed", "cannot serve the control socket \(socket.path): \(error); running without control")
        }
    }

    private func handleControl(_ request: ControlRequest, respond: @escaping ControlResponder) {
        switch request {
        case .info:
            respond(ControlAnswer.success(infoMembers()))
        case .kill(let service, let peer):
            kill(service, peer: peer, respond: respond)
        default:
            if isStopping {
                respond(ControlAnswer.failure(ControlFailure(code: ExitCode.unavailable, message: "the supervisor is stopping")))
                return
            }
            controlQueue.append((request, respond))
            runControlQueue()
        }
    }

    private var isStopping: Bool {
        switch lifecycle {
        case .draining, .stoppingStatus, .stoppingOrphans, .stopped: return true
        default: return false
        }
    }

    /// Runs the next queued command once the supervisor is running and no command or reload is
    /// under way.
    private func runControlQueue() {
        guard !controlBusy, case .running = lifecycle, !controlQueue.isEmpty else { return }
        let (request, respond) = controlQueue.removeFirst()
        controlBusy = true
        perform(request) { [unowned self] answer in
            respond(answer)
            self.controlBusy = false
            self.runQueuedReload()
            self.runControlQueue()
        }
    }

    private func rejectQueuedControl() {
        let queued = controlQueue
        controlQueue.removeAll()
        for (_, respond) in queued {
            respond(ControlAnswer.failure(ControlFailure(code: ExitCode.unavailable, message: "the supervisor is stopping")))
        }
    }

    private func perform(_ request: ControlRequest, done: @escaping ([UInt8]) -> Void) {
        switch request {
        case .stop(let names):
            withServices(names, done) { self.stop($0, done: done) }
        case .start(let names):
            withServices(names, done) { self.start($0, restart: false, done: done) }
        case .restart(let names):
            withServices(names, done) { self.start($0, restart: true, done: done) }
        case .reload(let dryRun):
            controlReload(dryRun: dryRun, done: done)
        case .info, .kill:
            done(ControlAnswer.success([]))  // answered at once by handleControl
        }
    }

    /// The handles of `names` (each once, in the order given), or the usage failure naming the
    /// unknown ones and the known names.
    private func withServices(_ names: [String], _ done: ([UInt8]) -> Void, _ body: ([ServiceHandle]) -> Void) {
        var seen = Set<String>()
        var handles: [ServiceHandle] = []
        var unknown: [String] = []
        for name in names where seen.insert(name).inserted {
            if let handle = active.first(where: { $0.name == name }) { handles.append(handle) } else { unknown.append(name) }
        }
        guard unknown.isEmpty else {
            done(ControlAnswer.failure(unknownServices(unknown)))
            return
        }
        body(handles)
    }

    private func unknownServices(_ names: [String]) -> ControlFailure {
        let known = active.map(\.name)
        let quoted = names.map { ConfigValidator.quoted($0) }.joined(separator: ", ")
        let hint = names.count == 1 ? Suggestion.closest(to: names[0], in: known).map { " (did you mean \"\($0)\"?)" } ?? "" : ""
        return ControlFailure(code: ExitCode.usage,
                              message: "no service named \(quoted) in \(config.path)\(hint); known: \(known.joined(separator: ", "))")
    }

    /// Waits for `tickets` (each service's first bind attempt, or its listener closed), at most
    /// `Supervisor.startTimeout`, then runs `then`.
    private func waitForControl(_ tickets: Set<Int>, then: @escaping () -> Void) {
        controlTickets = tickets
        afterControl = then
        if tickets.isEmpty {
            finishControlWait()
        } else {
            loop.timers.schedule(Self.controlWaitTimer, at: loop.now + Clock.nanos(Supervisor.startTimeout))
        }
    }

    private func finishControlWait() {
        loop.timers.cancel(Self.controlWaitTimer)
        controlTickets.removeAll()
        guard let next = afterControl else { return }
        afterControl = nil
        next()
    }

    /// `stop`: each service stops accepting (its connections drain for drainTimeout) and stays
    /// stopped until `start`, across reloads.
    private func stop(_ handles: [ServiceHandle], done: @escaping ([UInt8]) -> Void) {
        var tickets = Set<Int>()
        var results: [String: String] = [:]
        for handle in handles {
            let name = handle.name
            let wasStopped = stoppedByControl.contains(name) || !handle.isRunningThread
            stoppedByControl.insert(name)
            startedByControl.remove(name)
            handle.stats.update { $0.stoppedBy = "control" }
            if handle.isRunningThread {
                let ticket = newTicket()
                tickets.insert(ticket)
                handle.mailbox?.post(.stop(drainSeconds: config.drainTimeout, ticket: ticket))
            }
            if !handle.isRunningThread { handle.stats.update { $0.state = .stopped } }
            results[name] = wasStopped ? "already stopped" : "stopped"
            if !wasStopped {
                logger.info(name, event: "control-stop", "stopped by control; live connections drain for up to \(formatSeconds(config.drainTimeout)); stays stopped until portvisor start")
            }
        }
        waitForControl(tickets) { [unowned self] in
            self.publish()
            done(ControlAnswer.success([JSONMember("services", self.results(handles.map(\.name), results))]))
        }
    }

    /// `start` (and `restart`): a stopped service gets a new worker, a failed or backing-off one
    /// tries again now with a fresh backoff; `restart` rebinds a running one (a daemon restarts
    /// its program).
    private func start(_ handles: [ServiceHandle], restart: Bool, done: @escaping ([UInt8]) -> Void) {
        var tickets = Set<Int>()
        var results: [String: String] = [:]
        for handle in handles {
            let name = handle.name
            let held = stoppedByControl.remove(name) != nil
            handle.stats.update { $0.stoppedBy = nil }
            let state = handle.stats.listenerStatus.state
            if !handle.isRunningThread || held || state == .stopped {
                guard let service = config.service(named: name), let index = active.firstIndex(where: { $0 === handle }) else { continue }
                if !service.enabled { startedByControl.insert(name) }
                if handle.isRunningThread { draining.append(handle) }  // still draining its old connections
                let ticket = newTicket()
                tickets.insert(ticket)
                logger.info(name, event: "control-start", "started by control")
                active[index] = launch(service, ticket: ticket)
                results[name] = "started"
            } else if restart {
                let ticket = newTicket()
                tickets.insert(ticket)
                handle.mailbox?.post(.restart(ticket: ticket))
                results[name] = "restarted"
            } else if state == .backoff || state == .failed {
                let ticket = newTicket()
                tickets.insert(ticket)
                handle.mailbox?.post(.retry(ticket: ticket))
                results[name] = "retried"
            } else {
                results[name] = "already running"
            }
        }
        publish()
        waitForControl(tickets) { [unowned self] in
            self.publish()
            done(ControlAnswer.success([JSONMember("services", self.results(handles.map(\.name), results))]))
        }
    }

    /// Each service's outcome with its state now: `[{ "name", "result", "state", "lastError" }]`.
    private func results(_ names: [String], _ results: [String: String]) -> JSONValue {
        .array(names.map { name in
            let status = active.first { $0.name == name }?.stats.listenerStatus
            return .object([
                JSONMember("name", .string(name)),
                JSONMember("result", .string(results[name] ?? "unchanged")),
                JSONMember("state", .optionalString(status?.state.rawValue)),
                JSONMember("lastError", .optionalString(status?.lastError)),
            ])
        })
    }

    /// `reload`: read the file; with `dryRun` answer the plan only, else carry it out and answer
    /// when every service it touched has tried its bind.
    private func controlReload(dryRun: Bool, done: @escaping ([UInt8]) -> Void) {
        let next: PortvisorConfig
        do {
            next = try ConfigLoader.load(path: config.path)
        } catch {
            if !dryRun {
                for line in error.lines { logger.error("supervisor", event: "reload-failed", "reload rejected, keeping the running config: \(line)") }
                record(ReloadRecord(at: Clock.wall(), ok: false, trigger: "control", summary: nil, errors: error.lines))
            }
            let what = error.exitCode == ExitCode.configInvalid ? "is invalid" : "cannot be read"
            done(ControlAnswer.failure(ControlFailure(code: error.exitCode, message: "\(config.path) \(what); the running config stays", lines: error.lines)))
            return
        }
        let plan = ReloadPlan(from: config, to: next, overrides: controlOverrides())
        if dryRun {
            done(ControlAnswer.success(planMembers(plan, dryRun: true, warnings: next.warnings.map { "\($0.path): \($0.message)" })))
            return
        }
        logger.info("supervisor", event: "reloading", "reload asked for on the control socket: reloading \(config.path)")
        requestReload(next, trigger: "control") { [unowned self] report in
            guard let plan = report.plan else {
                done(ControlAnswer.failure(ControlFailure(code: ExitCode.unavailable, message: report.errors.joined(separator: "; "))))
                return
            }
            done(ControlAnswer.success(self.planMembers(plan, dryRun: false, warnings: [])))
        }
    }

    private func planMembers(_ plan: ReloadPlan, dryRun: Bool, warnings: [String]) -> [JSONMember] {
        let services: [JSONValue] = plan.changes.map { change in
            let status = dryRun ? nil : active.first { $0.name == change.name }?.stats.listenerStatus
            var members = [
                JSONMember("name", .string(change.name)),
                JSONMember("change", .string(change.file.rawValue)),
                JSONMember("action", .string(Self.actionName(change.change))),
            ]
            if !dryRun {
                members.append(JSONMember("state", .optionalString(status?.state.rawValue ?? (change.config == nil ? "removed" : nil))))
                members.append(JSONMember("lastError", .optionalString(change.change == .keep ? nil : status?.lastError)))
            }
            return .object(members)
        }
        let touched = plan.changes.filter { [.start, .reconfigure, .replace].contains($0.change) }.map(\.name)
        return [
            JSONMember("dryRun", .bool(dryRun)),
            JSONMember("config", .string(ConfigLoader.absolutePath(config.path))),
            JSONMember("summary", .string(plan.summary)),
            JSONMember("services", .array(services)),
            JSONMember("errors", .array((dryRun ? [] : notRunning(touched)).map { .string($0) })),
            JSONMember("warnings", .array(warnings.map { .string($0) })),
        ]
    }

    static func actionName(_ change: ServiceChange) -> String {
        switch change {
        case .keep: return "keep"
        case .reconfigure: return "rebind"
        case .replace: return "replace"
        case .start: return "start"
        case .stop: return "stop"
        }
    }

    /// `kill`: the service's worker closes the connections (an exec child: SIGTERM to its group).
    private func kill(_ name: String, peer: SocketAddress?, respond: @escaping ControlResponder) {
        guard let handle = active.first(where: { $0.name == name }) else {
            respond(ControlAnswer.failure(unknownServices([name])))
            return
        }
        guard handle.isRunningThread, let mailbox = handle.mailbox else {
            killed(peer: peer, service: name, .success([]), respond: respond)
            return
        }
        let id = nextKill
        nextKill += 1
        pendingKills[id] = (peer, name, respond)
        let supervisor = self.mailbox
        mailbox.post(.kill(peer: peer, reply: { supervisor.post(.killed(request: id, outcome: $0)) }))
    }

    private func killed(_ request: Int, _ outcome: Result<[SocketAddress], ControlFailure>) {
        guard let waiting = pendingKills.removeValue(forKey: request) else { return }
        killed(peer: waiting.peer, service: waiting.service, outcome, respond: waiting.respond)
    }

    private func killed(peer: SocketAddress?, service: String, _ outcome: Result<[SocketAddress], ControlFailure>, respond: ControlResponder) {
        switch outcome {
        case .failure(let failure):
            respond(ControlAnswer.failure(failure))
        case .success(let closed):
            if let peer, closed.isEmpty {
                respond(ControlAnswer.failure(.usage("no live connection from \(peer) on \(service)")))
                return
            }
            if !closed.isEmpty {
                logger.info(service, event: "control-kill", "closing \(closed.count) connection\(closed.count == 1 ? "" : "s") (control)")
            }
            respond(ControlAnswer.success([
                JSONMember("service", .string(service)),
                JSONMember("closed", .int(closed.count)),
                JSONMember("peers", .array(closed.map { .string($0.description) })),
            ]))
        }
    }

    /// `info`: who this supervisor is, and where its services and status endpoint are now.
    private func infoMembers() -> [JSONMember] {
        let statusPort = directory.withLock { $0.statusPort }
        var status = JSONValue.null
        if let endpoint = config.status {
            status = .object([JSONMember("host", .string(endpoint.host)), JSONMember("port", statusPort.map { .int($0) } ?? .null)])
        }
        let services: [JSONValue] = active.map { handle in
            let listener = handle.stats.listenerStatus
            return .object([
                JSONMember("name", .string(handle.name)),
                JSONMember("kind", .string(listener.config.kind.rawValue)),
                JSONMember("protocol", .string(listener.config.transport.rawValue)),
                JSONMember("host", .string(listener.config.host)),
                JSONMember("port", .int(listener.boundPort ?? listener.config.port)),
                JSONMember("state", .string(listener.state.rawValue)),
                JSONMember("stoppedBy", .optionalString(listener.stoppedBy)),
            ])
        }
        return [
            JSONMember("protocol", .int(1)),
            JSONMember("pid", .int(Int(ProcessEnvironment.processID))),
            JSONMember("version", .string(Release.version)),
            JSONMember("uid", .int(Int(ProcessEnvironment.effectiveUserID))),
            JSONMember("config", .string(ConfigLoader.absolutePath(config.path))),
            JSONMember("control", .optionalString(control?.path)),
            JSONMember("status", status),
            JSONMember("tokenFile", .optionalString(config.status?.tokenFile)),
            JSONMember("services", .array(services)),
        ]
    }

    // MARK: Watchdog

    /// Every half interval: the previous round must have been answered by every thread; then a
    /// new round asks each to answer at once. WATCHDOG=1 goes out when all have answered.
    private func watchdogTick() {
        guard let interval = systemd.watchdogNanos else { return }
        loop.timers.schedule(Self.watchdogTimer, at: loop.now + max(interval / 2, 1_000_000))
        switch lifecycle {
        case .draining, .stoppingStatus, .stoppingOrphans:
            systemd.notifier?.send(["WATCHDOG=1"])
            return
        default:
            break
        }
        if !watchdogAnswered {
            logger.warning("supervisor", event: "watchdog", "a service thread did not answer; not pinging the systemd watchdog")
        }
        watchdogRound += 1
        watchdogAnswered = false
        let round = watchdogRound
        let running = handles.values.filter(\.isRunningThread)
        let statusMailbox = status.flatMap { $0.exited ? nil : $0.mailbox }
        let mailbox = self.mailbox
        let gather = Gather<Bool>(count: running.count + (statusMailbox == nil ? 0 : 1)) {
            mailbox.post(.watchdogAnswered(round: round))
        }
        for (index, handle) in running.enumerated() { handle.mailbox?.post(.ping(gather, index: index)) }
        statusMailbox?.post(.ping(gather, index: running.count))
    }

    // MARK: Reports

    private func summaryLine() -> String { supervisor?.summaryLine() ?? "" }

    /// One line per service for SIGUSR1.
    private func summaryLines() -> [String] {
        guard let snapshot = supervisor?.snapshot(connections: false) else { return [] }
        return snapshot.services.map { service in
            let udp = service.config.transport == .udp
            let counts = udp
                ? "\(service.datagrams.received) datagrams in, \(service.datagrams.sent) out, \(service.datagrams.dropped) dropped"
                : "\(service.live) live, \(service.total) total, \(service.rejected) rejected, \(service.refused) refused"
            return "\(service.config.name): \(service.state.rawValue) on \(Address.display(host: service.config.host, port: service.port, transport: service.config.transport)), "
                + "\(counts), \(service.restarts) restarts"
        }
    }

    private func logPortWarnings(_ config: PortvisorConfig) {
        let environment = PortEnvironment.current()
        for (index, service) in config.services.enumerated() where service.enabled {
            for warning in PortRegistry.report(port: service.port, kind: service.kind.rawValue, udp: service.transport == .udp, in: environment).warnings {
                logger.warning(service.name, event: "port-warning", warning)
            }
            for warning in config.warnings(forService: index) { logger.warning(service.name, event: "config-warning", warning) }
        }
    }
}
