// The supervisor's public face: start it (on a thread of its own, or on the caller's thread
// with `run`), reload it, stop it, and take snapshots of it. Every decision is made on its
// loop (SupervisorLoop.swift); these methods post a request there and wait for the answer, so
// they are for threads that may block (the command line, tests), never for an event loop.
import Synchronization

/// One declared service as the supervisor tracks it. Sendable: immutable, or atomics and locks.
final class ServiceHandle: Sendable {
    let stats: ServiceStats
    /// The worker's id; nil for a disabled service (no thread).
    let worker: Int?
    let mailbox: Mailbox<WorkerCommand>?
    /// Set when the worker's thread has ended.
    let exited = Atomic<Bool>(false)

    init(stats: ServiceStats, worker: Int?, mailbox: Mailbox<WorkerCommand>?) {
        self.stats = stats
        self.worker = worker
        self.mailbox = mailbox
    }

    var name: String { stats.name }
    var isRunningThread: Bool { mailbox != nil && !exited.load(ordering: .acquiring) }
}

/// What other threads see of the supervisor, published by its loop after every change.
struct Directory: Sendable {
    var config: PortvisorConfig
    /// The services of the current config, in file order.
    var active: [ServiceHandle] = []
    /// Services that left (removed, or replaced by another kind) and still drain, listed as stopped.
    var draining: [ServiceHandle] = []
    /// The status endpoint's bound port, while it listens.
    var statusPort: Int?
    var lastReload: ReloadRecord?

    var all: [ServiceHandle] { active + draining }
}

/// Everything `/status` reports.
public struct SupervisorSnapshot: Sendable {
    public var pid: Int32
    public var version: String
    public var configPath: String
    public var startedAt: WallTime
    public var uptimeSeconds: Double
    public var services: [ServiceSnapshot]
    /// The most recent reload (SIGHUP, `portvisor reload`, or the library's `reload`).
    public var lastReload: ReloadRecord? = nil
}

/// What the last reload did, as `/status` reports it (`supervisor.lastReload`).
public struct ReloadRecord: Sendable, Equatable {
    public var at: WallTime
    /// Applied, and every service it started or changed is running.
    public var ok: Bool
    /// "SIGHUP", "control" or "api".
    public var trigger: String
    /// `2 unchanged, 1 changed (echo), …`; nil when the file was rejected.
    public var summary: String?
    /// Why it was rejected (every problem of the file), or the services it left not running.
    public var errors: [String]
}

/// The outcome of a reload.
public struct ReloadReport: Sendable, CustomStringConvertible {
    /// The plan that was carried out; nil when the new config was not applied.
    public var plan: ReloadPlan?
    /// Why it was not applied (an invalid file), one line each.
    public var errors: [String]

    public var description: String { plan?.summary ?? errors.joined(separator: "; ") }
}

/// What systemd asked for through the environment.
public struct SystemdHooks: Sendable {
    public let notifier: SystemdNotifier?
    /// The watchdog interval, when WATCHDOG_USEC applies to this process.
    public let watchdogNanos: MonotonicNanos?

    public init(notifier: SystemdNotifier?, watchdogNanos: MonotonicNanos?) {
        self.notifier = notifier
        self.watchdogNanos = watchdogNanos
    }

    public static let none = SystemdHooks(notifier: nil, watchdogNanos: nil)
}

public final class Supervisor: Sendable {
    /// How long start and reload wait for each service's first bind attempt.
    static let startTimeout = 10.0

    public let logger: Logger
    public let startedAt: WallTime
    let startedMonotonic: MonotonicNanos
    let directory: Locked<Directory>
    private let core: SupervisorLoop
    private let finished = Semaphore()

    /// `activated`: sockets passed by systemd; a service takes the one named like it, the status
    /// endpoint the one named `status`; the rest are logged and closed once every service started.
    /// `ownsProcess`: this process is Portvisor's own (`portvisor run`), so every child it has
    /// that no worker owns is a program's orphan, reaped and stopped with the rest; a program
    /// embedding the library leaves its own children alone (only those carrying
    /// PORTVISOR_SERVICE are treated as orphans).
    /// `control`: a control socket `ControlSocket.claim` bound; the supervisor serves it and
    /// removes it when it stops (none by default: a program embedding the library opts in).
    public init(config: PortvisorConfig, logger: Logger, activated: ActivatedSockets = ActivatedSockets(),
                ownsProcess: Bool = false, control: ClaimedControlSocket? = nil) throws(SystemError) {
        self.logger = logger
        startedAt = Clock.wall()
        startedMonotonic = Clock.monotonic()
        directory = Locked(Directory(config: config))
        Syscall.ignoreSIGPIPE()
        core = try SupervisorLoop(config: config, logger: logger, activated: activated, directory: directory, ownsProcess: ownsProcess,
                                  control: control)
        core.supervisor = self
    }

    /// The config in force.
    public var config: PortvisorConfig { directory.withLock { $0.config } }

    /// The port the status endpoint is listening on now (the real one when the config says 0).
    public var statusBoundPort: Int? { directory.withLock { $0.statusPort } }

    // MARK: Running

