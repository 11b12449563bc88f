// exec (inetd `nowait`, systemd `Accept=yes`, tcpserver): every accepted connection — after
// allow/deny, caps and rates — starts `command` with the socket, in blocking mode, as its
// descriptors 0 and 1. The connection is live until its child exits; `maxConnections` bounds
// the running children; `runtimeMax` ends one that runs longer. The program's keys are shared
// with daemon (Program.swift); the I/O is Supervisor/ExecRuntime.swift.
import Synchronization

extension KindName {
    public static let exec: KindName = "exec"
}

public struct ExecOptions: ProgramKindOptions, Equatable {
    public var program: ProgramOptions
    /// Seconds a child may run before it is stopped (SIGTERM to its group, SIGKILL after
    /// stopTimeout); nil: as long as it likes.
    public var runtimeMax: Double?

    public init(program: ProgramOptions, runtimeMax: Double? = nil) {
        self.program = program
        self.runtimeMax = runtimeMax
    }
}

enum ExecKind: ServiceKind {
    static let name = KindName.exec
    static let inapplicableKeys = [
        InapplicableKey(key: "idleTimeout", reason: "the program owns the connection (use runtimeMax)", error: false),
        InapplicableKey(key: "writeTimeout", reason: "the program owns the connection (use runtimeMax)", error: false),
    ]
    static let summary = "starts `command` per connection, the socket as its stdin and stdout (inetd nowait, tcpserver)"
    static let optionKeys = ProgramOptions.keys + ["runtimeMax"]
    static var defaultOptions: any KindOptions { ExecOptions(program: ProgramOptions(command: [])) }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        ExecOptions(program: ProgramOptions.read(fields, &validator), runtimeMax: validator.seconds(fields, "runtimeMax"))
    }

    static func makeStats() -> (any KindStats)? { ProcessStats() }

    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime {
        ExecRuntime(config, context: context)
    }

    /// The variables an exec child gets besides PATH, PORTVISOR_SERVICE and `environment`:
    /// ucspi-tcp's and systemd's names for the two ends of its connection.
    static func variables(peer: SocketAddress, local: SocketAddress) -> [(String, String)] {
        let remote = peer.ip.unmapped.description, here = local.ip.unmapped.description
        return [("PROTO", "TCP"), ("TCPREMOTEIP", remote), ("TCPREMOTEPORT", String(peer.port)),
                ("TCPLOCALIP", here), ("TCPLOCALPORT", String(local.port)),
                ("REMOTE_ADDR", remote), ("REMOTE_PORT", String(peer.port))]
    }
}

/// What exec (and daemon) count about their programs. Safe from any thread.
public final class ProcessStats: KindStats {
    public let started = Atomic<Int>(0)
    public let running = Atomic<Int>(0)
    public let exitedOk = Atomic<Int>(0)
    public let exitedError = Atomic<Int>(0)
    public let killed = Atomic<Int>(0)
    public let spawnFailures = Atomic<Int>(0)
    /// stderr lines over the 100 a second a service may log.
    public let logLinesDropped = Atomic<Int>(0)

    public init() {}

    /// Counts an ended child.
    func ended(_ end: ChildEnd) {
        running.wrappingSubtract(1, ordering: .relaxed)
        switch end {
        case .exited(0): exitedOk.wrappingAdd(1, ordering: .relaxed)
        case .exited: exitedError.wrappingAdd(1, ordering: .relaxed)
        case .killed: killed.wrappingAdd(1, ordering: .relaxed)
        }
    }

    public func snapshot() -> any KindSnapshot {
        ProcessSnapshot(started: started.load(ordering: .relaxed), running: running.load(ordering: .relaxed),
                        exitedOk: exitedOk.load(ordering: .relaxed), exitedError: exitedError.load(ordering: .relaxed),
                        killed: killed.load(ordering: .relaxed), spawnFailures: spawnFailures.load(ordering: .relaxed),
                        logLinesDropped: logLinesDropped.load(ordering: .relaxed))
    }
}

/// `"processes": { "started", "running", "exitedOk", "exitedError", "killed", "spawnFailures" }`
/// and `"logLinesDropped"` in status.
public struct ProcessSnapshot: KindSnapshot, Equatable {
    public var started: Int
    public var running: Int
    public var exitedOk: Int
    public var exitedError: Int
    public var killed: Int
    public var spawnFailures: Int
    public var logLinesDropped: Int

    public func writeStatus(into out: JSONOutput) {
        out.raw(",\n      "); out.key("processes")
        out.raw("{ "); out.key("started"); out.int(started)
        out.raw(", "); out.key("running"); out.int(running)
        out.raw(", "); out.key("exitedOk"); out.int(exitedOk)
        out.raw(", "); out.key("exitedError"); out.int(exitedError)
        out.raw(", "); out.key("killed"); out.int(killed)
        out.raw(", "); out.key("spawnFailures"); out.int(spawnFailures)
        out.raw(" },\n      "); out.key("logLinesDropped"); out.int(logLinesDropped)
    }

    public func metrics(service: String) -> [MetricFamily] {
        [MetricFamily("portvisor_processes_started_total", .counter, "Programs started (exec: one per connection).",
                      [MetricSample(["service": service], started)]),
         MetricFamily("portvisor_processes_running", .gauge, "Programs running now.", [MetricSample(["service": service], running)]),
         MetricFamily("portvisor_processes_ended_total", .counter, "Programs that ended: exited 0, exited otherwise, or killed by a signal.",
                      [MetricSample(["service": service, "end": "exited_ok"], exitedOk),
                       MetricSample(["service": service, "end": "exited_error"], exitedError),
                       MetricSample(["service": service, "end": "killed"], killed)]),
         MetricFamily("portvisor_process_spawn_failures_total", .counter, "Programs that could not be started.",
                      [MetricSample(["service": service], spawnFailures)]),
         MetricFamily("portvisor_log_lines_dropped_total", .counter, "Lines of programs' stderr over the 100 a second a service may log.",
                      [MetricSample(["service": service], logLinesDropped)])]
    }
}

extension ServiceSnapshot {
    /// exec and daemon: their programs' counters (nil for other kinds).
    public var processes: ProcessSnapshot? { kind as? ProcessSnapshot }
}
