// The supervisor: starts one worker thread per enabled service (and the status endpoint),
// applies reloads by service name, stops everything with a drain deadline, and assembles
// snapshots for the status endpoint. Its methods are called from the main thread (start,
// reload, stop) and the status thread (snapshot); its state sits behind one lock.
import Dispatch
import Glibc
import Synchronization

/// One declared service as the supervisor tracks it. Sendable: immutable, or atomics and locks.
final class ServiceHandle: Sendable {
    let stats: ServiceStats
    /// nil for a disabled service (no thread).
    let mailbox: Mailbox<WorkerCommand>?
    /// Set when the worker's thread has ended.
    let exited = Atomic<Bool>(false)
    let exitSignal = DispatchSemaphore(value: 0)

    init(stats: ServiceStats, mailbox: Mailbox<WorkerCommand>?) {
        self.stats = stats
        self.mailbox = mailbox
    }

    var name: String { stats.name }
    var isRunningThread: Bool { mailbox != nil && !exited.load(ordering: .acquiring) }
}

/// Everything `/status` reports.
public struct SupervisorSnapshot: Sendable {
    public var pid: Int32
    public var version: String
    public var configPath: String
    public var startedAt: WallTime
    public var uptimeSeconds: Double
    public var services: [ServiceSnapshot]
}

public final class Supervisor: Sendable {
    /// How long stopping services (shutdown, removal on reload) may drain their connections.
    public static let drainSeconds = 5.0
    /// How long `start` and `reload` wait for each service's first bind attempt.
    static let startTimeout = 10.0

    public let logger: Logger
    public let startedAt: WallTime
    private let startedMonotonic: MonotonicNanos
    private let state: Locked<State>

    struct State {
        var config: PortvisorConfig
        /// Services of the current config, in file order.
        var active: [ServiceHandle] = []
        /// Removed services whose connections are still draining (listed as stopped).
        var draining: [ServiceHandle] = []
        /// The status endpoint's thread, when the config has one.
        var status: StatusHandle?
    }

    /// The status thread's mailbox and exit signal.
    struct StatusHandle: Sendable {
        let mailbox: Mailbox<StatusServerCommand>
        let exited: DispatchSemaphore
    }

    /// The status endpoint's bound port, when it is listening.
    private let statusPort = Locked<Int?>(nil)

    /// The port the status endpoint is listening on now (the real one when the config says 0).
    public var statusBoundPort: Int? { statusPort.withLock { $0 } }

    /// Sockets passed by systemd, not yet taken by a service or the status endpoint.
    private let activated: Locked<ActivatedSockets>

    /// What /status uses for registered names; refreshed on reload.
    private let environment = Locked(PortEnvironment.current())

    /// `activated`: sockets passed by systemd; a service takes the one named like it, the status
    /// endpoint the one named `status`; the rest are logged and closed by `start`.
    public init(config: PortvisorConfig, logger: Logger, activated: ActivatedSockets = ActivatedSockets()) {
        self.logger = logger
        self.activated = Locked(activated)
        startedAt = Clock.wall()
        startedMonotonic = Clock.monotonic()
        state = Locked(State(config: config))
        Syscall.ignoreSIGPIPE()
    }

    public var config: PortvisorConfig { state.withLock { $0.config } }

    // MARK: Start

    /// Starts a worker per enabled service and waits until each has tried its first bind.
    /// A service that cannot bind is in backoff or failed; that is not an error here.
    public func start() throws(SystemError) {
        let config = self.config
        var handles: [ServiceHandle] = []
        let started = DispatchGroup()
        for service in config.services {
            handles.append(try launch(service, started: started))
        }
        state.withLock { $0.active = handles }
        if let status = config.status { try startStatusServer(status, started: started) }
        _ = started.wait(timeout: .now() + Self.startTimeout)
        let leftovers = activated.withLock { sockets -> [(name: String, fd: Int32)] in
            defer { sockets = ActivatedSockets() }
            return sockets.leftovers
        }
        for (name, fd) in leftovers {
            let what = name.isEmpty ? "an unnamed socket" : "socket \"\(name)\""
            logger.warning("supervisor", event: "activation-unmatched", "systemd passed \(what) (fd \(fd)) that matches no service; closing it")
            Syscall.close(fd)
        }
    }

