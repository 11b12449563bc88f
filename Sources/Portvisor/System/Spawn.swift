// Starting and ending the user's programs (exec, daemon): cp_spawn and cp_spawn_detached
// (spawn.c: clone with CLONE_VM | CLONE_PIDFD, never a plain fork of this multi-threaded process),
// reaping through the pidfd, signals to a child's process group, and who a user or group is.
import CPortvisor
import Glibc
import Synchronization

/// How a program ended.
public enum ChildEnd: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case killed(signal: Int32, core: Bool)

    /// `exited 0`, `exited 3`, `killed by SIGKILL`.
    public var description: String {
        switch self {
        case .exited(let code): return "exited \(code)"
        case .killed(let signal, let core): return "killed by \(Self.signalName(signal))\(core ? " (core dumped)" : "")"
        }
    }

    public var isSuccess: Bool { self == .exited(0) }

    public static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT",
            SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
            SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP",
            SIGTSTP: "SIGTSTP", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGSYS: "SIGSYS",
        ]
        return names[signal] ?? "signal \(signal)"
    }

    init?(code: Int32, status: Int32) {
        if code == CP_CLD_EXITED {
            self = .exited(status)
        } else if code == CP_CLD_KILLED || code == CP_CLD_DUMPED {
            self = .killed(signal: status, core: code == CP_CLD_DUMPED)
        } else {
            return nil  // stopped or continued: not an end
        }
    }
}

/// A started program: its pid and a pidfd (in epoll, readable when it ends).
public struct SpawnedChild: Sendable, Equatable {
    public let pid: Int32
    public let pidfd: Int32
}

/// Why a program could not be started: the step and errno (`exec: No such file or directory`).
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public let step: String
    public let errno: Int32
    public var description: String { "\(step): \(SystemError.describe(errno: errno)) (errno: \(errno))" }
}

/// What to start, and how. Descriptors are given as the child will see them: `descriptors[i]`
/// becomes its descriptor `i`.
public struct SpawnRequest: Sendable {
    public var path: String
    public var arguments: [String]
    /// `NAME=value` strings, exactly the child's environment.
    public var environment: [String]
    /// Adds `LISTEN_PID=` with the child's own pid (sd_listen_fds).
    public var listenPID = false
    public var descriptors: [(fd: Int32, blocking: Bool)]
    public var directory: String?
    public var user: UInt32?
    public var group: UInt32?
    /// Supplementary groups (set with the user; nil: left as they are).
    public var groups: [UInt32]?

    public init(path: String, arguments: [String], environment: [String], descriptors: [(fd: Int32, blocking: Bool)]) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.descriptors = descriptors
    }
}

/// A spawn's request and everything it points to (path, argv, envp, directory, groups) in one
/// allocation that the child reads until it has exec'd. Freed by its owner with `free()`.
public struct SpawnMemory: @unchecked Sendable {
    private let block: UnsafeMutableRawPointer
    let request: UnsafeMutablePointer<cp_spawn_request>

