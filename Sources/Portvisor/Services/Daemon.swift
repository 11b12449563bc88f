// daemon (inetd `wait`, systemd `Accept=no`): Portvisor binds the listener and hands it to one
// long-running program as descriptor 3 (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=NAME: the
// sd_listen_fds protocol), at once or at the first connection (`start`). When the program exits
// it is started again under the service's restart policy, on the same socket, which stays bound
// throughout: clients wait in the kernel's queue instead of being refused. The program's keys
// are shared with exec (Program.swift); the I/O is Supervisor/DaemonRuntime.swift.
import Synchronization

extension KindName {
    public static let daemon: KindName = "daemon"
}

/// When a daemon's program starts.
public enum DaemonStart: String, Sendable, Equatable {
    case immediate
    /// At the first connection, which waits in the queue meanwhile (it is not lost).
    case onDemand = "on-demand"
}

public struct DaemonOptions: ProgramKindOptions, Equatable {
    public var program: ProgramOptions
    public var start: DaemonStart

    public init(program: ProgramOptions, start: DaemonStart = .immediate) {
        self.program = program
        self.start = start
    }
}

enum DaemonKind: ServiceKind {
    static let name = KindName.daemon
    /// Portvisor never accepts on a daemon's socket: an access rule or a per-source limit set
    /// here would not be enforced, so it is an error; the rest only have no effect.
    static let inapplicableKeys = [
        InapplicableKey(key: "allow", reason: "Portvisor never accepts on a daemon's socket, the program does (filter in the program, or put a proxy service in front)", error: true),
        InapplicableKey(key: "deny", reason: "Portvisor never accepts on a daemon's socket, the program does (filter in the program, or put a proxy service in front)", error: true),
        InapplicableKey(key: "maxConnectionsPerSource", reason: "Portvisor never accepts on a daemon's socket, the program does (limit in the program, or put a proxy service in front)", error: true),
        InapplicableKey(key: "maxConnectionRatePerSource", reason: "Portvisor never accepts on a daemon's socket, the program does (limit in the program, or put a proxy service in front)", error: true),
        InapplicableKey(key: "maxConnections", reason: "Portvisor never accepts on a daemon's socket, the program does", error: false),
        InapplicableKey(key: "idleTimeout", reason: "Portvisor never accepts on a daemon's socket, the program does", error: false),
        InapplicableKey(key: "writeTimeout", reason: "Portvisor never accepts on a daemon's socket, the program does", error: false),
    ]
    static let summary = "hands the listening socket to one long-running `command` as fd 3 (sd_listen_fds), restarted when it exits"
    static let optionKeys = ProgramOptions.keys + ["start"]
    static var defaultOptions: any KindOptions { DaemonOptions(program: ProgramOptions(command: [])) }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        var options = DaemonOptions(program: ProgramOptions.read(fields, &validator))
        if let text = validator.string(fields, "start") {
            if let start = DaemonStart(rawValue: text) {
                options.start = start
            } else {
                validator.add(fields.path("start"), "\(ConfigValidator.quoted(text)) is not \"immediate\" or \"on-demand\"")
            }
        }
        return options
    }

    static func makeStats() -> (any KindStats)? { DaemonStats() }

    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime {
        DaemonRuntime(config, context: context)
    }

    /// The variables a daemon gets besides PATH, PORTVISOR_SERVICE and `environment`
    /// (LISTEN_PID, its own pid, is added by the spawn itself).
    static func variables(service: String) -> [(String, String)] {
        [("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", service)]
    }
}

/// The daemon's program now.
public struct DaemonProcess: Sendable, Equatable {
    public var pid: Int32?
    public var startedAt: WallTime?
    /// Starts after the first, for the life of the supervisor.
    public var restarts = 0
    /// `exited 1`, `killed by SIGSEGV`, or nil before any exit.
    public var lastExit: String?
}

/// A daemon service's counters. Safe from any thread.
public final class DaemonStats: KindStats {
    let process = Locked(DaemonProcess())
    /// stderr lines over the 100 a second a service may log.
    public let logLinesDropped = Atomic<Int>(0)

    public init() {}

    public func snapshot() -> any KindSnapshot {
        DaemonSnapshot(process: process.withLock { $0 }, logLinesDropped: logLinesDropped.load(ordering: .relaxed))
    }
}

/// `"process": { "pid", "startedAt", "restarts", "lastExit" }` and `"logLinesDropped"` in status.
public struct DaemonSnapshot: KindSnapshot, Equatable {
    public var process: DaemonProcess
    public var logLinesDropped: Int

    public func writeStatus(into out: JSONOutput) {
        out.raw(",\n      "); out.key("process")
        out.raw("{ "); out.key("pid")
        if let pid = process.pid { out.int(Int(pid)) } else { out.raw("null") }
        out.raw(", "); out.key("startedAt"); out.optionalString(process.startedAt?.rfc3339())
        out.raw(", "); out.key("restarts"); out.int(process.restarts)
        out.raw(", "); out.key("lastExit"); out.optionalString(process.lastExit)
        out.raw(" },\n      "); out.key("logLinesDropped"); out.int(logLinesDropped)
    }

    public func metrics(service: String) -> [MetricFamily] {
        [MetricFamily("portvisor_daemon_up", .gauge, "1 while the daemon's program runs, else 0.",
                      [MetricSample(["service": service], process.pid == nil ? 0 : 1)]),
         MetricFamily("portvisor_daemon_restarts_total", .counter, "Times the daemon's program was started again.",
                      [MetricSample(["service": service], process.restarts)]),
         MetricFamily("portvisor_log_lines_dropped_total", .counter, "Lines of programs' stderr over the 100 a second a service may log.",
                      [MetricSample(["service": service], logLinesDropped)])]
    }
}

extension ServiceSnapshot {
    /// daemon: its program (nil for other kinds).
    public var daemon: DaemonProcess? { (kind as? DaemonSnapshot)?.process }
}
