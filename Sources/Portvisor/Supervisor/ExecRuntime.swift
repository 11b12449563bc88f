// exec on a worker: each admitted connection starts the program with the socket as its 0 and 1;
// the child's pidfd (and its stderr pipe) sit in the worker's epoll; the connection lives until
// the child exits. runtimeMax, the drain and shutdown stop a child: SIGTERM to its process
// group, SIGKILL stopTimeout later. Portvisor keeps its copy of the socket only to read the
// kernel's byte counts (TCP_INFO) for status; the program moves the bytes.
import Synchronization

/// One exec connection's child. Loop-thread only.
struct ExecChild {
    var child = SpawnedChild(pid: 0, pidfd: -1)
    /// The read end of its stderr pipe (stderr "log"), or -1.
    var stderrFD: Int32 = -1
    var lines = StderrLines()
    /// When it was sent SIGTERM (runtimeMax, drain, shutdown); SIGKILL follows stopTimeout later.
    var terminatingSince: MonotonicNanos?
    var stopNanos: MonotonicNanos = 0
    /// runtimeMax, when set.
    var runtimeNanos: MonotonicNanos?
}

final class ExecRuntime: ServiceRuntime {
    static let pidfdRole: UInt64 = 1
    static let stderrRole: UInt64 = 2

    private let context: EngineContext
    private let table = ConnectionTable(empty: ExecChild())
    private let launcher = ProgramLauncher()
    private let stats: ProcessStats?
    private let firstConnectionTimer: Int
    private var config: ServiceConfig
    private var options: ExecOptions
    private var identity: Result<ResolvedIdentity, ResolvedIdentity.Unusable>
    private var policy: AdmissionPolicy
    private var admission = Admission()
    private var budget = LineBudget()
    private var lastSpawnFailureLog: MonotonicNanos?
    private var unloggedSpawnFailures = 0
    /// Draining or stopping: every child is being stopped; new ones are not started.
    private var stopping = false

    init(_ config: ServiceConfig, context: EngineContext) {
        self.context = context
        self.config = config
        options = config.options as? ExecOptions ?? ExecOptions(program: ProgramOptions(command: []))
        identity = ResolvedIdentity.resolve(options.program)
        policy = AdmissionPolicy(config)
        stats = context.stats.kind as? ProcessStats
        firstConnectionTimer = context.firstTimer + 1
    }

    var unusable: String? {
        if case .failure(let problem) = identity { return problem.reason }
        return nil
    }

    var liveCount: Int { table.live }

    func reconfigure(_ config: ServiceConfig) {
        self.config = config
        options = config.options as? ExecOptions ?? options
        identity = ResolvedIdentity.resolve(options.program)
        policy = AdmissionPolicy(config)
    }

    // MARK: Accept

    func accepted(_ fd: Int32, peer: SocketAddress) {
        let now = context.loop.now
        let counted: Bool
        switch admission.judge(peer, live: table.live, policy: policy, now: now) {
        case .admit(let tracked):
            counted = tracked
        case .refuse(let refusal):
            Syscall.close(fd)
            ServiceStats.add(context.stats.refused, 1)
            admission.logRefusal(peer, refusal, now: now, name: context.name, logger: context.logger)
            return
        case .full(let tracked):
            if tracked { admission.release(peer) }
            Syscall.close(fd)
            ServiceStats.add(context.stats.rejected, 1)
            admission.logFull(peer, live: table.live, limit: policy.maxConnections, now: now, name: context.name, logger: context.logger)
            return
        }
        guard case .success(let identity) = identity, !stopping else {
            if counted { admission.release(peer) }
            Syscall.close(fd)
            return
        }
        let local = (try? Socket.localAddress(fd)) ?? SocketAddress(ip: config.address, port: UInt16(clamping: config.port))
        let started: ProgramLauncher.Started
        do {
            started = try launcher.start(options.program, identity: identity, service: context.name,
                                         variables: ExecKind.variables(peer: peer, local: local),
                                         stdin: (fd, true), stdout: (fd, true), wait: false)
        } catch {
            if counted { admission.release(peer) }
            Syscall.close(fd)
            spawnFailed(error)
            return
        }
        let child = started.child, stderrRead = started.stderrRead
        ServiceStats.add(context.stats.total, 1)
        ServiceStats.add(context.stats.live, 1)
        stats?.started.wrappingAdd(1, ordering: .relaxed)
        stats?.running.wrappingAdd(1, ordering: .relaxed)
        let index = table.open(fd, peer: peer, since: Clock.wall(), now: now, countedInSources: counted)
        let c = table[index]
        c.pointee.state.child = child
        c.pointee.state.stderrFD = stderrRead ?? -1
        c.pointee.state.stopNanos = Clock.nanos(options.program.stopTimeout)
        c.pointee.state.runtimeNanos = options.runtimeMax.map(Clock.nanos)
        // One-shot: a child spawned meanwhile holds copies of these descriptors until its
        // close_range, so a level-triggered entry would go on reporting a closed one (measured:
        // 8 epoll_wait calls per connection instead of well under 1).
        do {
            try context.loop.epoll.add(child.pidfd, [.readable, .oneShot], token: table.token(index, role: Self.pidfdRole))
            if let stderrRead { try context.loop.epoll.add(stderrRead, [.readable, .oneShot], token: table.token(index, role: Self.stderrRole)) }
        } catch {
            // Without its pidfd in the loop the child cannot be followed: stop it now.
            context.logger.error(context.name, event: "epoll-failed", "\(error); stopping child \(child.pid)")
            terminate(index, now: now)
        }
        armTimer(index)
        context.logger.debug(context.name, event: "connection-opened", "\(peer): connected; started \(options.program.command[0]) as pid \(child.pid)",
                             fields: [JSONMember("pid", .int(Int(child.pid)))])
    }

