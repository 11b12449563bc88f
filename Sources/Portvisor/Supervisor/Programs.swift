// What the program kinds (exec, daemon) share on a worker: the launcher (a spawn stack, the
// program's resolved user and group, the child's environment) and the stderr log (lines split
// at 4 KiB, at most 100 lines a second per service, the rest counted).
import Synchronization

/// The user and group a program runs as, resolved once per profile.
struct ResolvedIdentity: Equatable {
    var uid: UInt32?
    var gid: UInt32?
    var groups: [UInt32]?

    /// Why a program cannot run as configured.
    struct Unusable: Error, Equatable { let reason: String }

    /// `options`' user and group, or why the service cannot run.
    static func resolve(_ options: ProgramOptions) -> Result<ResolvedIdentity, Unusable> {
        guard options.user != nil || options.group != nil else { return .success(ResolvedIdentity()) }
        guard Identity.maySwitchUser() else {
            return .failure(Unusable(reason: "user/group need root or CAP_SETUID and CAP_SETGID, which this process lacks"))
        }
        var identity = ResolvedIdentity()
        if let name = options.user {
            guard let user = Identity.user(name) else { return .failure(Unusable(reason: "unknown user \"\(name)\"")) }
            identity.uid = user.uid
            identity.gid = user.gid
            identity.groups = user.groups
        }
        if let name = options.group {
            guard let gid = Identity.group(name) else { return .failure(Unusable(reason: "unknown group \"\(name)\"")) }
            identity.gid = gid
            if identity.groups == nil { identity.groups = [gid] }
        }
        return .success(identity)
    }
}

/// Starts a service's children. Loop-thread only.
///
/// `spawn` waits until the child has exec'd (daemon: a failure feeds the backoff at once).
/// `launch` does not (exec, where that wait was most of a connection's time on the worker): each
/// child runs on a stack of its own until it has exec'd, and its memory is kept in `launching`
/// until the kernel says it is no longer used; a child whose exec failed keeps it until its end
/// is reaped, when `ended` reports the failure.
final class ProgramLauncher {
    private struct Launch {
        let pid: Int32
        let memory: SpawnMemory
        let stack: UnsafeMutableRawPointer
    }

    private var waitingStack: UnsafeMutableRawPointer?
    private var spareStacks: [UnsafeMutableRawPointer] = []
    private var launching: [Launch] = []
    /// Stacks kept for reuse; more are freed.
    private static let maxSpareStacks = 8

    init() {}

    deinit {
        // A child that has not settled may still run on its stack: that memory is left allocated.
        for launch in launching where launch.memory.settled {
            launch.memory.free()
            launch.stack.deallocate()
        }
        for stack in spareStacks { stack.deallocate() }
        waitingStack?.deallocate()
    }

    /// Detached children whose memory is still held (for tests and status: normally 0–2).
    var launchingCount: Int { launching.count }

    private func request(_ options: ProgramOptions, identity: ResolvedIdentity, service: String, variables: [(String, String)],
                         descriptors: [(fd: Int32, blocking: Bool)], listenPID: Bool) throws(SpawnError) -> SpawnRequest {
        guard let program = options.command.first else { throw SpawnError(step: "command", errno: Errno.ENOENT) }
        var request = SpawnRequest(path: program, arguments: options.command,
                                   environment: options.childEnvironment(service: service, variables: variables), descriptors: descriptors)
        request.listenPID = listenPID
        request.directory = options.workingDirectory
        request.user = identity.uid
        request.group = identity.gid
        request.groups = identity.groups
        return request
    }

    /// A started program and the read end of its stderr pipe (stderr "log"), to watch.
    struct Started {
        let child: SpawnedChild
        let stderrRead: Int32?
    }

    /// Starts `options.command` with the exact environment and `stdin`, `stdout`, its stderr (as
    /// `options.stderr` says) and `extra` as descriptors 0, 1, 2, 3, … `wait`: return only once
    /// it has exec'd, so that a failure is thrown here (daemon); otherwise the spawn is detached
    /// and a failed exec is reported by `ended` (exec). `listenPID` adds LISTEN_PID=. Throws only when nothing was started, with
    /// every descriptor it opened closed again.
    func start(_ options: ProgramOptions, identity: ResolvedIdentity, service: String, variables: [(String, String)],
               stdin: (fd: Int32, blocking: Bool), stdout: (fd: Int32, blocking: Bool), extra: [(fd: Int32, blocking: Bool)] = [],
               listenPID: Bool = false, wait: Bool) throws(SpawnError) -> Started {
        let stderr: (child: Int32, blocking: Bool, read: Int32?)
        do {
            stderr = try Self.stderrPipe(options.stderr)
        } catch {
            throw SpawnError(step: error.call, errno: error.errno)
        }
        // The child has its own copy of the pipe's write end from here on (or never started).
        defer { if stderr.read != nil { Syscall.close(stderr.child) } }
        do {
            let request = try request(options, identity: identity, service: service, variables: variables,
                                      descriptors: [stdin, stdout, (stderr.child, stderr.blocking)] + extra, listenPID: listenPID)
            let child = wait ? try spawnWaiting(request) : try launch(request)
            return Started(child: child, stderrRead: stderr.read)
        } catch {
            if let read = stderr.read { Syscall.close(read) }
            throw error
        }
    }

    /// Waits until the child has exec'd: a failure is thrown here.
    private func spawnWaiting(_ request: SpawnRequest) throws(SpawnError) -> SpawnedChild {
        let stack = waitingStack ?? .allocate(byteCount: Spawner.stackSize, alignment: 16)
        waitingStack = stack
        return try Spawner.spawn(request, stack: stack)
    }

