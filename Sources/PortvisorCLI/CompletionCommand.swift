// `portvisor completion bash|zsh`: prints the completion script rendered from CommandSpec
// (the committed contrib/completion/ files are this output).
import Portvisor

enum CompletionCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        switch parsed.positionals.first {
        case "bash":
            Output.out(Completions.bash(), newline: false)
        case "zsh":
            Output.out(Completions.zsh(), newline: false)
        default:
            Diagnostics.error("portvisor completion: unknown shell \"\(parsed.positionals.first ?? "")\"; known: bash, zsh")
            Diagnostics.error("usage: \(CommandLineSpec.command(named: "completion")?.usage ?? "portvisor completion SHELL")")
            return ExitCode.usage
        }
        return ExitCode.ok
    }
}