    /// A spawn failed: counted, logged at most once a second; the service stays running.
    private func spawnFailed(_ error: SpawnError) {
        stats?.spawnFailures.wrappingAdd(1, ordering: .relaxed)
        let now = context.loop.now
        if let last = lastSpawnFailureLog, now - last < 1_000_000_000 {
            unloggedSpawnFailures += 1
            return
        }
        let more = unloggedSpawnFailures > 0 ? " (and \(unloggedSpawnFailures) more failures since the last line)" : ""
        unloggedSpawnFailures = 0
        lastSpawnFailureLog = now
        context.logger.warning(context.name, event: "spawn-failed", "cannot start \(options.program.command.first ?? "?"): \(error)\(more)")
    }

    // MARK: Events

    func handleEvent(token: UInt64, events: IOEvents) {
        guard let index = table.slot(for: token) else { return }
        switch ConnectionTable<ExecChild>.role(of: token) {
        case Self.pidfdRole:
            let child = table[index].pointee.state.child
            if let end = Spawner.reap(child) {
                reaped(index, end)
            } else {
                rearm(child.pidfd, token: token)
            }
        case Self.stderrRole:
            readStderr(index, final: false)
            let fd = table[index].pointee.state.stderrFD
            if fd >= 0 { rearm(fd, token: token) }
        default:
            break
        }
    }

    private func rearm(_ fd: Int32, token: UInt64) {
        do {
            try context.loop.epoll.modify(fd, [.readable, .oneShot], token: token)
        } catch {
            context.logger.error(context.name, event: "epoll-failed", "\(error)")
        }
    }

    private func readStderr(_ index: Int, final: Bool) {
        let c = table[index]
        let fd = c.pointee.state.stderrFD
        guard fd >= 0 else { return }
        let stats = self.stats
        let open = drainStderr(fd, pid: c.pointee.state.child.pid, lines: &c.pointee.state.lines, budget: &budget,
                               context: context, dropped: { stats?.logLinesDropped.wrappingAdd(1, ordering: .relaxed) }, final: final)
        if !open || final {
            Syscall.close(fd)
            c.pointee.state.stderrFD = -1
        }
    }

    /// A child's end: a program that ran, or one whose exec failed (the spawn was detached, so
    /// that is known only now: it counts as a spawn failure, not as an exit).
    private func reaped(_ index: Int, _ end: ChildEnd) {
        if let failure = launcher.ended(table[index].pointee.state.child) {
            lateSpawnFailure(index, failure)
        } else {
            childEnded(index, end)
        }
    }

    private func lateSpawnFailure(_ index: Int, _ error: SpawnError) {
        let c = table[index]
        readStderr(index, final: true)
        stats?.running.wrappingSubtract(1, ordering: .relaxed)
        Syscall.close(c.pointee.fd)
        context.loop.timers.cancel(firstConnectionTimer + index)
        ServiceStats.add(context.stats.live, -1)
        if c.pointee.countedInSources { admission.release(c.pointee.peer) }
        table.release(index)
        spawnFailed(error)
        context.connectionClosed()
    }