    public init(_ spawn: SpawnRequest) throws(SpawnError) {
        guard spawn.descriptors.count <= Int(CP_SPAWN_MAX_FDS) else { throw SpawnError(step: "descriptors", errno: Errno.EINVAL) }
        var environment = spawn.environment
        let listenPrefix = "LISTEN_PID="
        if spawn.listenPID { environment.append(listenPrefix + String(repeating: "0", count: 21)) }
        let groups = spawn.groups ?? []
        let strings = [spawn.path] + spawn.arguments + environment + (spawn.directory.map { [$0] } ?? [])
        let pointerSize = MemoryLayout<UnsafeMutablePointer<CChar>?>.stride
        let pointers = spawn.arguments.count + 1 + environment.count + 1
        let requestBytes = (MemoryLayout<cp_spawn_request>.stride + 15) & ~15
        let groupsOffset = requestBytes + pointers * pointerSize
        let stringsOffset = groupsOffset + groups.count * MemoryLayout<gid_t>.stride
        let bytes = strings.reduce(0) { $0 + $1.utf8.count + 1 }
        block = .allocate(byteCount: stringsOffset + bytes, alignment: 16)
        request = block.bindMemory(to: cp_spawn_request.self, capacity: 1)
        request.initialize(to: cp_spawn_request())
        let table = (block + requestBytes).bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: pointers)
        var cursor = (block + stringsOffset).bindMemory(to: CChar.self, capacity: bytes)
        func place(_ text: String) -> UnsafeMutablePointer<CChar> {
            let start = cursor
            for byte in text.utf8 {
                cursor.pointee = CChar(bitPattern: byte)
                cursor += 1
            }
            cursor.pointee = 0
            cursor += 1
            return start
        }
        request.pointee.path = UnsafePointer(place(spawn.path))
        for (i, argument) in spawn.arguments.enumerated() { table[i] = place(argument) }
        table[spawn.arguments.count] = nil
        let envBase = spawn.arguments.count + 1
        for (i, variable) in environment.enumerated() {
            let placed = place(variable)
            table[envBase + i] = placed
            if spawn.listenPID && i == environment.count - 1 { request.pointee.listen_pid_digits = placed + listenPrefix.utf8.count }
        }
        table[envBase + environment.count] = nil
        request.pointee.argv = UnsafePointer(table)
        request.pointee.envp = UnsafePointer(table + envBase)
        if let directory = spawn.directory { request.pointee.directory = UnsafePointer(place(directory)) }
        if spawn.groups != nil {
            let list = (block + groupsOffset).bindMemory(to: gid_t.self, capacity: groups.count)
            for (i, gid) in groups.enumerated() { list[i] = gid }
            request.pointee.set_groups = 1
            request.pointee.groups = UnsafePointer(list)
            request.pointee.group_count = Int32(groups.count)
        }
        withUnsafeMutableBytes(of: &request.pointee.fds) { raw in
            let fds = raw.bindMemory(to: Int32.self)
            for (i, descriptor) in spawn.descriptors.enumerated() { fds[i] = descriptor.fd }
        }
        withUnsafeMutableBytes(of: &request.pointee.blocking) { raw in
            let flags = raw.bindMemory(to: Int32.self)
            for (i, descriptor) in spawn.descriptors.enumerated() { flags[i] = descriptor.blocking ? 1 : 0 }
        }
        request.pointee.fd_count = Int32(spawn.descriptors.count)
        request.pointee.new_process_group = 1
        if let uid = spawn.user {
            request.pointee.set_uid = 1
            request.pointee.uid = uid
        }
        if let gid = spawn.group {
            request.pointee.set_gid = 1
            request.pointee.gid = gid
        }
    }

    /// Whether a detached child no longer uses this memory (it has exec'd or ended).
    public var settled: Bool { cp_spawn_settled(request) != 0 }

    /// Why the child's exec failed, once settled; nil when it exec'd.
    public var failure: SpawnError? {
        let code = request.pointee.error
        return code == 0 ? nil : SpawnError(step: Spawner.stepName(request.pointee.failed_step), errno: code)
    }

    public func free() { block.deallocate() }
}

public enum Spawner {
    /// Every pid spawned and not yet reaped by its owner, so that the orphan reaper never reaps
    /// one (its owner reaps it through its pidfd).
    static let owned = Locked<Set<Int32>>([])
    /// Spawns in progress: between clone and `owned.insert` a child is nobody's yet.
    static let inFlight = Atomic<Int>(0)

    /// The size of a spawn's stack: the child runs on it until it has exec'd (a waiting spawn's
    /// caller can reuse one; a detached spawn's stays the child's until it has settled).
    public static let stackSize = 64 * 1024

    /// Tells the spawner that a signal's disposition changed in this process: a child resets the
    /// signals that are not at SIG_DFL, and the spawner reads which those are only again after
    /// this (`Syscall.ignoreSIGPIPE` calls it).
    public static func dispositionsChanged() {
        cp_spawn_dispositions_changed()
    }

    /// Starts `request` on `stack` (`stackSize` bytes) and waits until the child has exec'd
    /// (CLONE_VFORK), so a failure is thrown here. The child is registered as owned until
    /// `reap` sees its end.
    public static func spawn(_ request: SpawnRequest, stack: UnsafeMutableRawPointer) throws(SpawnError) -> SpawnedChild {
        let memory = try SpawnMemory(request)
        defer { memory.free() }
        return try start(memory, stack: stack, detached: false)
    }

    /// Starts `memory`'s request on `stack` without waiting for the child's execve: the child
    /// execs on another core while the caller goes on. `memory` and `stack` stay the child's
    /// until `memory.settled`; then `memory.failure` says whether its exec failed. Throws only
    /// when no child was created.
    public static func launch(_ memory: SpawnMemory, stack: UnsafeMutableRawPointer) throws(SpawnError) -> SpawnedChild {
        try start(memory, stack: stack, detached: true)
    }

