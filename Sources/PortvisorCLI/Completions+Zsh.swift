// The zsh completion script (#compdef, _arguments): commands with their summaries, each
// command's options with their help, fixed choices, files for PATH, service names from the config.
import Portvisor

extension Completions {
    /// The script for zsh, to install as `_portvisor` on $fpath; ends in a newline.
    public static func zsh() -> String {
        var lines = [
            "#compdef portvisor",
            "# zsh completion for portvisor(1), generated from CommandSpec by 'portvisor completion zsh'.",
            "# Install as _portvisor in a directory on $fpath, or: source <(portvisor completion zsh)",
            "",
            "# The service names of the config in effect: --config on the line, else portvisor's default.",
            "_portvisor_services() {",
            "  local -a config names",
            "  local i",
            "  for ((i = 2; i < CURRENT; i++)); do",
            "    case $words[i] in",
            "      (--config) config=(--config ${(Q)words[i+1]}) ;;",
            "      (--config=*) config=(--config ${(Q)words[i]#--config=}) ;;",
            "    esac",
            "  done",
            "  names=(${(f)\"$(_call_program services timeout \(checkTimeout) ${(q)_portvisor_program} check --json ${(q)config} 2>/dev/null | \(serviceNamesSed))\"})",
            "  _describe -t services 'service' names",
            "}",
            "",
            "_portvisor_commands() {",
            "  local -a commands=(",
        ]
        for command in CommandLineSpec.commands {
            lines.append("    \(Completions.singleQuoted(command.name + ":" + command.summary))")
        }
        lines += [
            "  )",
            "  _describe -t commands 'portvisor command' commands",
            "}",
            "",
            "_portvisor() {",
            "  local _portvisor_program=$words[1]",
            "  local curcontext=$curcontext state line ret=1",
            "  typeset -A opt_args",
            "  _arguments -C \\",
            "    '(- *)'{-h,--help}'[show the help]' \\",
            "    '(- *)'{-V,--version}'[print the version]' \\",
            "    '1:command:_portvisor_commands' \\",
            "    '*::argument:->argument' && ret=0",
            "  [[ $state == argument ]] || return ret",
            "  curcontext=${curcontext%:*:*}:portvisor-$words[1]:",
            "  case $words[1] in",
        ]
        for command in CommandLineSpec.commands {
            lines.append("    (\(command.name))")
            var specs: [String] = []
            for (index, argument) in command.arguments.enumerated() {
                let colons = argument.optional ? "::" : ":"
                let position = argument.repeats ? "*" : String(index + 1)
                specs.append(Completions.singleQuoted("\(position)\(colons)\(message(argument.name)):\(action(argument.completion))"))
            }
            for option in command.options {
                let value = option.valueName.map { ":\(message($0)):\(action(option.completion))" } ?? ""
                let name = option.valueName == nil ? option.name : option.name + "="
                specs.append(Completions.singleQuoted("\(name)[\(description(option.help))]\(value)"))
            }
            specs.append("'(- *)'{-h,--help}'[show this help]'")
            lines.append("      _arguments -S \\")
            for spec in specs.dropLast() { lines.append("        \(spec) \\") }
            lines.append("        \(specs.last!) && ret=0")
            lines.append("      ;;")
        }
        lines += [
            "  esac",
            "  return ret",
            "}",
            "",
            "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
            "  _portvisor \"$@\"",
            "else",
            "  compdef _portvisor portvisor",
            "fi",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// An `_arguments` action for a value.
    private static func action(_ completion: ValueCompletion) -> String {
        switch completion {
        case .none: return " "
        case .file: return "_files"
        case .service: return "_portvisor_services"
        case .command: return "_portvisor_commands"
        case .commandOrKind: return "_alternative 'commands\\:command\\:_portvisor_commands' 'kinds\\:service kind\\:(\(KindRegistry.names.joined(separator: " ")))'"
        case .choices(let choices): return "(" + choices.joined(separator: " ") + ")"
        }
    }

    /// The message between colons in an `_arguments` spec (a colon there must be escaped).
    private static func message(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing(":", with: "\\:")
    }

    /// The description between brackets in an `_arguments` spec.
    private static func description(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("[", with: "\\[").replacing("]", with: "\\]")
    }
}