    private func childEnded(_ index: Int, _ end: ChildEnd) {
        let c = table[index]
        readStderr(index, final: true)
        stats?.ended(end)
        let bytes = Socket.kernelByteCounts(c.pointee.fd)
        Syscall.close(c.pointee.fd)
        context.loop.timers.cancel(firstConnectionTimer + index)
        ServiceStats.add(context.stats.live, -1)
        if let bytes {
            ServiceStats.add(context.stats.bytesIn, bytes.received)
            ServiceStats.add(context.stats.bytesOut, bytes.sent)
        }
        if context.logger.enabled(.debug) {
            let duration = context.loop.now - c.pointee.openedAt
            var fields = StreamEngine<EchoService>.closeFields(peer: c.pointee.peer, duration: duration, bytesIn: bytes?.received ?? 0,
                                                               bytesOut: bytes?.sent ?? 0)
            fields += [JSONMember("pid", .int(Int(c.pointee.state.child.pid))), JSONMember("exit", .string(end.description))]
            context.logger.debug(context.name, event: "connection-closed",
                                 "\(c.pointee.peer): closed after \(duration / 1_000_000) ms: pid \(c.pointee.state.child.pid) \(end)",
                                 fields: fields)
        }
        if c.pointee.countedInSources { admission.release(c.pointee.peer) }
        table.release(index)
        context.connectionClosed()
    }

    // MARK: Deadlines

    private func armTimer(_ index: Int) {
        let c = table[index]
        var deadline = MonotonicNanos.max
        if let since = c.pointee.state.terminatingSince {
            deadline = since + c.pointee.state.stopNanos
        } else if let runtime = c.pointee.state.runtimeNanos {
            deadline = c.pointee.openedAt + runtime
        }
        if deadline == .max {
            context.loop.timers.cancel(firstConnectionTimer + index)
        } else {
            context.loop.timers.schedule(firstConnectionTimer + index, at: deadline)
        }
    }

    func handleTimer(owner: Int) {
        if owner == context.firstTimer {
            if admission.sweep(now: context.loop.now, rate: policy.rate) {
                context.loop.timers.schedule(context.firstTimer, at: context.loop.now + 1_000_000_000)
            }
            return
        }
        let index = owner - firstConnectionTimer
        guard index >= 0, index < table.count, table[index].pointee.fd >= 0 else { return }
        let c = table[index]
        let now = context.loop.now
        if let since = c.pointee.state.terminatingSince {
            if now >= since + c.pointee.state.stopNanos {
                context.logger.warning(context.name, event: "child-killed", "pid \(c.pointee.state.child.pid) did not end within stopTimeout after SIGTERM; SIGKILL")
                Spawner.signalGroup(c.pointee.state.child, Signals.SIGKILL)
                c.pointee.state.stopNanos = MonotonicNanos.max / 4  // once
            }
        } else if let runtime = c.pointee.state.runtimeNanos, now >= c.pointee.openedAt + runtime {
            context.logger.info(context.name, event: "runtime-max", "pid \(c.pointee.state.child.pid) ran longer than runtimeMax; SIGTERM to its group")
            terminate(index, now: now)
            return
        }
        armTimer(index)
    }

    /// SIGTERM to the child's group; SIGKILL follows stopTimeout later.
    private func terminate(_ index: Int, now: MonotonicNanos) {
        let c = table[index]
        guard c.pointee.state.terminatingSince == nil else { return }
        c.pointee.state.terminatingSince = now
        Spawner.signalGroup(c.pointee.state.child, Signals.SIGTERM)
        armTimer(index)
    }

    // MARK: Stopping and status

    /// The drain is over: every child's group gets SIGTERM, and SIGKILL stopTimeout later. The
    /// worker ends when the last has been reaped.
    func closeAll(reason: String) {
        stopping = true
        let now = context.loop.now
        for index in table.liveIndices { terminate(index, now: now) }
    }

    /// `kill`: the matching children's groups get SIGTERM (SIGKILL stopTimeout later); each
    /// connection closes when its child has ended.
    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> {
        let now = context.loop.now
        var signalled: [SocketAddress] = []
        for index in table.liveIndices {
            let from = table[index].pointee.peer
            guard peer.map({ $0.sameEndpoint(as: from) }) ?? true else { continue }
            signalled.append(from)
            terminate(index, now: now)
        }
        return .success(signalled)
    }

    /// The worker's loop has ended: whatever still runs is killed now, and reaped when it can be.
    func shutdown() {
        for index in table.liveIndices {
            let c = table[index]
            Spawner.signalGroup(c.pointee.state.child, Signals.SIGKILL)
            if let end = Spawner.reap(c.pointee.state.child) {
                reaped(index, end)
            } else {
                launcher.abandon(c.pointee.state.child)
                Orphans.adopt(c.pointee.state.child, service: context.name)
                if c.pointee.state.stderrFD >= 0 { Syscall.close(c.pointee.state.stderrFD) }
                Syscall.close(c.pointee.fd)
                table.release(index)
            }
        }
    }

    func liveConnections() -> [LiveConnection] {
        table.liveIndices.map { index in
            let c = table[index]
            let bytes = Socket.kernelByteCounts(c.pointee.fd)
            return LiveConnection(peer: c.pointee.peer, since: c.pointee.since, bytesIn: bytes?.received ?? 0,
                                  bytesOut: bytes?.sent ?? 0, pid: c.pointee.state.child.pid)
        }
    }
}
