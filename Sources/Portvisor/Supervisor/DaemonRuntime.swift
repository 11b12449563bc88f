// daemon on a worker: the Listener holds the bound socket (never accepting on it) and the
// program gets it as descriptor 3; at once (`start: immediate`), or when the listener, watching,
// sees the first connection waiting (`on-demand`). When the program exits the service is in
// backoff, and the program is started again after the restart policy's delay (consecutive exits
// within resetAfter count towards maxRestarts); the socket stays bound all along, so clients
// queue in the kernel meanwhile. Status lists the connections the kernel has established on the
// socket (NETLINK_SOCK_DIAG, with its byte counts).
import Synchronization

final class DaemonRuntime: ServiceRuntime {
    static let pidfdToken: UInt64 = 1
    static let stderrToken: UInt64 = 2

    private enum Phase {
        /// No program; waiting for the socket (or for the first connection: on-demand).
        case idle
        case running(SpawnedChild, since: MonotonicNanos)
        /// SIGTERM sent (stop, reload); SIGKILL at `killAt`. `restart`: start again at once after.
        case stopping(SpawnedChild, killAt: MonotonicNanos, restart: Bool)
        /// Exited; started again at the timer.
        case backoff
        case failed
    }

    private let context: EngineContext
    private let launcher = ProgramLauncher()
    private let stats: DaemonStats?
    private unowned var listener: Listener!
    private var config: ServiceConfig
    private var options: DaemonOptions
    private var identity: Result<ResolvedIdentity, ResolvedIdentity.Unusable>
    private var backoff: BackoffPolicy
    private var phase = Phase.idle
    /// Consecutive exits not separated by `resetAfter` seconds of running.
    private var consecutiveExits = 0
    private var stderrFD: Int32 = -1
    private var lines = StderrLines()
    private var budget = LineBudget()
    /// Stopping for good (the worker's drain): no restart.
    private var stopping = false
    private var started = false
    /// When each established connection (by socket inode) was first seen, for `since`.
    private var firstSeen: [SocketAddress: WallTime] = [:]

    init(_ config: ServiceConfig, context: EngineContext) {
        self.context = context
        self.config = config
        options = config.options as? DaemonOptions ?? DaemonOptions(program: ProgramOptions(command: []))
        identity = ResolvedIdentity.resolve(options.program)
        backoff = BackoffPolicy(config.restart)
        stats = context.stats.kind as? DaemonStats
    }

    var unusable: String? {
        if case .failure(let problem) = identity { return problem.reason }
        return nil
    }

    var rebindsOnReconfigure: Bool { false }

    func attach(_ listener: Listener) {
        self.listener = listener
        listener.set(mode: options.start == .onDemand ? .watch : .hold)
    }

    /// The program counts as the one live "connection" the worker waits for when it stops.
    var liveCount: Int {
        switch phase {
        case .running, .stopping: return 1
        default: return 0
        }
    }

    func accepted(_ fd: Int32, peer: SocketAddress) { Syscall.close(fd) }  // never: the listener holds

    // MARK: Starting

    func listenerChanged(_ event: ListenerEvent) {
        switch event {
        case .listening:
            switch phase {
            case .running(let child, _):
                // A new socket (the old one failed): the program must get it.
                stop(child, restart: true)
            case .idle:
                if options.start == .immediate { startProgram() }
            default:
                break
            }
        default:
            break
        }
    }

    func connectionWaiting(_ fd: Int32) {
        if case .idle = phase { startProgram() }
    }

    private func startProgram() {
        guard !stopping, case .success(let identity) = identity, let socket = listener.descriptor else { return }
        let program: ProgramLauncher.Started
        do {
            program = try launcher.start(options.program, identity: identity, service: context.name,
                                         variables: DaemonKind.variables(service: context.name),
                                         stdin: (-1, false), stdout: (-1, false), extra: [(socket, true)], listenPID: true, wait: true)
        } catch {
            context.logger.error(context.name, event: "spawn-failed", "cannot start \(options.program.command.first ?? "?"): \(error)")
            programEnded(nil, reason: "cannot start: \(error)")
            return
        }
        let child = program.child, stderrRead = program.stderrRead
        let now = context.loop.now
        phase = .running(child, since: now)
        stderrFD = stderrRead ?? -1
        do {
            try context.loop.epoll.add(child.pidfd, .readable, token: Self.pidfdToken)
            if stderrFD >= 0 { try context.loop.epoll.add(stderrFD, .readable, token: Self.stderrToken) }
        } catch {
            context.logger.error(context.name, event: "epoll-failed", "\(error); stopping pid \(child.pid)")
            stop(child, restart: false)
        }
        stats?.process.withLock {
            if started { $0.restarts += 1 }
            $0.pid = child.pid
            $0.startedAt = Clock.wall()
        }
        started = true
        context.stats.update { $0.state = .running }
        listener.set(mode: .hold)
        context.logger.info(context.name, event: "daemon-started", "started \(options.program.command[0]) as pid \(child.pid) on the listening socket (fd 3)",
                            fields: [JSONMember("pid", .int(Int(child.pid)))])
    }

