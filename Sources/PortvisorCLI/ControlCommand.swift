// `portvisor stop|start|restart|reload|kill`: one request on the running supervisor's control
// socket (docs/control.md), its answer printed as a table or, with --json, as JSON. Exit codes
// (SPEC §9): 0 done, 64 usage or unknown service, 69 control socket unreachable, 77 permission
// denied, 78 invalid config.
import Portvisor

enum ControlCommand {
    /// How long a command may take: the supervisor's own limit (60 s) and a margin.
    static let timeout = 70.0

    static func run(_ parsed: ParsedArguments, verb: String) -> Int32 {
        let request: ControlRequest
        switch makeRequest(parsed, verb: verb) {
        case .success(let made): request = made
        case .failure(let error):
            Diagnostics.error("portvisor \(verb): \(error.message)")
            Diagnostics.error("usage: \(CommandLineSpec.command(named: verb)?.usage ?? verb)")
            return ExitCode.usage
        }
        let located = Locator.locate(parsed)
        guard let path = located.controlPath else {
            Diagnostics.error("portvisor \(verb): the control socket is off in \(located.config?.path ?? "the config") (\"control\": false); pass --control PATH")
            return ExitCode.unavailable
        }
        if let problem = located.problem, !(request == .reload(dryRun: false) || request == .reload(dryRun: true)) {
            // Control still works with the file broken; say so once.
            if case .invalid = problem { Diagnostics.error("portvisor \(verb): warning: \(problem.lines.first ?? "") (the running supervisor's config is used)") }
        }
        switch ControlSocket.ask(path, request, timeout: timeout) {
        case .failure(let failure):
            for line in failure.lines { Diagnostics.error(line) }
            Diagnostics.error("portvisor \(verb): \(failure.message)")
            return failure.code
        case .success(let answer):
            if parsed.has("--json") {
                Output.out(JSONWriter.pretty(answer))
            } else {
                Output.out(render(answer, request: request))
            }
            return ExitCode.ok
        }
    }

    static func makeRequest(_ parsed: ParsedArguments, verb: String) -> Result<ControlRequest, UsageError> {
        let arguments = parsed.positionals
        let line: String
        switch verb {
        case "reload": line = parsed.has("--dry-run") ? "reload --dry-run" : "reload"
        default: line = ([verb] + arguments).joined(separator: " ")
        }
        if arguments.contains(where: { $0.contains(" ") || $0.isEmpty }) { return .failure(UsageError("a service name has no spaces")) }
        return ControlRequest.parse(line).mapError { UsageError($0.message) }
    }

    // MARK: Rendering

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let s)?: return s
        case .number(let n)?: return n.text
        case .bool(let b)?: return b ? "true" : "false"
        default: return "-"
        }
    }

    static func render(_ answer: JSONValue, request: ControlRequest) -> String {
        switch request {
        case .reload(let dryRun):
            return renderReload(answer, dryRun: dryRun)
        case .kill(let service, let peer):
            let closed = text(answer["closed"])
            let what = peer.map { "the connection from \($0)" } ?? "\(closed) connection\(closed == "1" ? "" : "s")"
            return TextSanitizer.escaped("\(service): closed \(what)" + (closed == "0" ? " (none was live)" : ""))
        default:
            var table = TextTable(["SERVICE", "RESULT", "STATE", "LAST ERROR"])
            if case .array(let services)? = answer["services"] {
                for service in services {
                    table.add([text(service["name"]), text(service["result"]), text(service["state"]), text(service["lastError"])])
                }
            }
            return table.render()
        }
    }

    static func renderReload(_ answer: JSONValue, dryRun: Bool) -> String {
        var lines: [String] = []
        let config = text(answer["config"])
        lines.append(TextSanitizer.escaped(dryRun ? "\(config) is valid; a reload would do: \(text(answer["summary"]))"
                                                  : "reloaded \(config): \(text(answer["summary"]))"))
        lines.append("")
        var table = TextTable(dryRun ? ["SERVICE", "CHANGE", "ACTION"] : ["SERVICE", "CHANGE", "ACTION", "STATE", "LAST ERROR"])
        if case .array(let services)? = answer["services"] {
            for service in services {
                var row = [text(service["name"]), text(service["change"]), text(service["action"])]
                if !dryRun { row += [text(service["state"]), text(service["lastError"])] }
                table.add(row)
            }
        }
        lines.append(table.render())
        for key in ["errors", "warnings"] {
            if case .array(let items)? = answer[key], !items.isEmpty {
                lines.append("")
                for item in items { lines.append(TextSanitizer.escaped("\(key == "errors" ? "error" : "warning"): \(text(item))")) }
            }
        }
        return lines.joined(separator: "\n")
    }
}
