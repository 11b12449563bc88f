// The command-line interface as data: every command, its arguments and options, and their help.
// `--help`, usage errors, the man page and shell completions are all rendered from this table.
import Portvisor

/// What a shell completion offers for a value.
public enum ValueCompletion: Sendable, Equatable {
    /// Free text: nothing to offer.
    case none
    /// A file name.
    case file
    /// A service name from the config in effect (read with `portvisor check --json`).
    case service
    /// A `portvisor` command.
    case command
    /// A command or a service kind (`portvisor help`).
    case commandOrKind
    /// One of a fixed set.
    case choices([String])
}

/// One `--option` of a command.
public struct OptionSpec: Sendable {
    /// `--config`.
    public let name: String
    /// `PATH` for an option that takes a value; nil for a flag.
    public let valueName: String?
    public let help: String
    /// Allowed values, when the value is one of a fixed set (for completions and errors).
    public let choices: [String]
    /// What completions offer for the value; `.choices` whenever `choices` is not empty.
    public let completion: ValueCompletion

    public init(_ name: String, value: String? = nil, choices: [String] = [], completion: ValueCompletion = .none, help: String) {
        self.name = name
        self.valueName = value
        self.help = help
        self.choices = choices
        self.completion = choices.isEmpty ? completion : .choices(choices)
    }
}

/// One positional argument.
public struct ArgumentSpec: Sendable {
    public let name: String
    public let help: String
    public let optional: Bool
    /// What completions offer for it.
    public let completion: ValueCompletion
    /// The last argument may be given many times (`SERVICE...`).
    public let repeats: Bool

    public init(name: String, help: String, optional: Bool, completion: ValueCompletion = .none, repeats: Bool = false) {
        self.name = name
        self.help = help
        self.optional = optional
        self.completion = completion
        self.repeats = repeats
    }

    /// `SERVICE...`, `[NAME]`.
    var usage: String {
        let base = repeats ? name + "..." : name
        return optional ? "[\(base)]" : base
    }
}

/// One subcommand (`run`, `check`, …).
public struct CommandSpec: Sendable {
    public let name: String
    public let summary: String
    public let arguments: [ArgumentSpec]
    public let options: [OptionSpec]
    /// Longer description shown by `portvisor COMMAND --help`.
    public let details: String

    /// `portvisor check [--config PATH] [--json]`.
    public var usage: String {
        var parts = ["portvisor", name]
        for argument in arguments { parts.append(argument.usage) }
        for option in options {
            parts.append(option.valueName.map { "[\(option.name) \($0)]" } ?? "[\(option.name)]")
        }
        return parts.joined(separator: " ")
    }

    public var help: String {
        var lines = ["usage: \(usage)", "", summary]
        if !details.isEmpty { lines += ["", details] }
        if !arguments.isEmpty {
            lines += ["", "arguments:"]
            for argument in arguments { lines.append(Self.helpLine(argument.name, argument.help)) }
        }
        lines += ["", "options:"]
        for option in options {
            let label = option.valueName.map { "\(option.name) \($0)" } ?? option.name
            lines.append(Self.helpLine(label, option.help))
        }
        lines.append(Self.helpLine("-h, --help", "show this help"))
        return lines.joined(separator: "\n")
    }

    static func helpLine(_ label: String, _ help: String) -> String {
        let padded = label.count < 22 ? label + String(repeating: " ", count: 22 - label.count) : label + "  "
        return "  " + padded + help
    }
}

/// Every command of `portvisor`, in the order `--help` lists them.
public enum CommandLineSpec {
    public static let version = Release.version

    static let config = OptionSpec("--config", value: "PATH", completion: .file,
                                   help: "services.json to use (default: $PORTVISOR_CONFIG, else ./services.json)")
    static let json = OptionSpec("--json", help: "print JSON instead of a table")
    static let control = OptionSpec("--control", value: "PATH", completion: .file,
                                    help: "the supervisor's control socket (default: the config's \"control\", else the default path)")
    static let services = ArgumentSpec(name: "SERVICE", help: "a service of the running supervisor", optional: false,
                                       completion: .service, repeats: true)
    static let controlExitCodes = "Exit codes: 0 done, 64 usage or unknown service, 69 control socket unreachable, 77 permission denied."

    /// The keys every service takes, whatever its kind (for `portvisor help KIND`).
    public static let commonServiceKeys = ConfigKeys.commonService

