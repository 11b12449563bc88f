// The bash completion script: commands, each command's options, fixed choices, file names for
// PATH values and service names read from the config with `portvisor check --json`.
import Portvisor

extension Completions {
    /// The script for bash (`complete -F _portvisor portvisor`), ending in a newline.
    public static func bash() -> String {
        var lines = [
            "# bash completion for portvisor(1), generated from CommandSpec by 'portvisor completion bash'.",
            "# Install as /usr/share/bash-completion/completions/portvisor, or: source <(portvisor completion bash)",
            "",
            "# The service names of the config in effect: --config on the line, else portvisor's default.",
            "_portvisor_service_names() {",
            "    local i config=()",
            "    for ((i = 2; i < COMP_CWORD; i++)); do",
            "        case ${COMP_WORDS[i]} in",
            "            --config) config=(--config \"${COMP_WORDS[i + 1]}\") ;;",
            "        esac",
            "    done",
            "    timeout \(checkTimeout) \"${COMP_WORDS[0]}\" check --json \"${config[@]}\" 2>/dev/null | \(serviceNamesSed)",
            "}",
            "",
            "_portvisor_reply() { mapfile -t COMPREPLY < <(compgen -W \"$1\" -- \"$cur\"); }",
            "_portvisor_files() { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); }",
            "_portvisor_services() { _portvisor_reply \"$(_portvisor_service_names)\"; }",
            "",
            "_portvisor() {",
            "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}",
            "    # bash splits --option=value at '=': complete the value after it",
            "    if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]]; then prev=${COMP_WORDS[COMP_CWORD - 2]}; fi",
            "    COMPREPLY=()",
            "    if ((COMP_CWORD == 1)); then",
            "        _portvisor_reply \(singleQuoted((commandNames + ["-h", "--help", "-V", "--version"]).joined(separator: " ")))",
            "        return",
            "    fi",
            "    local command=${COMP_WORDS[1]} options= values=",
            "    case $command in",
        ]
        for command in CommandLineSpec.commands {
            lines.append("        \(command.name))")
            let valued = command.options.filter { $0.valueName != nil }
            if !valued.isEmpty {
                lines.append("            case $prev in")
                for option in valued {
                    let fill = option.completion == .none ? "" : action(option.completion) + "; "
                    lines.append("                \(option.name)) \(fill)return ;;")
                }
                lines.append("            esac")
            }
            lines.append("            options=\(singleQuoted(optionNames(command).joined(separator: " ")))")
            if !valued.isEmpty { lines.append("            values=\(singleQuoted(valued.map(\.name).joined(separator: " ")))") }
            lines.append("            ;;")
        }
        lines += [
            "        *) return ;;",
            "    esac",
            "    if [[ $cur == -* ]]; then",
            "        _portvisor_reply \"$options\"",
            "        return",
            "    fi",
            "    # which positional argument is being completed",
            "    local i word position=0 skip=",
            "    for ((i = 2; i < COMP_CWORD; i++)); do",
            "        word=${COMP_WORDS[i]}",
            "        if [[ -n $skip ]]; then skip=; continue; fi",
            "        if [[ $word == = ]]; then skip=1; continue; fi  # the value of --option=value",
            "        case $word in",
            "            -*) [[ \" $values \" == *\" $word \"* && ${COMP_WORDS[i + 1]} != = ]] && skip=1 ;;",
            "            *) position=$((position + 1)) ;;",
            "        esac",
            "    done",
            "    case $command:$position in",
        ]
        for command in CommandLineSpec.commands {
            for (index, argument) in command.arguments.enumerated() where argument.completion != .none {
                // A repeated last argument (SERVICE...) completes at every position from its own.
                let position = argument.repeats ? "*" : String(index)
                lines.append("        \(command.name):\(position)) \(action(argument.completion)) ;;")
            }
        }
        lines += [
            "    esac",
            "}",
            "",
            "complete -F _portvisor portvisor",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The bash statement that fills COMPREPLY for a value.
    private static func action(_ completion: ValueCompletion) -> String {
        switch completion {
        case .none: return ":"
        case .file: return "_portvisor_files"
        case .service: return "_portvisor_services"
        case .command: return "_portvisor_reply \(singleQuoted(commandNames.joined(separator: " ")))"
        case .commandOrKind: return "_portvisor_reply \(singleQuoted((commandNames + KindRegistry.names).joined(separator: " ")))"
        case .choices(let choices): return "_portvisor_reply \(singleQuoted(choices.joined(separator: " ")))"
        }
    }
}