    /// Starts the status endpoint's thread.
    private func startStatusServer(_ config: StatusEndpointConfig, started: DispatchGroup) throws(SystemError) {
        let router = StatusRouter(
            snapshot: { [weak self] connections in
                self?.snapshot(connections: connections) ?? SupervisorSnapshot(pid: getpid(), version: Release.version, configPath: "",
                                                                               startedAt: Clock.wall(), uptimeSeconds: 0, services: [])
            },
            environment: { [weak self] in self?.environment.withLock { $0 } ?? PortEnvironment() })
        let exited = DispatchSemaphore(value: 0)
        started.enter()
        let adopted = activated.withLock { $0.take("status") }
        if let adopted { logger.info("status", event: "adopted", "using the socket passed by systemd (fd \(adopted))") }
        let server = try StatusServer(config: config, router: router, logger: logger,
                                      onStarted: { started.leave() }, onExit: { exited.signal() },
                                      onBound: { [weak self] port in self?.statusPort.withLock { $0 = port } }, adopted: adopted)
        do {
            try server.start()
        } catch {
            started.leave()
            throw error
        }
        state.withLock { $0.status = StatusHandle(mailbox: server.mailbox, exited: exited) }
    }

    /// Creates the handle for `service` and, when enabled, starts its worker thread.
    private func launch(_ service: ServiceConfig, started: DispatchGroup) throws(SystemError) -> ServiceHandle {
        let stats = ServiceStats(config: service)
        guard service.enabled else {
            logger.info(service.name, event: "disabled", "disabled in the config; not bound")
            return ServiceHandle(stats: stats, mailbox: nil)
        }
        started.enter()
        let box = HandleBox()
        let adopted = activated.withLock { $0.take(service.name) }
        if let adopted { logger.info(service.name, event: "adopted", "using the socket passed by systemd (fd \(adopted))") }
        let worker = try ServiceWorker(config: service, stats: stats, logger: logger, adopted: adopted,
                                       onStarted: { _ in started.leave() },
                                       onExit: { [weak self] in self?.workerExited(box) })
        let handle = ServiceHandle(stats: stats, mailbox: worker.mailbox)
        box.handle.withLock { $0 = handle }
        do {
            try worker.start()
        } catch {
            started.leave()
            stats.update { $0.state = .failed; $0.lastError = "\(error)" }
            handle.exited.store(true, ordering: .releasing)
            logger.error(service.name, event: "failed", "failed: cannot start its thread: \(error)")
        }
        return handle
    }

    /// Lets a worker's exit callback find its handle (created after the worker).
    private final class HandleBox: Sendable {
        let handle = Locked<ServiceHandle?>(nil)
    }

    private func workerExited(_ box: HandleBox) {
        guard let handle = box.handle.withLock({ $0 }) else { return }
        handle.exited.store(true, ordering: .releasing)
        state.withLock { state in
            state.draining.removeAll { $0 === handle }
        }
        handle.exitSignal.signal()
    }

    // MARK: Reload