    private static func start(_ memory: SpawnMemory, stack: UnsafeMutableRawPointer, detached: Bool) throws(SpawnError) -> SpawnedChild {
        inFlight.wrappingAdd(1, ordering: .acquiringAndReleasing)
        defer { inFlight.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        var pidfd: Int32 = -1
        let pid = detached ? cp_spawn_detached(memory.request, stack, stackSize, &pidfd) : cp_spawn(memory.request, stack, stackSize, &pidfd)
        if pid < 0 {
            let code = cp_errno()
            throw SpawnError(step: stepName(memory.request.pointee.failed_step), errno: code)
        }
        _ = owned.withLock { $0.insert(pid) }
        return SpawnedChild(pid: pid, pidfd: pidfd)
    }

    static func stepName(_ step: Int32) -> String {
        switch step {
        case Int32(CP_SPAWN_STEP_SIGNALS): return "signals"
        case Int32(CP_SPAWN_STEP_PROCESS_GROUP): return "setpgid"
        case Int32(CP_SPAWN_STEP_DESCRIPTORS): return "descriptors"
        case Int32(CP_SPAWN_STEP_DIRECTORY): return "chdir"
        case Int32(CP_SPAWN_STEP_GROUPS): return "setgroups"
        case Int32(CP_SPAWN_STEP_GROUP): return "setgid"
        case Int32(CP_SPAWN_STEP_USER): return "setuid"
        case Int32(CP_SPAWN_STEP_EXEC): return "exec"
        default: return "clone"
        }
    }

    /// The end of `child`, if it has ended (then it is reaped and its pidfd closed); nil while
    /// it runs.
    public static func reap(_ child: SpawnedChild) -> ChildEnd? {
        var code: Int32 = 0, status: Int32 = 0, pid: Int32 = 0
        let result = cp_pidfd_wait(child.pidfd, &code, &status, &pid)
        if result == 0 { return nil }
        let end: ChildEnd
        if result < 0 {
            end = .exited(-1)  // ECHILD: reaped by someone else (never by design)
        } else if let ended = ChildEnd(code: code, status: status) {
            end = ended
        } else {
            return nil
        }
        _ = owned.withLock { $0.remove(child.pid) }
        Syscall.close(child.pidfd)
        return end
    }

    /// Sends `signal` to the child and its process group (the child leads it). ESRCH (all gone)
    /// is not an error.
    public static func signalGroup(_ child: SpawnedChild, _ signal: Int32) {
        guard child.pid > 0 else { return }  // kill(-0) would be our own group
        _ = kill(-child.pid, signal)
        _ = cp_pidfd_send_signal(child.pidfd, signal)
    }

    /// Makes this process a child subreaper: orphaned descendants are reparented to it.
    public static func becomeSubreaper() -> Bool { cp_set_child_subreaper() == 0 }
}

/// Users and groups, by name or number, from the system's databases.
public enum Identity {
    public struct User: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var name: String
        /// Every group the user is in (its primary group included).
        public var groups: [UInt32]
    }

    /// The user `text` names: a name from the passwd database, or a number (then its entry,
    /// when it has one).
    public static func user(_ text: String) -> User? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let found: Int32
        if let number = UInt32(text), text.allSatisfy(\.isNumber) {
            found = getpwuid_r(number, &entry, &buffer, buffer.count, &result)
            if found != 0 || result == nil { return User(uid: number, gid: number, name: text, groups: [number]) }
        } else {
            found = text.withCString { getpwnam_r($0, &entry, &buffer, buffer.count, &result) }
            if found != 0 || result == nil { return nil }
        }
        let name = String(cString: entry.pw_name)
        return User(uid: entry.pw_uid, gid: entry.pw_gid, name: name, groups: groupList(name, entry.pw_gid))
    }

    /// The group `text` names: a name from the group database, or a number.
    public static func group(_ text: String) -> UInt32? {
        if let number = UInt32(text), text.allSatisfy(\.isNumber) { return number }
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let found = text.withCString { getgrnam_r($0, &entry, &buffer, buffer.count, &result) }
        guard found == 0, result != nil else { return nil }
        return entry.gr_gid
    }

    private static func groupList(_ name: String, _ primary: UInt32) -> [UInt32] {
        var count: Int32 = 64
        while count <= 65536 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            let result = name.withCString { getgrouplist($0, primary, &groups, &found) }
            if result >= 0 { return Array(groups.prefix(Int(found))) }
            count = max(found, count * 2)
        }
        return [primary]
    }

    /// Whether this process may change its user and group (root, or CAP_SETUID and CAP_SETGID
    /// in its effective set).
    public static func maySwitchUser() -> Bool {
        if geteuid() == 0 { return true }
        guard let capabilities = effectiveCapabilities() else { return false }
        return capabilities & (1 << 6) != 0 && capabilities & (1 << 7) != 0
    }

    /// CapEff from /proc/self/status.
    static func effectiveCapabilities() -> UInt64? {
        guard let bytes = try? FileReader.readSmallFile("/proc/self/status", limit: 1 << 16) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            return UInt64(line.dropFirst(7).trimmingWhitespace(), radix: 16)
        }
        return nil
    }
}
