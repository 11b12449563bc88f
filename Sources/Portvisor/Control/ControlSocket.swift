// Where the control socket lives and how `run` takes it (SPEC §9): the default path for this
// user, its directory created mode 0700 (and refused when someone else could write to it), a
// stale socket file replaced, and a live one — another supervisor answering — left alone.
import CPortvisor
import Glibc

/// The `control` key: the default path for this user, a path, or none.
public enum ControlSetting: Sendable, Equatable {
    case automatic
    case path(String)
    case off
}

/// A file by device and inode: the socket file is removed at exit only when it is still ours.
public struct FileIdentity: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64

    /// The identity of `path` itself (a symbolic link is not followed); nil when it does not exist.
    public init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// A control socket bound and listening, ready for the supervisor's loop.
public struct ClaimedControlSocket: Sendable {
    public let fd: Int32
    public let path: String
    let file: FileIdentity?
}

/// What another supervisor's control socket says about it (`info`).
public struct RunningSupervisor: Sendable, Equatable {
    public var pid: Int32
    public var version: String
    public var uid: UInt32
    /// The config file it runs, absolute.
    public var config: String
    public var control: String
    /// Where its status endpoint listens now (nil: off or not bound).
    public var statusHost: String?
    public var statusPort: Int?
    public var tokenFile: String?
    public var services: [Service]

    public struct Service: Sendable, Equatable {
        public var name: String
        public var kind: String
        public var transport: String
        public var host: String
        public var port: Int
        public var state: String
    }

    /// Reads an `info` answer.
    public init?(info value: JSONValue) {
        func string(_ v: JSONValue?) -> String? { if case .string(let s)? = v { return s } else { return nil } }
        func int(_ v: JSONValue?) -> Int? { if case .number(let n)? = v { return n.integer } else { return nil } }
        guard let pid = int(value["pid"]).flatMap(Int32.init(exactly:)), let config = string(value["config"]) else { return nil }
        self.pid = pid
        self.config = config
        version = string(value["version"]) ?? "?"
        uid = int(value["uid"]).flatMap(UInt32.init(exactly:)) ?? 0
        control = string(value["control"]) ?? ""
        statusHost = string(value["status"]?["host"])
        statusPort = int(value["status"]?["port"]).flatMap { (0...65535).contains($0) ? $0 : nil }
        tokenFile = string(value["tokenFile"])
        var services: [Service] = []
        if case .array(let items)? = value["services"] {
            for item in items {
                guard let name = string(item["name"]), let port = int(item["port"]), (0...65535).contains(port) else { continue }
                services.append(Service(name: name, kind: string(item["kind"]) ?? "?", transport: string(item["protocol"]) ?? "tcp",
                                        host: string(item["host"]) ?? "127.0.0.1", port: port, state: string(item["state"]) ?? "?"))
            }
        }
        self.services = services
    }
}

public enum ControlSocket {
    /// `$PORTVISOR_CONTROL` when set (an absolute path), else `/run/portvisor/control.sock` for
    /// root, else `$XDG_RUNTIME_DIR/portvisor/control.sock`, else `/tmp/portvisor-UID/control.sock`.
    public static func defaultPath(uid: UInt32 = ProcessEnvironment.effectiveUserID,
                                   environment: [String: String] = ProcessEnvironment.current()) -> String {
        if let chosen = environment["PORTVISOR_CONTROL"], chosen.hasPrefix("/") { return chosen }
        if uid == 0 { return "/run/portvisor/control.sock" }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/"), runtime.utf8.count < 64 {
            return (runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/portvisor/control.sock"
        }
        return "/tmp/portvisor-\(uid)/control.sock"
    }

    /// The path `setting` names (nil: no control socket).
    public static func path(for setting: ControlSetting) -> String? {
        switch setting {
        case .automatic: return defaultPath()
        case .path(let path): return path
        case .off: return nil
        }
    }

    /// How long `claim` and the command line wait for another supervisor's answer.
    public static let answerTimeout = 3.0

    public enum Claim: Sendable {
        case claimed(ClaimedControlSocket)
        /// Another supervisor answers on the path.
        case taken(by: RunningSupervisor)
        /// The path cannot be used (its directory belongs to someone else, a file that is not a
        /// socket is in the way, something that is not Portvisor answers): the reason.
        case unusable(String)
    }

