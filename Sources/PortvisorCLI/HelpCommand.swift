// `portvisor help [COMMAND] [--man]`: the top-level help, one command's help, or the manual page
// rendered from CommandSpec (the committed docs/portvisor.1 is this output).
import Portvisor

enum HelpCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        if parsed.has("--man") {
            guard parsed.positionals.isEmpty else {
                Output.err("portvisor help: --man prints the whole manual; it takes no COMMAND")
                return ExitCode.usage
            }
            Output.out(ManPage.render(), newline: false)
            return ExitCode.ok
        }
        guard let name = parsed.positionals.first else {
            Output.out(CommandLineSpec.help)
            return ExitCode.ok
        }
        guard let spec = CommandLineSpec.command(named: name) else {
            let hint = Suggestion.closest(to: name, in: CommandLineSpec.commands.map(\.name)).map { " (did you mean \"\($0)\"?)" } ?? ""
            Output.err("portvisor help: unknown command \"\(name)\"\(hint)")
            return ExitCode.usage
        }
        Output.out(spec.help)
        return ExitCode.ok
    }
}