    public static let commands: [CommandSpec] = [
        CommandSpec(
            name: "run", summary: "Supervise every enabled service in the foreground.",
            arguments: [],
            options: [
                config,
                OptionSpec("--log-level", value: "LEVEL", choices: ["debug", "info", "warning", "error"],
                           help: "debug, info (default), warning or error; per-connection lines are debug"),
                OptionSpec("--log-format", value: "FORMAT", choices: ["text", "json"],
                           help: "text (default) or json: one object per line"),
            ],
            details: """
            Binds one listener per service, each on its own thread, restarts failed listeners with
            backoff and serves the status endpoint. Logs go to stderr.
            Signals: SIGINT/SIGTERM stop (drain up to 5 s, exit 0); SIGHUP reloads the config;
            SIGUSR1 logs a one-line summary per service.
            """),
        CommandSpec(
            name: "check", summary: "Validate the config and print the port table.",
            arguments: [], options: [config, json],
            details: """
            Every problem is reported, one line each, naming the file and the field.
            Kinds: \(KindRegistry.names.joined(separator: ", ")) ('portvisor help KIND' lists a kind's keys).
            Exit codes: 0 valid, 66 file missing or unreadable, 78 invalid.
            """),
        CommandSpec(
            name: "status", summary: "Show the state of a running supervisor.",
            arguments: [],
            options: [
                config,
                OptionSpec("--status", value: "HOST:PORT", help: "the status endpoint to ask (default: from the config)"),
                json,
            ],
            details: """
            Exit codes: 0 every enabled service running, 3 one is not, 69 endpoint unreachable.
            """),
        CommandSpec(
            name: "stop", summary: "Stop services of the running supervisor until 'portvisor start'.",
            arguments: [services], options: [config, control, json],
            details: """
            Each service stops accepting at once (state stopped, "stoppedBy": "control"); its live
            connections drain for up to drainTimeout. It stays stopped across reloads until
            'portvisor start'. Unknown names change nothing and are listed with the known ones.
            \(controlExitCodes)
            """),
        CommandSpec(
            name: "start", summary: "Start stopped or failed services of the running supervisor now.",
            arguments: [services], options: [config, control, json],
            details: """
            A stopped service gets a new listener; a failed or backing-off one tries again at once
            with its backoff and maxRestarts count reset. Waits for each bind attempt and prints
            the state it led to.
            \(controlExitCodes)
            """),
        CommandSpec(
            name: "restart", summary: "Rebind services of the running supervisor; live connections keep going.",
            arguments: [services], options: [config, control, json],
            details: """
            The listener is closed and bound again at once (a daemon: its program is restarted on
            the same socket); connections already accepted are not touched. A stopped service is
            started.
            \(controlExitCodes)
            """),
        CommandSpec(
            name: "reload", summary: "Reload the running supervisor's config, wait, and print what changed.",
            arguments: [],
            options: [OptionSpec("--dry-run", help: "validate the file and print the plan without changing anything"), config, control, json],
            details: """
            Like SIGHUP: the supervisor rereads its config file, then prints per service unchanged,
            changed, added or removed, the action taken, the state it led to and every error. An
            invalid file changes nothing: every problem is printed as check does (exit 78).
            \(controlExitCodes) 78 invalid config.
            """),
        CommandSpec(
            name: "kill", summary: "Close live connections of a service (an exec child: SIGTERM to its group).",
            arguments: [ArgumentSpec(name: "SERVICE", help: "a service of the running supervisor", optional: false, completion: .service),
                        ArgumentSpec(name: "PEER|all", help: "ADDRESS:PORT of one connection, as status lists it, or all", optional: false)],
            options: [config, control, json],
            details: """
            A connection from PEER that is not live is an error (64); all with none live is not.
            A daemon's connections belong to its program: restart it instead.
            \(controlExitCodes)
            """),
        CommandSpec(
            name: "connect", summary: "Connect to a service: stdin to the socket, the socket to stdout.",
            arguments: [ArgumentSpec(name: "NAME|HOST:PORT", help: "a service name from the config, or an address", optional: false,
                                     completion: .service)],
            options: [
                config,
                OptionSpec("--timeout", value: "SECONDS", help: "bound on the connection attempt (default 10)"),
            ],
            details: """
            At end of stdin the write side is shut down and output continues until the server closes.
            Exit codes: 0 clean close, 64 unknown service, 69 cannot connect.
            """),
        CommandSpec(
            name: "bench", summary: "Load a service and measure it: rates, latency percentiles, errors.",
            arguments: [ArgumentSpec(name: "MODE", help: "rr, stream, connect, sentence or idle", optional: false,
                                     completion: .choices(["rr", "stream", "connect", "sentence", "idle"]))],
            options: [
                OptionSpec("--host", value: "HOST", help: "the target's IPv4 or IPv6 literal (default 127.0.0.1)"),
                OptionSpec("--port", value: "PORT", help: "the target's port"),
                OptionSpec("--service", value: "NAME", completion: .service, help: "take host and port of this service from the config instead"),
                config,
                OptionSpec("--connections", value: "N", help: "connections, or concurrent workers for connect/sentence (default 1; idle 100)"),
                OptionSpec("--size", value: "BYTES", help: "rr message (default 64), stream write (65536), idle proof (16); max 1 MiB"),
                OptionSpec("--duration", value: "SECONDS", help: "measured time, idle: hold time (default 5, max 600)"),
                OptionSpec("--warmup", value: "SECONDS", help: "unmeasured load first (default 1 for rr and stream, else 0; max 60)"),
                OptionSpec("--threads", value: "N", help: "client threads, each with its own epoll loop (default 1, max 64)"),
                OptionSpec("--timeout", value: "SECONDS", help: "an operation stalled this long counts as a timeout error (default 5)"),
                OptionSpec("--ack", value: "TEXT", help: "sentence: the acknowledgement, escapes \\r \\n \\t (default \"ACK\\r\\n\")"),
                OptionSpec("--pid", value: "PID", help: "idle: the server's pid, to report its memory per held connection"),
                json,
            ],
            details: """
            Modes (the same as the C tcpload's):
              rr        each connection sends --size bytes, waits for the whole echo, checks it byte
                        for byte, repeats; round trips/s and latency percentiles
              stream    each connection pushes a pseudo-random stream (at most 1 MiB unechoed) and
                        checks the echo; MB/s (10^6 bytes/s) of verified echo
              connect   workers loop connect, read to end of file, close; the reply must be one
                        non-empty line ending in "\\n" (daytime); connections/s
              sentence  like connect, but the line is acknowledged with --ack before reading to end
                        of file; nothing may follow the line
              idle      opens --connections, proves each with a --size echo, holds them --duration s,
                        proves each again; established, verified, dropped, still echoing
            With --service the service is checked first: rr, stream and idle need an echo service,
            connect a daytime or qotd service, sentence a sentence service; a UDP service or another
            kind is refused (exit 64). A refused connect is retried after 20 ms; every run stops by
            itself (a watchdog guards the caps).
            Exit codes: 0 clean run; 1 a reply failed verification (an echo differed, or a reply
            was not one line); 2 connections failed (refused, reset, closed early, timed out) or
            nothing was measured; 64 usage error, or a service bench cannot measure;
            69 target unreachable; 70 internal error. When the run is not clean, one line on
            stderr says why (e.g. "488 of 1000 connections failed; the service's maxConnections
            is 512").
            """),
        CommandSpec(
            name: "completion", summary: "Print a shell completion script for bash or zsh.",
            arguments: [ArgumentSpec(name: "SHELL", help: "bash or zsh", optional: false, completion: .choices(["bash", "zsh"]))],
            options: [],
            details: """
            The script is generated from the same table as this help. Install it as
            /usr/share/bash-completion/completions/portvisor (bash) or as _portvisor in a directory
            on $fpath (zsh), or load it into the current shell: source <(portvisor completion bash).
            Service names are completed from the config in effect, read with 'portvisor check --json'.
            """),
        CommandSpec(
            name: "help", summary: "Show the help of portvisor, of one command or kind, or the manual page.",
            arguments: [ArgumentSpec(name: "COMMAND|KIND", help: "the command or service kind (\(KindRegistry.names.joined(separator: ", "))) to describe",
                                     optional: true, completion: .commandOrKind)],
            options: [OptionSpec("--man", help: "print the manual page (roff) instead; read it with: portvisor help --man | man -l -")],
            details: ""),
    ]

    public static func command(named name: String) -> CommandSpec? { commands.first { $0.name == name } }

    /// The top-level help (`portvisor --help`).
    public static var help: String {
        var lines = ["portvisor \(version): a multi-service port supervisor", "", "usage:"]
        for command in commands { lines.append("  \(command.usage)") }
        lines.append("  portvisor --help | --version")
        lines += ["", "commands:"]
        for command in commands { lines.append(CommandSpec.helpLine(command.name, command.summary)) }
        lines += ["", "Run 'portvisor COMMAND --help' for a command's options."]
        return lines.joined(separator: "\n")
    }
}