    // MARK: Events

    func handleEvent(token: UInt64, events: IOEvents) {
        switch token {
        case Self.pidfdToken:
            let child: SpawnedChild
            switch phase {
            case .running(let running, _): child = running
            case .stopping(let stopping, _, _): child = stopping
            default: return
            }
            if let end = Spawner.reap(child) { exited(child, end) }
        case Self.stderrToken:
            readStderr(final: false)
        default:
            break
        }
    }

    private func readStderr(final: Bool) {
        guard stderrFD >= 0 else { return }
        let pid: Int32
        switch phase {
        case .running(let child, _), .stopping(let child, _, _): pid = child.pid
        default: pid = 0
        }
        let stats = self.stats
        let open = drainStderr(stderrFD, pid: pid, lines: &lines, budget: &budget, context: context,
                               dropped: { stats?.logLinesDropped.wrappingAdd(1, ordering: .relaxed) }, final: final)
        if !open || final {
            Syscall.close(stderrFD)
            stderrFD = -1
        }
    }

    private func exited(_ child: SpawnedChild, _ end: ChildEnd) {
        readStderr(final: true)
        context.loop.timers.cancel(context.firstTimer)
        stats?.process.withLock {
            $0.pid = nil
            $0.lastExit = end.description
        }
        if case .stopping(_, _, let restart) = phase {
            context.logger.info(context.name, event: "daemon-stopped", "pid \(child.pid) \(end)")
            phase = .idle
            if restart && !stopping {
                consecutiveExits = 0
                rearm()
            } else {
                context.connectionClosed()
            }
            return
        }
        var ranFor: MonotonicNanos = 0
        if case .running(_, let since) = phase { ranFor = context.loop.now - since }
        if ranFor >= Clock.nanos(config.restart.resetAfter) { consecutiveExits = 0 }
        context.logger.warning(context.name, event: "daemon-exited", "pid \(child.pid) \(end) after \(formatSeconds(Double(ranFor) / 1e9))")
        programEnded(end, reason: "the program \(end)")
    }

    /// The program is gone (exited, or could not start): back off and start again, or give up.
    private func programEnded(_ end: ChildEnd?, reason: String) {
        phase = .backoff
        if stopping {
            phase = .idle
            context.connectionClosed()
            return
        }
        guard backoff.allowsAttempt(after: consecutiveExits) else {
            phase = .failed
            let limit = config.restart.maxRestarts ?? 0
            let why = "gave up after \(limit) restart\(limit == 1 ? "" : "s"): \(reason)"
            context.stats.update { $0.state = .failed; $0.lastError = why }
            context.logger.error(context.name, event: "failed", "failed: \(why)")
            return
        }
        let delay = backoff.delay(afterAttempt: consecutiveExits, random: Double.random(in: 0..<1))
        consecutiveExits += 1
        ServiceStats.add(context.stats.restarts, 1)
        context.stats.update { $0.state = .backoff; $0.lastError = reason }
        context.logger.warning(context.name, event: "daemon-backoff", "\(reason); starting it again in \(formatSeconds(delay)) (attempt \(consecutiveExits))")
        context.loop.timers.schedule(context.firstTimer, at: context.loop.now + Clock.nanos(delay))
    }

    /// After the backoff (or a reload's restart): start now, or watch for the next connection.
    private func rearm() {
        phase = .idle
        context.stats.update { $0.state = .running }
        if options.start == .onDemand {
            listener.set(mode: .watch)
        } else {
            startProgram()
        }
    }

    func handleTimer(owner: Int) {
        guard owner == context.firstTimer else { return }
        switch phase {
        case .backoff:
            rearm()
        case .stopping(let child, let killAt, _) where context.loop.now >= killAt:
            context.logger.warning(context.name, event: "child-killed", "pid \(child.pid) did not end within stopTimeout after SIGTERM; SIGKILL")
            Spawner.signalGroup(child, Signals.SIGKILL)
        case .stopping(_, let killAt, _):
            context.loop.timers.schedule(context.firstTimer, at: killAt)
        default:
            break
        }
    }

