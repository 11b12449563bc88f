// The entry point behind the `portvisor` executable: picks the command, parses its arguments,
// runs it, and returns the exit code. Usage errors print one line and the usage, exit 64.
import Portvisor

public enum PortvisorCLI {
    /// Ends the process with the exit code `main` returned.
    public static func exit(_ code: Int32) -> Never { Syscall.exit(code) }

    /// Runs the command line (`arguments` without the program name) and returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        guard let first = arguments.first else {
            Output.err(CommandLineSpec.help)
            return ExitCode.usage
        }
        switch first {
        case "-h", "--help":
            Output.out(CommandLineSpec.help)
            return ExitCode.ok
        case "--version", "-V":
            Output.out("portvisor \(CommandLineSpec.version)")
            return ExitCode.ok
        default:
            break
        }
        guard let spec = CommandLineSpec.command(named: first) else {
            let hint = Suggestion.closest(to: first, in: CommandLineSpec.commands.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
            Diagnostics.error("portvisor: unknown command \"\(first)\"\(hint)")
            Diagnostics.error("Run 'portvisor --help' for the commands.")
            return ExitCode.usage
        }
        let parsed: ParsedArguments
        do {
            parsed = try ArgumentParser.parse(Array(arguments.dropFirst()), for: spec)
        } catch {
            Diagnostics.error("portvisor \(spec.name): \(error.message)")
            Diagnostics.error("usage: \(spec.usage)")
            return ExitCode.usage
        }
        if parsed.wantsHelp {
            Output.out(spec.help)
            return ExitCode.ok
        }
        switch spec.name {
        case "check": return CheckCommand.run(parsed)
        case "run": return RunCommand.run(parsed)
        case "status": return StatusCommand.run(parsed)
        case "connect": return ConnectCommand.run(parsed)
        case "bench": return BenchCommand.run(parsed)
        case "stop", "start", "restart", "reload", "kill": return ControlCommand.run(parsed, verb: spec.name)
        case "completion": return CompletionCommand.run(parsed)
        case "help": return HelpCommand.run(parsed)
        default:
            Diagnostics.error("portvisor: command \(spec.name) is not available")
            return ExitCode.usage
        }
    }

    /// Loads the config named by `--config` / `$PORTVISOR_CONFIG` / `./services.json`,
    /// printing its problems to stderr on failure (a missing file with a hint on where the
    /// path comes from, on the same line).
    static func loadConfig(_ parsed: ParsedArguments) -> Result<PortvisorConfig, ConfigError> {
        let path = ConfigLoader.resolvePath(option: parsed.value("--config"))
        do {
            return .success(try ConfigLoader.load(path: path))
        } catch {
            var lines = error.lines
            if let hint = error.hint, let last = lines.popLast() { lines.append("\(last) (\(hint))") }
            for line in lines { Diagnostics.error(line) }
            return .failure(error)
        }
    }
}
