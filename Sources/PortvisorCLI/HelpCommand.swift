// `portvisor help [COMMAND|KIND] [--man]`: the top-level help, one command's help, one service
// kind's keys, or the manual page rendered from CommandSpec and the kind registry (the
// committed docs/portvisor.1 is this output).
import Portvisor

enum HelpCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        if parsed.has("--man") {
            guard parsed.positionals.isEmpty else {
                Diagnostics.error("portvisor help: --man prints the whole manual; it takes no COMMAND")
                return ExitCode.usage
            }
            Output.out(ManPage.render(), newline: false)
            return ExitCode.ok
        }
        guard let name = parsed.positionals.first else {
            Output.out(CommandLineSpec.help)
            return ExitCode.ok
        }
        if CommandLineSpec.command(named: name) == nil, KindRegistry.contains(name) {
            Output.out(kindHelp(name))
            return ExitCode.ok
        }
        guard let spec = CommandLineSpec.command(named: name) else {
            let known = CommandLineSpec.commands.map(\.name) + KindRegistry.names
            let hint = Suggestion.closest(to: name, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            Diagnostics.error("portvisor help: unknown command or kind \"\(name)\"\(hint)")
            return ExitCode.usage
        }
        Output.out(spec.help)
        return ExitCode.ok
    }

    /// `portvisor help echo`: what the kind does, its protocols and its own keys.
    static func kindHelp(_ name: String) -> String {
        let keys = KindRegistry.optionKeys(of: name)
        var lines = ["kind \(name): \(KindRegistry.summary(of: name) ?? "")",
                     "protocols: \(KindRegistry.transports(of: name).joined(separator: ", "))",
                     "its own keys: \(keys.isEmpty ? "none" : keys.joined(separator: ", "))"]
        lines.append("Every kind also takes the common keys (docs/configuration.md): \(CommandLineSpec.commonServiceKeys.joined(separator: ", ")).")
        return lines.joined(separator: "\n")
    }
}
