// `portvisor status`: ask a running supervisor's status endpoint and print a table (or its JSON).
// Exit 0 when every enabled service runs, 3 when one does not, 69 when the endpoint is unreachable.
import Portvisor

enum StatusCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        if parsed.value("--status") != nil && parsed.value("--config") != nil {
            Diagnostics.error("portvisor status: give --config or --status, not both")
            Diagnostics.error("usage: \(CommandLineSpec.command(named: "status")!.usage)")
            return ExitCode.usage
        }
        let address: SocketAddress
        let token: String?
        switch endpoint(parsed, command: "status") {
        case .success(let found): (address, token) = (found.address, found.token)
        case .failure(let exit): return exit.code
        }
        let reply: HTTPReply
        do {
            reply = try HTTPClient.get("/status", from: address, token: token)
        } catch {
            if case .malformed = error {
                Diagnostics.error("portvisor status: what \(address) sent is \(error)")
            } else {
                Diagnostics.error("portvisor status: cannot reach the status endpoint at \(address): \(error)")
            }
            return ExitCode.unavailable
        }
        if reply.status == 401 {
            Diagnostics.error("portvisor status: \(address) wants a token (status.tokenFile) and \(token == nil ? "none was found in the config" : "refused the one in the config's tokenFile")")
            return ExitCode.permissionDenied
        }
        guard reply.status == 200, let document = try? JSONParser.parse(reply.body), case .array(let services)? = document["services"] else {
            Diagnostics.error("portvisor status: \(address) did not answer with a status document (HTTP \(reply.status))")
            return ExitCode.unavailable
        }
        // --json prints the document as parsed, written again by the JSON writer: the same keys,
        // values and order, with nothing unprintable left raw (the peer's bytes are not copied).
        Output.out(parsed.has("--json") ? JSONWriter.pretty(document) : table(document, services: services))
        let allRunning = services.allSatisfy { service in
            service["enabled"] == .bool(false) || service["state"] == .string("running") || service["stoppedBy"] == .string("control")
        }
        return allRunning ? ExitCode.ok : ExitCode.notRunning
    }

    struct Exit: Error { let code: Int32 }

    /// Where to ask, and the bearer token to send (status.tokenFile).
    struct Endpoint {
        var address: SocketAddress
        var token: String?
    }

    /// The status endpoint from `--status HOST:PORT`, else from the config (a wildcard host
    /// means loopback), else — the file broken, or the port 0 — from the running supervisor's
    /// control socket. Prints why when there is none.
    static func endpoint(_ parsed: ParsedArguments, command: String) -> Result<Endpoint, Exit> {
        let located = Locator.locate(parsed)
        if let text = parsed.value("--status") {
            guard let address = SocketAddress(parsing: text) else {
                Diagnostics.error("portvisor \(command): --status: \"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:20080 or [::1]:20080)")
                return .failure(Exit(code: ExitCode.usage))
            }
            return .success(Endpoint(address: address, token: located.config?.status?.token))
        }
        if let config = located.config {
            guard let status = config.status else {
                Diagnostics.error("portvisor \(command): the status endpoint is off in \(config.path) (\"status\": false)")
                return .failure(Exit(code: ExitCode.unavailable))
            }
            if status.port != 0 {
                return .success(Endpoint(address: SocketAddress(ip: loopbackIfWildcard(status.address), port: UInt16(status.port)), token: status.token))
            }
            if let running = Locator.running(located), let found = endpoint(of: running) { return .success(found) }
            Diagnostics.error("portvisor \(command): the status endpoint in \(config.path) has port 0 (the kernel picks it) and no supervisor answers on the control socket; pass --status HOST:PORT from the log")
            return .failure(Exit(code: ExitCode.unavailable))
        }
        let problem = located.problem ?? .unreadable(file: "services.json", reason: "not loaded")
        if let running = Locator.running(located), let found = endpoint(of: running) {
            Locator.warnAboutFile(problem, command: command, running: running)
            return .success(found)
        }
        Locator.printProblems(problem)
        return .failure(Exit(code: problem.exitCode))
    }

    /// The status endpoint a running supervisor reports on its control socket.
    static func endpoint(of running: RunningSupervisor) -> Endpoint? {
        guard let host = running.statusHost, let port = running.statusPort, let ip = IPAddress(parsing: host) else { return nil }
        return Endpoint(address: SocketAddress(ip: loopbackIfWildcard(ip), port: UInt16(port)), token: Locator.token(fromFile: running.tokenFile))
    }

    static func loopbackIfWildcard(_ ip: IPAddress) -> IPAddress {
        guard ip.isWildcard else { return ip }
        return ip.isIPv4 ? .loopbackV4 : .loopbackV6
    }

    /// The human view of a status document. Unknown keys are ignored; every value is text from
    /// the endpoint, escaped (TextTable's cells, and the heading) before it reaches the terminal.
    static func table(_ document: JSONValue, services: [JSONValue]) -> String {
        func text(_ value: JSONValue?) -> String {
            switch value {
            case .string(let s)?: return s
            case .number(let n)?: return n.text
            case .bool(let b)?: return b ? "true" : "false"
            default: return "-"
            }
        }
        var lines: [String] = []
        if let supervisor = document["supervisor"] {
            lines.append(TextSanitizer.escaped("portvisor \(text(supervisor["version"])), pid \(text(supervisor["pid"])), up \(text(supervisor["uptimeSeconds"])) s, config \(text(supervisor["config"]))"))
            lines.append("")
        }
        var table = TextTable(["SERVICE", "STATE", "ADDRESS", "RANGE", "LIVE", "TOTAL", "REJECTED", "REFUSED", "DATAGRAMS",
                               "RESTARTS", "LAST ERROR"])
        var live = TextTable(["SERVICE", "PEER", "SINCE", "IN", "OUT"])
        var liveCount = 0
        for service in services {
            let name = text(service["name"])
            let udp = service["protocol"] == .string("udp") || (service["protocol"] == nil && service["datagrams"] != nil)
            var port = text(service["port"])
            if case .number(let number)? = service["port"], let bound = number.integer, (0...65535).contains(bound) {
                port = String(bound)
            }
            let host = text(service["host"])
            let address = (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") + (udp ? "/udp" : "")
            // A UDP service has no connections: its counts are datagrams (in, out, dropped).
            let connections = service["connections"]
            let counts = udp ? ["-", "-", "-", "-"]
                : [text(connections?["live"]), text(connections?["total"]), text(connections?["rejected"]), text(connections?["refused"])]
            let datagrams = service["datagrams"]
            let datagramText = udp ? "in \(text(datagrams?["in"])), out \(text(datagrams?["out"])), dropped \(text(datagrams?["dropped"]))" : "-"
            let held = service["stoppedBy"] == .string("control") ? " (control)" : ""
            table.add([name, text(service["state"]) + held, address, text(service["range"])] + counts
                      + [datagramText, text(service["restarts"]), text(service["lastError"])])
            if case .array(let entries)? = service["live"] {
                for entry in entries {
                    live.add([name, text(entry["peer"]), text(entry["since"]), "\(text(entry["bytesIn"])) B", "\(text(entry["bytesOut"])) B"])
                    liveCount += 1
                }
            }
        }
        lines.append(table.render())
        if liveCount > 0 {
            lines += ["", "\(liveCount) live connection\(liveCount == 1 ? "" : "s"):", live.render()]
        }
        return lines.joined(separator: "\n")
    }
}
