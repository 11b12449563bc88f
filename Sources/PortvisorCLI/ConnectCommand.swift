// `portvisor connect NAME|HOST:PORT`: a generic client. Copies stdin to the socket and the
// socket to stdout at the same time; at end of stdin it half-closes and prints until the
// server closes. Exit 0 on a clean close, 64 for an unknown name, 69 when it cannot connect.
import Portvisor

enum ConnectCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        let target = parsed.positionals[0]
        var timeout = 10.0
        if let text = parsed.value("--timeout") {
            guard let value = Double(text), value > 0, value <= 3600 else {
                Diagnostics.error("portvisor connect: --timeout: \"\(text)\" is not a number of seconds in (0, 3600]")
                return ExitCode.usage
            }
            timeout = value
        }
        let label: String
        let address: SocketAddress
        switch resolve(target, parsed: parsed, timeout: timeout) {
        case .success(let resolved): (label, address) = resolved
        case .failure(let exit): return exit.code
        }
        let fd: Int32
        do {
            fd = try Socket.connect(to: address, timeout: timeout)
        } catch {
            let what = label == address.description ? label : "\(label) at \(address)"
            Diagnostics.error("portvisor connect: cannot connect to \(what): \(error)")
            return ExitCode.unavailable
        }
        defer { Syscall.close(fd) }
        return copy(socket: fd, label: label)
    }

    /// NAME through the config (a wildcard host means loopback; port 0 asks the status
    /// endpoint for the bound port), or a literal HOST:PORT. Errors name `command`.
    static func resolve(_ target: String, parsed: ParsedArguments, timeout: Double,
                        command: String = "connect") -> Result<(String, SocketAddress), StatusCommand.Exit> {
        if target.contains(":") {
            guard let address = SocketAddress(parsing: target) else {
                Diagnostics.error("portvisor \(command): \"\(target)\" is neither a service name nor HOST:PORT")
                return .failure(.init(code: ExitCode.usage))
            }
            return .success((target, address))
        }
        let located = Locator.locate(parsed)
        guard let config = located.config else {
            // The file is broken or missing: the running supervisor knows its services.
            let problem = located.problem ?? .unreadable(file: "services.json", reason: "not loaded")
            guard let running = Locator.running(located) else {
                Locator.printProblems(problem)
                return .failure(.init(code: problem.exitCode))
            }
            Locator.warnAboutFile(problem, command: command, running: running)
            guard let service = running.services.first(where: { $0.name == target && $0.transport == "tcp" }) ?? running.services.first(where: { $0.name == target }),
                  let ip = IPAddress(parsing: service.host), service.port > 0 else {
                let names = running.services.map(\.name)
                let hint = Suggestion.closest(to: target, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                Diagnostics.error("portvisor \(command): the running supervisor has no service named \"\(target)\"\(hint); it runs: \(names.joined(separator: ", "))")
                return .failure(.init(code: ExitCode.usage))
            }
            return .success((target, SocketAddress(ip: StatusCommand.loopbackIfWildcard(ip), port: UInt16(service.port))))
        }
        return lookup(target, in: config, command: command)
            .flatMap { address(of: $0, in: config, timeout: timeout, command: command) }
            .map { (target, $0) }
    }

    /// The service named `name` in `config`; when there is none, prints so with the names
    /// declared (exit 64).
    static func lookup(_ name: String, in config: PortvisorConfig, command: String) -> Result<ServiceConfig, StatusCommand.Exit> {
        if let service = config.service(named: name) { return .success(service) }
        let names = config.services.map(\.name).joined(separator: ", ")
        let hint = Suggestion.closest(to: name, in: config.services.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
        Diagnostics.error("portvisor \(command): no service named \"\(name)\" in \(config.path)\(hint); declared: \(names)")
        return .failure(.init(code: ExitCode.usage))
    }

    /// Where `service` listens: its address (a wildcard host means loopback), or for port 0
    /// the bound port its status endpoint reports. Prints why when it cannot be found (exit 69).
    static func address(of service: ServiceConfig, in config: PortvisorConfig, timeout: Double,
                        command: String) -> Result<SocketAddress, StatusCommand.Exit> {
        let name = service.name
        let ip = StatusCommand.loopbackIfWildcard(service.address)
        if service.port != 0 { return .success(SocketAddress(ip: ip, port: UInt16(service.port))) }
        // Port 0: the kernel chose; the status endpoint knows which.
        guard let status = config.status, status.port != 0 else {
            Diagnostics.error("portvisor \(command): \(name) is declared on port 0 and the status endpoint is off, so its port cannot be found; use HOST:PORT from the log")
            return .failure(.init(code: ExitCode.unavailable))
        }
        let endpoint = SocketAddress(ip: StatusCommand.loopbackIfWildcard(status.address), port: UInt16(status.port))
        do {
            let reply = try HTTPClient.get("/status", from: endpoint, timeout: timeout, token: status.token)
            if case .array(let services)? = try? JSONParser.parse(reply.body)["services"],
               let entry = services.first(where: { $0["name"] == .string(name) }),
               case .number(let port)? = entry["port"], let bound = port.integer, bound > 0, bound <= 65535 {
                return .success(SocketAddress(ip: ip, port: UInt16(bound)))
            }
            Diagnostics.error("portvisor \(command): the status endpoint at \(endpoint) does not list a bound port for \(name)")
        } catch {
            Diagnostics.error("portvisor \(command): \(name) is declared on port 0; asking the status endpoint at \(endpoint) for its port failed: \(error)")
        }
        return .failure(.init(code: ExitCode.unavailable))
    }

    /// The copy loop: poll stdin and the socket; never block on one while the other has data.
    static func copy(socket fd: Int32, label: String) -> Int32 {
        var stdinOpen = true
        var pending: [UInt8] = []  // stdin bytes the socket has not taken yet
        var pendingOffset = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            var fds: [(fd: Int32, events: IOEvents)] = [(fd, pendingOffset < pending.count ? [.readable, .writable] : .readable)]
            if stdinOpen && pendingOffset == pending.count { fds.append((0, .readable)) }
            let ready: [IOEvents]
            do {
                ready = try Poll.wait(fds, timeoutMillis: -1)
            } catch {
                Diagnostics.error("portvisor connect: \(error)")
                return ExitCode.unavailable
            }
            if ready.isEmpty { continue }  // interrupted by a signal
            // Socket → stdout.
            if !ready[0].isDisjoint(with: [.readable, .hangup, .error]) {
                do {
                    switch try Syscall.read(fd, buffer, 65536) {
                    case .done(0): return ExitCode.ok
                    case .done(let n): Output.writeAll(1, UnsafeRawBufferPointer(start: buffer, count: n))
                    case .wouldBlock: break
                    }
                } catch {
                    if error.errno == Errno.ECONNRESET {
                        Diagnostics.error("portvisor connect: \(label) reset the connection")
                        return ExitCode.unavailable
                    }
                    Diagnostics.error("portvisor connect: \(error)")
                    return ExitCode.unavailable
                }
            }
            // Pending stdin → socket.
            if pendingOffset < pending.count && ready[0].contains(.writable) {
                let result = pending.withUnsafeBytes { raw -> Result<IOResult, SystemError> in
                    do throws(SystemError) {
                        return .success(try Syscall.write(fd, raw.baseAddress! + pendingOffset, raw.count - pendingOffset))
                    } catch {
                        return .failure(error)
                    }
                }
                switch result {
                case .success(.done(let n)): pendingOffset += n
                case .success(.wouldBlock): break
                case .failure(let error):
                    // The server stopped reading (e.g. daytime closed): keep printing what it sent.
                    stdinOpen = false
                    pending = []
                    pendingOffset = 0
                    if error.errno != Errno.EPIPE && error.errno != Errno.ECONNRESET { Diagnostics.error("portvisor connect: \(error)") }
                }
                if pendingOffset == pending.count && !stdinOpen { Socket.shutdownWrite(fd) }
            }
            // Stdin → pending.
            if ready.count > 1 && !ready[1].isEmpty {
                switch try? Syscall.read(0, buffer, 65536) {
                case .done(let n)? where n > 0:
                    pending = Array(UnsafeRawBufferPointer(start: buffer, count: n))
                    pendingOffset = 0
                case .wouldBlock?:
                    break
                default:  // end of input, or an error reading it
                    stdinOpen = false
                    Socket.shutdownWrite(fd)
                }
            }
        }
    }
}