    /// Does not wait for the child's execve. Throws only when no child was created; an exec that
    /// fails later is reported by `ended` when the child's end is reaped.
    private func launch(_ request: SpawnRequest) throws(SpawnError) -> SpawnedChild {
        collect()
        let memory = try SpawnMemory(request)
        let stack = spareStacks.popLast() ?? .allocate(byteCount: Spawner.stackSize, alignment: 16)
        let child: SpawnedChild
        do {
            child = try Spawner.launch(memory, stack: stack)
        } catch {
            memory.free()
            recycle(stack)
            throw error
        }
        launching.append(Launch(pid: child.pid, memory: memory, stack: stack))
        return child
    }

    /// Frees the memory of every child that has exec'd (a failed one's stays for `ended`).
    func collect() {
        var i = 0
        while i < launching.count {
            let launch = launching[i]
            if launch.memory.settled && launch.memory.failure == nil {
                release(launch)
                launching.swapAt(i, launching.count - 1)
                launching.removeLast()
            } else {
                i += 1
            }
        }
    }

    /// `child` has ended and been reaped: why its exec failed, or nil when it ran.
    func ended(_ child: SpawnedChild) -> SpawnError? {
        guard let i = launching.firstIndex(where: { $0.pid == child.pid }) else { return nil }
        let launch = launching.remove(at: i)
        // Reaped, so it runs no more: its memory is free even if the kernel did not clear the
        // tid (a core dump before exec leaves it; its end then says so).
        let failure = launch.memory.settled ? launch.memory.failure : nil
        release(launch)
        return failure
    }

    /// `child` is given up unreaped (shutdown hands it to the orphan reaper): its memory is freed
    /// if the child no longer uses it, and otherwise left allocated for good.
    func abandon(_ child: SpawnedChild) {
        guard let i = launching.firstIndex(where: { $0.pid == child.pid }) else { return }
        let launch = launching.remove(at: i)
        if launch.memory.settled { release(launch) }
    }

    private func release(_ launch: Launch) {
        launch.memory.free()
        recycle(launch.stack)
    }

    private func recycle(_ stack: UnsafeMutableRawPointer) {
        if spareStacks.count < Self.maxSpareStacks { spareStacks.append(stack) } else { stack.deallocate() }
    }

    /// The descriptor a child's stderr gets for `mode`, whether the child must make it blocking,
    /// and the read end to watch for `log`. The pipe is made with both ends non-blocking in one
    /// call and the child clears O_NONBLOCK on its end (its own open file), so the worker spends
    /// no fcntl on it; Portvisor's own stderr (`inherit`) is left as it is.
    static func stderrPipe(_ mode: StderrMode) throws(SystemError) -> (child: Int32, blocking: Bool, read: Int32?) {
        switch mode {
        case .inherit: return (2, false, nil)
        case .null: return (-1, false, nil)
        case .log:
            let pipe = try Syscall.pipe(nonBlocking: true)
            return (pipe.write, true, pipe.read)
        }
    }
}

/// A child's stderr as lines. Loop-thread only.
struct StderrLines {
    static let maxLineBytes = 4096
    private var partial: [UInt8] = []

    /// Adds bytes; `emit` gets every complete line (a line over 4 KiB comes out in parts).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (String) -> Void) {
        for byte in bytes {
            if byte == 0x0A {
                if partial.last == 0x0D { partial.removeLast() }
                emit(String(decoding: partial, as: UTF8.self))
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
                if partial.count == Self.maxLineBytes {
                    emit(String(decoding: partial, as: UTF8.self))
                    partial.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// The last line without its newline, at end of file.
    mutating func flush(emit: (String) -> Void) {
        if !partial.isEmpty { emit(String(decoding: partial, as: UTF8.self)) }
        partial = []
    }
}

/// At most `perSecond` lines a second for a service (a token bucket of one second).
struct LineBudget {
    let perSecond: Double
    private var tokens: Double
    private var at: MonotonicNanos?

    init(perSecond: Double = 100) {
        self.perSecond = perSecond
        tokens = perSecond
    }

    mutating func take(now: MonotonicNanos) -> Bool {
        if let at { tokens = min(perSecond, tokens + Double(max(0, now - at)) / 1e9 * perSecond) }
        at = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// Reads what a child wrote to its stderr pipe and logs it as `info NAME: [PID] LINE`.
/// Returns false at end of file (the pipe is then closed).
func drainStderr(_ fd: Int32, pid: Int32, lines: inout StderrLines, budget: inout LineBudget, context: EngineContext,
                 dropped: () -> Void, final: Bool = false) -> Bool {
    var open = true
    for _ in 0..<16 {
        let result: IOResult
        do {
            result = try Syscall.read(fd, context.readBuffer, EngineContext.readBufferSize)
        } catch {
            open = false
            break
        }
        guard case .done(let count) = result else { break }
        if count == 0 {
            open = false
            break
        }
        lines.feed(UnsafeRawBufferPointer(start: context.readBuffer, count: count)) { line in
            logLine(line, pid: pid, budget: &budget, context: context, dropped: dropped)
        }
    }
    if !open || final { lines.flush { logLine($0, pid: pid, budget: &budget, context: context, dropped: dropped) } }
    return open
}

private func logLine(_ line: String, pid: Int32, budget: inout LineBudget, context: EngineContext, dropped: () -> Void) {
    if budget.take(now: context.loop.now) {
        context.logger.info(context.name, event: "stderr", "[\(pid)] \(line)", fields: [JSONMember("pid", .int(Int(pid)))])
    } else {
        dropped()
    }
}
