// Shell completion scripts rendered from CommandSpec (bash in Completions+Bash.swift, zsh in
// Completions+Zsh.swift); the committed contrib/completion/ files are `portvisor completion SHELL`.
import Portvisor

/// Completion scripts for `portvisor`.
public enum Completions {
    /// The sed program that prints each service name of `portvisor check --json` (one `"name":`
    /// member per line in its output; only services have one).
    static let serviceNamesSed = #"sed -n 's/^ *"name": *"\([^"]*\)",*$/\1/p'"#

    /// How long completion waits for `portvisor check --json`, in seconds.
    static let checkTimeout = 2

    /// The commands, then the top-level flags.
    static var commandNames: [String] { CommandLineSpec.commands.map(\.name) }

    /// Every option of `command` with `-h`/`--help`, as completions offer them.
    static func optionNames(_ command: CommandSpec) -> [String] {
        command.options.map(\.name) + ["-h", "--help"]
    }

    /// `text` inside single quotes for a shell.
    static func singleQuoted(_ text: String) -> String {
        "'" + text.replacing("'", with: #"'\''"#) + "'"
    }
}