    /// Runs the supervisor on the calling thread until it has stopped: starts every service,
    /// calls `onReady` once each has tried its first bind, then handles `signals` (SIGTERM and
    /// SIGINT stop, SIGHUP reloads `config.path`, SIGUSR1 logs a summary) and `systemd`'s hooks.
    public func run(signals: SignalReceiver?, systemd: SystemdHooks = .none, onReady: @escaping @Sendable () -> Void = {}) throws(SystemError) {
        defer { finished.signal() }
        try core.run(signals: signals, systemd: systemd, onReady: onReady)
    }

    /// Starts the supervisor on a thread of its own and returns once every service has tried
    /// its first bind (a service that cannot bind is in backoff or failed; that is no error here).
    public func start() throws(SystemError) {
        let ready = Semaphore()
        try LoopThread.start(name: "pv-supervisor") {
            do {
                try self.run(signals: nil, onReady: { ready.signal() })
            } catch {
                self.logger.error("supervisor", event: "loop-failed", "supervisor loop failed: \(error)")
                ready.signal()
            }
        }
        ready.wait(timeout: Self.startTimeout + 5)
    }

    /// Stops every service: listeners close at once, connections drain for up to
    /// `drainSeconds` (nil: the config's drainTimeout), then the rest are closed, then the
    /// status endpoint. Returns when all of it has ended (or the loop is not running).
    public func stop(drainSeconds: Double? = nil) {
        let reply = Reply<Bool>()
        core.mailbox.post(.stop(drainSeconds: drainSeconds, reply: reply))
        finished.wait(timeout: (drainSeconds ?? config.drainTimeout) + 15)
        finished.signal()  // for any later caller
    }

    /// Waits until the loop has ended (after a signal or `stop`).
    public func waitUntilStopped() {
        finished.wait()
        finished.signal()
    }

    /// Applies `newConfig` like SIGHUP and returns what was done.
    @discardableResult
    public func reload(_ newConfig: PortvisorConfig) -> ReloadReport {
        let reply = Reply<ReloadReport>()
        core.mailbox.post(.reload(newConfig, reply: reply))
        return reply.wait(timeout: Self.startTimeout + 10) ?? ReloadReport(plan: nil, errors: ["the supervisor did not answer"])
    }

    /// Test hook: make `service`'s listener fail as if its socket had been destroyed.
    public func simulateListenerFailure(service: String, reason: String = "listening socket destroyed (test)") {
        let handle = directory.withLock { $0.active.first { $0.name == service } }
        handle?.mailbox?.post(.failListener(reason: reason))
    }

    // MARK: Snapshots

    /// The state of every service; with `connections`, each worker lists its live connections
    /// (one that does not answer within `timeout` seconds is shown without the list). Blocks the
    /// caller, never a loop.
    public func snapshot(connections: Bool = true, timeout: Double = 1.0) -> SupervisorSnapshot {
        let handles = directory.withLock { $0.all }
        guard connections else { return assemble(handles, lists: nil) }
        let done = Semaphore()
        let gather = requestLists(handles) { done.signal() }
        done.wait(timeout: timeout)
        return assemble(handles, lists: gather.parts)
    }

    /// Posts a snapshot request to every running worker of `handles`; `onComplete` runs when
    /// the last has answered. Parts of services without a running worker are filled at once.
    func requestLists(_ handles: [ServiceHandle], onComplete: @escaping @Sendable () -> Void) -> Gather<[LiveConnection]> {
        let gather = Gather<[LiveConnection]>(count: handles.count, onComplete: onComplete)
        for (index, handle) in handles.enumerated() {
            if handle.isRunningThread, let mailbox = handle.mailbox {
                mailbox.post(.snapshot(gather, index: index))
            } else {
                gather.fulfil(index, [])
            }
        }
        return gather
    }

    /// The snapshot of `handles`; `lists[i]` nil shows service `i` without its connections.
    func assemble(_ handles: [ServiceHandle], lists: [[LiveConnection]?]?) -> SupervisorSnapshot {
        let config = directory.withLock { $0.config }
        let services = handles.enumerated().map { index, handle in
            handle.stats.snapshot(connections: lists.map { $0[index] ?? [] })
        }
        return SupervisorSnapshot(
            pid: ProcessEnvironment.processID, version: Release.version, configPath: ConfigLoader.absolutePath(config.path),
            startedAt: startedAt, uptimeSeconds: Double(Clock.monotonic() - startedMonotonic) / 1e9, services: services,
            lastReload: directory.withLock { $0.lastReload })
    }

    /// A one-line summary for `STATUS=` and SIGUSR1.
    public func summaryLine() -> String {
        let services = snapshot(connections: false).services.filter(\.config.enabled)
        func count(_ state: ServiceState) -> Int { services.filter { $0.state == state }.count }
        let live = services.reduce(0) { $0 + $1.live }
        return "\(count(.running)) of \(services.count) services running, \(count(.backoff)) in backoff, \(count(.failed)) failed; \(live) live connections"
    }
}

/// A value one thread waits for and another supplies. Safe from any thread.
final class Reply<Value: Sendable>: Sendable {
    private let value = Locked<Value?>(nil)
    private let ready = Semaphore()

    func fulfil(_ result: Value) {
        value.withLock { $0 = result }
        ready.signal()
    }

    /// The value, or nil after `timeout` seconds.
    func wait(timeout: Double) -> Value? {
        guard ready.wait(timeout: timeout) else { return nil }
        return value.withLock { $0 }
    }
}