    /// Applies `newConfig`: unchanged services keep running untouched; changed ones are rebound;
    /// removed (or newly disabled) ones stop accepting and drain; new ones start.
    /// Returns a one-line summary of what changed.
    @discardableResult
    public func reload(_ newConfig: PortvisorConfig) -> String {
        let (old, oldHandles) = state.withLock { ($0.config, $0.active) }
        let byName = Dictionary(oldHandles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let oldByName = Dictionary(old.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newNames = Set(newConfig.services.map(\.name))

        // 1. Stop what is gone or now disabled, and wait for their listeners to close, so a new
        //    service may take the port.
        var stopped: [ServiceHandle] = []
        for handle in oldHandles where handle.mailbox != nil {
            let next = newConfig.service(named: handle.name)
            if next == nil || next?.enabled == false { stopped.append(handle) }
        }
        let closed = stopped.map { handle -> DispatchSemaphore in
            let semaphore = DispatchSemaphore(value: 0)
            handle.mailbox?.post(.stop(drainSeconds: Self.drainSeconds, listenerClosed: semaphore))
            return semaphore
        }
        for semaphore in closed { _ = semaphore.wait(timeout: .now() + 2) }

        // 2. Rebind changed ones, 3. start new ones, keeping the file's order.
        var handles: [ServiceHandle] = []
        var changed: [String] = [], added: [String] = [], kept = 0
        let started = DispatchGroup()
        for service in newConfig.services {
            if let handle = byName[service.name], let previous = oldByName[service.name] {
                if previous == service {
                    handles.append(handle)
                    kept += 1
                    continue
                }
                changed.append(service.name)
                if handle.mailbox != nil && service.enabled && previous.enabled {
                    let done = DispatchSemaphore(value: 0)
                    handle.mailbox?.post(.reconfigure(service, done: done))
                    _ = done.wait(timeout: .now() + 2)
                    handles.append(handle)
                    continue
                }
            } else {
                added.append(service.name)
            }
            do {
                handles.append(try launch(service, started: started))
            } catch {
                logger.error(service.name, event: "failed", "cannot start: \(error)")
            }
        }
        _ = started.wait(timeout: .now() + Self.startTimeout)
        environment.withLock { $0 = PortEnvironment.current() }
        if newConfig.status != old.status {
            if let status = state.withLock({ $0.status }) {
                let done = DispatchSemaphore(value: 0)
                status.mailbox.post(.rebind(newConfig.status, done: done))
                _ = done.wait(timeout: .now() + 2)
            } else if let status = newConfig.status {
                do {
                    try startStatusServer(status, started: started)
                    _ = started.wait(timeout: .now() + 2)
                } catch {
                    logger.error("status", event: "failed", "cannot start the status endpoint: \(error)")
                }
            }
        }
        let removed = oldHandles.filter { !newNames.contains($0.name) }.map(\.name)
        state.withLock { state in
            state.config = newConfig
            state.active = handles
            state.draining += stopped.filter { !$0.exited.load(ordering: .acquiring) && !newNames.contains($0.name) }
        }
        func list(_ names: [String]) -> String { names.isEmpty ? "" : " (\(names.joined(separator: ", ")))" }
        return "\(kept) unchanged, \(changed.count) changed\(list(changed)), \(added.count) added\(list(added)), \(removed.count) removed\(list(removed))"
    }

    // MARK: Stop

    /// Stops every service: listeners close at once, connections drain for up to
    /// `drainSeconds`, then the rest are closed. Returns when every worker has ended.
    public func stop(drainSeconds: Double = Supervisor.drainSeconds) {
        let handles = state.withLock { $0.active + $0.draining }
        let running = handles.filter(\.isRunningThread)
        for handle in running {
            handle.mailbox?.post(.stop(drainSeconds: drainSeconds, listenerClosed: nil))
        }
        for handle in running {
            _ = handle.exitSignal.wait(timeout: .now() + drainSeconds + 5)
        }
        // The status endpoint answers during the drain; it goes last.
        if let status = state.withLock({ state in defer { state.status = nil }; return state.status }) {
            status.mailbox.post(.stop)
            _ = status.exited.wait(timeout: .now() + 5)
        }
    }

    /// Test hook: make `service`'s listener fail as if its socket had been destroyed.
    public func simulateListenerFailure(service: String, reason: String = "listening socket destroyed (test)") {
        let handle = state.withLock { $0.active.first { $0.name == service } }
        handle?.mailbox?.post(.failListener(reason: reason))
    }

    /// Whether every running service thread answers a request within `timeout` seconds (the
    /// watchdog pings systemd only then).
    public func workersResponsive(timeout: Double) -> Bool {
        snapshot(connections: true, timeout: timeout).services.allSatisfy { $0.connections != nil }
    }

    /// A one-line summary for `STATUS=` and SIGUSR1.
    public func summaryLine() -> String {
        let services = snapshot(connections: false).services.filter(\.config.enabled)
        func count(_ state: ServiceState) -> Int { services.filter { $0.state == state }.count }
        let live = services.reduce(0) { $0 + $1.live }
        return "\(count(.running)) of \(services.count) services running, \(count(.backoff)) in backoff, \(count(.failed)) failed; \(live) live connections"
    }

    // MARK: Snapshots

    /// The state of every service; with `connections`, each worker lists its live connections
    /// (a worker that does not answer within `timeout` seconds is shown without the list).
    public func snapshot(connections: Bool = true, timeout: Double = 1.0) -> SupervisorSnapshot {
        let (config, handles) = state.withLock { ($0.config, $0.active + $0.draining) }
        var requests: [SnapshotRequest?] = []
        for handle in handles {
            if connections, handle.isRunningThread, let mailbox = handle.mailbox {
                let request = SnapshotRequest()
                mailbox.post(.snapshot(request))
                requests.append(request)
            } else {
                requests.append(nil)
            }
        }
        let deadline = Clock.monotonic() + Clock.nanos(timeout)
        var services: [ServiceSnapshot] = []
        for (handle, request) in zip(handles, requests) {
            var list: [LiveConnection]? = connections ? [] : nil
            if let request {
                list = request.wait(timeout: max(0, Double(deadline - Clock.monotonic()) / 1e9))
            }
            services.append(handle.stats.snapshot(connections: list))
        }
        return SupervisorSnapshot(
            pid: getpid(), version: Release.version, configPath: ConfigLoader.absolutePath(config.path),
            startedAt: startedAt, uptimeSeconds: Double(Clock.monotonic() - startedMonotonic) / 1e9, services: services)
    }
}