    /// SIGTERM to the program's group; SIGKILL stopTimeout later.
    private func stop(_ child: SpawnedChild, restart: Bool) {
        let killAt = context.loop.now + Clock.nanos(options.program.stopTimeout)
        phase = .stopping(child, killAt: killAt, restart: restart)
        Spawner.signalGroup(child, Signals.SIGTERM)
        context.loop.timers.schedule(context.firstTimer, at: killAt)
    }

    // MARK: Reload and stopping

    func reconfigure(_ next: ServiceConfig) {
        let changed = !next.options.isEqual(to: config.options)
        config = next
        options = next.options as? DaemonOptions ?? options
        identity = ResolvedIdentity.resolve(options.program)
        backoff = BackoffPolicy(next.restart)
        listener.set(mode: options.start == .onDemand ? .watch : .hold)
        guard changed else { return }
        switch phase {
        case .running(let child, _):
            context.logger.info(context.name, event: "daemon-restart", "settings changed; stopping pid \(child.pid) and starting the program again on the same socket")
            stop(child, restart: true)
        case .backoff, .failed:
            context.loop.timers.cancel(context.firstTimer)
            consecutiveExits = 0
            rearm()
        default:
            break
        }
    }

    /// The worker stops accepting: the program gets SIGTERM at once, SIGKILL after stopTimeout.
    func stopAccepting() {
        stopping = true
        switch phase {
        case .running(let child, _): stop(child, restart: false)
        case .backoff, .idle, .failed:
            context.loop.timers.cancel(context.firstTimer)
            phase = .idle
        case .stopping: break
        }
    }

    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> {
        .failure(.usage("a daemon's connections belong to its program; `portvisor restart \(context.name)` restarts it"))
    }

    /// `restart` and `start` (control): the program starts again on the same socket (`fresh`:
    /// its backoff and consecutive exits forgotten).
    func restartProgram(fresh: Bool) -> Bool {
        guard !stopping else { return true }
        if fresh { consecutiveExits = 0 }
        switch phase {
        case .running(let child, _):
            context.logger.info(context.name, event: "daemon-restart", "restart (control): stopping pid \(child.pid) and starting the program again on the same socket")
            stop(child, restart: true)
        case .backoff, .failed:
            context.loop.timers.cancel(context.firstTimer)
            context.logger.info(context.name, event: "daemon-restart", "starting the program again now (control), with a fresh backoff")
            rearm()
        case .idle, .stopping:
            break
        }
        return true
    }

    func drainMessage(drainSeconds: Double) -> String {
        guard case .stopping(let child, _, _) = phase else { return "stopping" }
        return "stopping pid \(child.pid): SIGTERM sent, SIGKILL after \(formatSeconds(options.program.stopTimeout))"
    }

    func closeAll(reason: String) {
        // The drain deadline: the program already had SIGTERM at stopAccepting; SIGKILL follows
        // on its own timer.
        stopAccepting()
    }

    func shutdown() {
        switch phase {
        case .running(let child, _), .stopping(let child, _, _):
            Spawner.signalGroup(child, Signals.SIGKILL)
            if Spawner.reap(child) == nil { Orphans.adopt(child, service: context.name) }
        default:
            break
        }
        phase = .idle
        if stderrFD >= 0 {
            Syscall.close(stderrFD)
            stderrFD = -1
        }
    }

    /// The connections the kernel has established on the service's socket, those still in its
    /// accept queue included (NETLINK_SOCK_DIAG). `since` is when status first saw each one, by
    /// peer (the local address is the service's own): the kernel does not keep a start time.
    func liveConnections() -> [LiveConnection] {
        guard let socket = listener.descriptor, let local = try? Socket.localAddress(socket),
              let established = try? SocketDiagnostics.established(on: local) else { return [] }
        let now = Clock.wall()
        var seen: [SocketAddress: WallTime] = [:]
        let list = established.map { connection -> LiveConnection in
            let since = firstSeen[connection.peer] ?? now
            seen[connection.peer] = since
            return LiveConnection(peer: connection.peer, since: since, bytesIn: connection.bytesReceived, bytesOut: connection.bytesSent)
        }
        firstSeen = seen
        context.stats.live.store(list.count, ordering: .relaxed)
        return list
    }
}
