// The control socket's protocol (docs/control.md), as pure values: a request is one line of
// words, `VERB [ARGUMENT]...`; the answer is one line of JSON, after which the supervisor closes
// the connection. Parsing and encoding live here so that the server, the command line and the
// tests agree on every byte.

/// What a client asks the supervisor.
public enum ControlRequest: Sendable, Equatable {
    /// Who is running: pid, version, uid, config, status and control addresses, the services.
    case info
    case stop([String])
    case start([String])
    case restart([String])
    case reload(dryRun: Bool)
    /// Close the live connections of `service` from `peer` (nil: all of them).
    case kill(service: String, peer: SocketAddress?)

    /// The longest request line accepted, LF included.
    public static let maxLineBytes = 4096
    /// At most this many services in one stop, start or restart.
    public static let maxNames = 1024

    /// The request's line, LF included.
    public var line: String {
        switch self {
        case .info: return "info\n"
        case .stop(let names): return (["stop"] + names).joined(separator: " ") + "\n"
        case .start(let names): return (["start"] + names).joined(separator: " ") + "\n"
        case .restart(let names): return (["restart"] + names).joined(separator: " ") + "\n"
        case .reload(let dryRun): return dryRun ? "reload --dry-run\n" : "reload\n"
        case .kill(let service, let peer): return "kill \(service) \(peer.map(\.description) ?? "all")\n"
        }
    }

    public var verb: String {
        switch self {
        case .info: return "info"
        case .stop: return "stop"
        case .start: return "start"
        case .restart: return "restart"
        case .reload: return "reload"
        case .kill: return "kill"
        }
    }

    /// Parses one request line (without its LF). The error is the answer's message.
    public static func parse(_ line: String) -> Result<ControlRequest, ControlFailure> {
        if line.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return .failure(.usage("a request is one line of printable words"))
        }
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first else { return .failure(.usage("empty request; verbs: info, stop, start, restart, reload, kill")) }
        let arguments = Array(words.dropFirst())
        func names() -> Result<[String], ControlFailure> {
            guard !arguments.isEmpty else { return .failure(.usage("\(verb) needs at least one service name")) }
            guard arguments.count <= maxNames else { return .failure(.usage("at most \(maxNames) services at once")) }
            if let bad = arguments.first(where: { !ConfigValidator.isValidName($0) }) {
                return .failure(.usage("\(ConfigValidator.quoted(bad)) is not a service name"))
            }
            return .success(arguments)
        }
        switch verb {
        case "info":
            return arguments.isEmpty ? .success(.info) : .failure(.usage("info takes no arguments"))
        case "stop": return names().map { .stop($0) }
        case "start": return names().map { .start($0) }
        case "restart": return names().map { .restart($0) }
        case "reload":
            if arguments.isEmpty { return .success(.reload(dryRun: false)) }
            if arguments == ["--dry-run"] { return .success(.reload(dryRun: true)) }
            return .failure(.usage("reload takes only --dry-run"))
        case "kill":
            guard arguments.count == 2 else { return .failure(.usage("kill takes a service and a peer (ADDRESS:PORT, or all)")) }
            guard ConfigValidator.isValidName(arguments[0]) else {
                return .failure(.usage("\(ConfigValidator.quoted(arguments[0])) is not a service name"))
            }
            if arguments[1] == "all" { return .success(.kill(service: arguments[0], peer: nil)) }
            guard let peer = SocketAddress(parsing: arguments[1]) else {
                return .failure(.usage("\(ConfigValidator.quoted(arguments[1])) is not a peer: ADDRESS:PORT ([ADDRESS]:PORT for IPv6) or all"))
            }
            return .success(.kill(service: arguments[0], peer: peer))
        default:
            let verbs = ["info", "stop", "start", "restart", "reload", "kill"]
            let hint = Suggestion.closest(to: verb, in: verbs).map { " (did you mean \"\($0)\"?)" } ?? ""
            return .failure(.usage("unknown verb \(ConfigValidator.quoted(verb))\(hint); verbs: \(verbs.joined(separator: ", "))"))
        }
    }
}

/// A request that was not carried out: the exit code the command line ends with, one line of
/// reason, and (invalid config) the problems one per line.
public struct ControlFailure: Error, Sendable, Equatable {
    public var code: Int32
    public var message: String
    public var lines: [String] = []

    public init(code: Int32, message: String, lines: [String] = []) {
        self.code = code
        self.message = message
        self.lines = lines
    }

    public static func usage(_ message: String) -> ControlFailure { ControlFailure(code: ExitCode.usage, message: message) }
}

/// The answer: `{"ok": true, "code": 0, …}` or `{"ok": false, "code": N, "error": "…", "lines": […]}`,
/// one line of JSON.
public enum ControlAnswer {
    public static func success(_ members: [JSONMember]) -> [UInt8] {
        Array((JSONWriter.compact(.object([JSONMember("ok", .bool(true)), JSONMember("code", .int(0))] + members)) + "\n").utf8)
    }

    public static func failure(_ failure: ControlFailure) -> [UInt8] {
        var members = [JSONMember("ok", .bool(false)), JSONMember("code", .int(Int(failure.code))), JSONMember("error", .string(failure.message))]
        if !failure.lines.isEmpty { members.append(JSONMember("lines", .array(failure.lines.map { .string($0) }))) }
        return Array((JSONWriter.compact(.object(members)) + "\n").utf8)
    }

    /// Reads an answer line: the members of a success, or the failure it reports.
    public static func parse(_ bytes: [UInt8]) -> Result<JSONValue, ControlFailure> {
        guard let value = try? JSONParser.parse(bytes), case .object = value, case .bool(let ok)? = value["ok"] else {
            return .failure(ControlFailure(code: ExitCode.unavailable, message: "the control socket answered something that is not a Portvisor answer"))
        }
        if ok { return .success(value) }
        var code = ExitCode.software
        if case .number(let number)? = value["code"], let integer = number.integer, (1...125).contains(integer) { code = Int32(integer) }
        var message = "the supervisor refused without saying why"
        if case .string(let text)? = value["error"] { message = text }
        var lines: [String] = []
        if case .array(let items)? = value["lines"] {
            lines = items.compactMap { if case .string(let text) = $0 { return text } else { return nil } }
        }
        return .failure(ControlFailure(code: code, message: message, lines: lines))
    }
}
