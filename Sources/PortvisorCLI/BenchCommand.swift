// `portvisor bench MODE`: turns the options into BenchOptions, resolves the target (an address,
// or a service of the config), runs the load and prints the table or the JSON object.
// Exit 0 clean, 1 verification failed, 2 connections failed or nothing measured (with one line
// on stderr saying why), 64 usage, 69 target unreachable, 70 internal error.
import Portvisor
import PortvisorBench

enum BenchCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        let options: BenchOptions
        switch makeOptions(parsed) {
        case .success(let made): options = made
        case .failure(let exit): return exit.code
        }
        let result: BenchResult
        do {
            result = try BenchRunner.run(options, watchdog: true)
        } catch {
            if case .usage(let message) = error { return usage(message) }
            Diagnostics.error("portvisor bench: \(error.message)")
            return error.exitCode
        }
        for note in result.notes { Diagnostics.error("portvisor bench: note: \(note)") }
        Output.out(parsed.has("--json") ? JSONWriter.compact(result.json()) : result.table())
        if let failure = result.failure { Diagnostics.error("portvisor bench: \(failure)") }
        return result.exitCode
    }

    static func makeOptions(_ parsed: ParsedArguments) -> Result<BenchOptions, StatusCommand.Exit> {
        let modeText = parsed.positionals[0]
        guard let mode = BenchMode(rawValue: modeText) else {
            let names = BenchMode.allCases.map(\.rawValue)
            let hint = Suggestion.closest(to: modeText, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            return .failure(.init(code: usage("unknown mode \"\(modeText)\"\(hint); modes: \(names.joined(separator: ", "))")))
        }
        do {
            let (address, service) = try target(parsed, mode: mode)
            var options = BenchOptions(mode: mode, address: address)
            options.service = service
            if let n = try integer(parsed, "--connections") { options.connections = n }
            if let n = try integer(parsed, "--threads") { options.threads = n }
            if let n = try integer(parsed, "--size") {
                if !mode.expectsEcho { throw UsageError("--size applies to rr, stream and idle, not to \(mode.rawValue)") }
                options.size = n
            }
            if let seconds = try number(parsed, "--duration") { options.duration = seconds }
            if let seconds = try number(parsed, "--warmup") { options.warmup = seconds }
            if let seconds = try number(parsed, "--timeout") { options.timeout = seconds }
            if let text = parsed.value("--ack") {
                if mode != .sentence { throw UsageError("--ack applies to sentence only") }
                options.ack = BenchOptions.unescape(text)
            }
            if let pid = try integer(parsed, "--pid") {
                if mode != .idle { throw UsageError("--pid applies to idle only (the server's memory per held connection)") }
                guard pid > 0, pid <= Int(Int32.max) else { throw UsageError("--pid: \(pid) is not a process id") }
                options.serverPID = Int32(pid)
            }
            try options.check()
            return .success(options)
        } catch let error as UsageError {
            return .failure(.init(code: usage(error.message)))
        } catch let exit as StatusCommand.Exit {
            return .failure(exit)
        } catch {
            return .failure(.init(code: usage("\(error)")))
        }
    }

    /// --host/--port, or --service through the config (which may ask the status endpoint). A
    /// service is checked against the mode before anything connects: UDP, or a kind that does
    /// not speak the mode's protocol, is refused with one line (exit 64).
    private static func target(_ parsed: ParsedArguments, mode: BenchMode) throws -> (SocketAddress, BenchService?) {
        if let name = parsed.value("--service") {
            if parsed.value("--host") != nil || parsed.value("--port") != nil {
                throw UsageError("give --service or --host/--port, not both")
            }
            let config: PortvisorConfig
            switch PortvisorCLI.loadConfig(parsed) {
            case .success(let loaded): config = loaded
            case .failure(let error): throw StatusCommand.Exit(code: error.exitCode)
            }
            let found: ServiceConfig
            switch ConnectCommand.lookup(name, in: config, command: "bench") {
            case .success(let service): found = service
            case .failure(let exit): throw exit
            }
            let service = BenchService(name: found.name, kind: found.kind.rawValue, isUDP: found.transport == .udp,
                                       maxConnections: found.maxConnections)
            if let refusal = mode.refusal(of: service) {
                // The arguments are fine; the target is not: one line, without the usage.
                Diagnostics.error("portvisor bench: \(refusal)")
                throw StatusCommand.Exit(code: ExitCode.usage)
            }
            switch ConnectCommand.address(of: found, in: config, timeout: 5, command: "bench") {
            case .success(let address): return (address, service)
            case .failure(let exit): throw exit
            }
        }
        if parsed.value("--config") != nil { throw UsageError("--config is read only with --service") }
        guard let portText = parsed.value("--port") else { throw UsageError("missing --port PORT (or --service NAME)") }
        guard let port = UInt16(portText), port > 0 else { throw UsageError("--port: \"\(portText)\" is not a port in 1...65535") }
        let host = parsed.value("--host") ?? "127.0.0.1"
        guard let ip = IPAddress(parsing: host) else {
            throw UsageError("--host: \"\(host)\" is not an IPv4 or IPv6 literal (e.g. 127.0.0.1 or ::1)")
        }
        return (SocketAddress(ip: ip, port: port), nil)
    }

    private static func integer(_ parsed: ParsedArguments, _ name: String) throws(UsageError) -> Int? {
        guard let text = parsed.value(name) else { return nil }
        guard let value = Int(text) else { throw UsageError("\(name): \"\(text)\" is not a whole number") }
        return value
    }

    private static func number(_ parsed: ParsedArguments, _ name: String) throws(UsageError) -> Double? {
        guard let text = parsed.value(name) else { return nil }
        guard let value = Double(text), value.isFinite else { throw UsageError("\(name): \"\(text)\" is not a number of seconds") }
        return value
    }

    /// Prints a usage mistake with the usage line; returns 64.
    private static func usage(_ message: String) -> Int32 {
        Diagnostics.error("portvisor bench: \(message)")
        Diagnostics.error("usage: \(CommandLineSpec.command(named: "bench")!.usage)")
        return ExitCode.usage
    }
}