    /// Takes `path` for this process: prepares its directory, replaces a stale socket file,
    /// and binds. Nothing that answers on the path is ever removed.
    public static func claim(_ path: String) -> Claim {
        if let problem = pathProblem(path) { return .unusable(problem) }
        if let problem = prepareDirectory(of: path) { return .unusable(problem) }
        for _ in 0..<3 {
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else {
                    return .unusable("\(path) exists and is not a socket; remove it or choose another \"control\" path")
                }
                var stale = false
                do {
                    Syscall.close(try UnixSocket.connect(path: path, timeout: answerTimeout))
                } catch where error.errno == ECONNREFUSED {
                    stale = true  // nobody listens: a supervisor that ended without removing it
                } catch {
                    return .unusable("cannot connect to \(path): \(error.reason)")
                }
                if stale {
                    if unlink(path) != 0 && cp_errno() != ENOENT {
                        return .unusable("cannot remove the stale socket \(path): \(SystemError.describe(errno: cp_errno()))")
                    }
                } else {
                    switch ask(path, .info) {
                    case .success(let value):
                        guard let running = RunningSupervisor(info: value) else { return .unusable("something that is not a Portvisor answers on \(path)") }
                        return .taken(by: running)
                    case .failure(let failure):
                        return .unusable("\(path) is in use: \(failure.message)")
                    }
                }
            }
            do {
                let fd = try UnixSocket.listen(path: path)
                return .claimed(ClaimedControlSocket(fd: fd, path: path, file: FileIdentity(path: path)))
            } catch where error.errno == EADDRINUSE {
                continue  // another supervisor bound it in between: ask it
            } catch {
                return .unusable("cannot listen on \(path): \(error)")
            }
        }
        return .unusable("\(path) keeps changing; another process is using it")
    }

    /// Gives a claimed socket back unused: closed, and its file removed while it is still ours.
    public static func release(_ socket: ClaimedControlSocket) {
        Syscall.close(socket.fd)
        if let file = socket.file, FileIdentity(path: socket.path) == file { unlink(socket.path) }
    }

    /// Why `path` cannot be a control socket path; nil when it can.
    public static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "\(ConfigValidator.quoted(path)) is not an absolute path" }
        guard !path.hasSuffix("/") else { return "\(ConfigValidator.quoted(path)) names a directory, not a socket file" }
        let length = path.utf8.count
        guard length <= UnixSocket.maxPathBytes else {
            return "\(ConfigValidator.quoted(path)) is \(length) bytes long; a Unix socket path holds at most \(UnixSocket.maxPathBytes)"
        }
        return nil
    }

    /// Creates the socket's directory mode 0700 (each missing component), or checks the one
    /// there: a real directory owned by this user (or root) that nobody else may write to.
    static func prepareDirectory(of path: String) -> String? {
        let directory = parent(of: path)
        var missing: [String] = []
        var probe = directory
        while probe != "/" && !exists(probe) {
            missing.append(probe)
            probe = parent(of: probe)
        }
        for component in missing.reversed() where mkdir(component, 0o700) != 0 && cp_errno() != EEXIST {
            return "cannot create the directory \(component): \(SystemError.describe(errno: cp_errno()))"
        }
        var info = stat()
        guard stat(directory, &info) == 0 else { return "cannot use the directory \(directory): \(SystemError.describe(errno: cp_errno()))" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "\(directory) is not a directory" }
        let own = ProcessEnvironment.effectiveUserID
        guard info.st_uid == own || info.st_uid == 0 else {
            return "the directory \(directory) belongs to uid \(info.st_uid), not to this user (uid \(own)); remove it or choose another \"control\" path"
        }
        guard info.st_mode & 0o022 == 0 else {
            return "the directory \(directory) may be written by other users (mode \(String(info.st_mode & 0o7777, radix: 8))); use a directory only you can write (mode 0700)"
        }
        return nil
    }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    // MARK: Asking

    /// Sends `request` to the supervisor at `path` and returns its answer (a success's members),
    /// or the failure: its own, or unreachable (69) when nothing answers in `timeout` seconds.
    public static func ask(_ path: String, _ request: ControlRequest, timeout: Double = answerTimeout) -> Result<JSONValue, ControlFailure> {
        let deadline = Clock.monotonic() + Clock.nanos(timeout)
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: path, timeout: timeout)
        } catch {
            var message = "cannot reach the supervisor's control socket \(path): \(error.reason)"
            if error.errno == ENOENT || error.errno == ECONNREFUSED { message += " (is `portvisor run` running with this config?)" }
            if error.errno == EACCES { return .failure(ControlFailure(code: ExitCode.permissionDenied, message: "permission denied: \(path) is not yours to use")) }
            return .failure(ControlFailure(code: ExitCode.unavailable, message: message))
        }
        defer { Syscall.close(fd) }
        let line = Array(request.line.utf8)
        var sent = 0
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline - Clock.monotonic()
            if left <= 0 {
                return .failure(ControlFailure(code: ExitCode.unavailable, message: "the supervisor did not answer on \(path) within \(formatSeconds(timeout))"))
            }
            var poller = pollfd(fd: fd, events: Int16(sent < line.count ? POLLOUT : POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(clamping: (left + 999_999) / 1_000_000))
            if ready < 0 && cp_errno() != EINTR {
                return .failure(ControlFailure(code: ExitCode.unavailable, message: "poll: \(SystemError.describe(errno: cp_errno()))"))
            }
            if ready <= 0 { continue }
            if sent < line.count {
                let written = line.withUnsafeBytes { raw in
                    Result { () throws(SystemError) in try Syscall.write(fd, raw.baseAddress! + sent, raw.count - sent) }
                }
                switch written {
                case .success(.done(let count)): sent += count
                case .success(.wouldBlock): break
                case .failure:
                    // A refusal is written and the socket closed at once: read what arrived.
                    sent = line.count
                }
                continue
            }
            let read = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) in try Syscall.read(fd, raw.baseAddress!, raw.count) }
            }
            switch read {
            case .success(.done(0)):
                break
            case .success(.done(let count)):
                answer += buffer[0..<count]
                if answer.count > 64 << 20 {
                    return .failure(ControlFailure(code: ExitCode.unavailable, message: "the answer on \(path) is larger than 64 MiB"))
                }
                continue
            case .success(.wouldBlock):
                continue
            case .failure(let error):
                if answer.isEmpty { return .failure(ControlFailure(code: ExitCode.unavailable, message: "control socket \(path): \(error.reason)")) }
            }
            break
        }
        if answer.isEmpty {
            return .failure(ControlFailure(code: ExitCode.unavailable, message: "the supervisor closed \(path) without an answer"))
        }
        return ControlAnswer.parse(answer)
    }
}
