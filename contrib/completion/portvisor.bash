# bash completion for portvisor(1), generated from CommandSpec by 'portvisor completion bash'.
# Install as /usr/share/bash-completion/completions/portvisor, or: source <(portvisor completion bash)

# The service names of the config in effect: --config on the line, else portvisor's default.
_portvisor_service_names() {
    local i config=()
    for ((i = 2; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --config) config=(--config "${COMP_WORDS[i + 1]}") ;;
        esac
    done
    timeout 2 "${COMP_WORDS[0]}" check --json "${config[@]}" 2>/dev/null | sed -n 's/^ *"name": *"\([^"]*\)",*$/\1/p'
}

_portvisor_reply() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }
_portvisor_files() { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur"); }
_portvisor_services() { _portvisor_reply "$(_portvisor_service_names)"; }

_portvisor() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    # bash splits --option=value at '=': complete the value after it
    if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]]; then prev=${COMP_WORDS[COMP_CWORD - 2]}; fi
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        _portvisor_reply 'run check status stop start restart reload kill connect bench completion help -h --help -V --version'
        return
    fi
    local command=${COMP_WORDS[1]} options= values=
    case $command in
        run)
            case $prev in
                --config) _portvisor_files; return ;;
                --log-level) _portvisor_reply 'debug info warning error'; return ;;
                --log-format) _portvisor_reply 'text json'; return ;;
            esac
            options='--config --log-level --log-format -h --help'
            values='--config --log-level --log-format'
            ;;
        check)
            case $prev in
                --config) _portvisor_files; return ;;
            esac
            options='--config --json -h --help'
            values='--config'
            ;;
        status)
            case $prev in
                --config) _portvisor_files; return ;;
                --status) return ;;
            esac
            options='--config --status --json -h --help'
            values='--config --status'
            ;;
        stop)
            case $prev in
                --config) _portvisor_files; return ;;
                --control) _portvisor_files; return ;;
            esac
            options='--config --control --json -h --help'
            values='--config --control'
            ;;
        start)
            case $prev in
                --config) _portvisor_files; return ;;
                --control) _portvisor_files; return ;;
            esac
            options='--config --control --json -h --help'
            values='--config --control'
            ;;
        restart)
            case $prev in
                --config) _portvisor_files; return ;;
                --control) _portvisor_files; return ;;
            esac
            options='--config --control --json -h --help'
            values='--config --control'
            ;;
        reload)
            case $prev in
                --config) _portvisor_files; return ;;
                --control) _portvisor_files; return ;;
            esac
            options='--dry-run --config --control --json -h --help'
            values='--config --control'
            ;;
        kill)
            case $prev in
                --config) _portvisor_files; return ;;
                --control) _portvisor_files; return ;;
            esac
            options='--config --control --json -h --help'
            values='--config --control'
            ;;
        connect)
            case $prev in
                --config) _portvisor_files; return ;;
                --timeout) return ;;
            esac
            options='--config --timeout -h --help'
            values='--config --timeout'
            ;;
        bench)
            case $prev in
                --host) return ;;
                --port) return ;;
                --service) _portvisor_services; return ;;
                --config) _portvisor_files; return ;;
                --connections) return ;;
                --size) return ;;
                --duration) return ;;
                --warmup) return ;;
                --threads) return ;;
                --timeout) return ;;
                --ack) return ;;
                --pid) return ;;
            esac
            options='--host --port --service --config --connections --size --duration --warmup --threads --timeout --ack --pid --json -h --help'
            values='--host --port --service --config --connections --size --duration --warmup --threads --timeout --ack --pid'
            ;;
        completion)
            options='-h --help'
            ;;
        help)
            options='--man -h --help'
            ;;
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        _portvisor_reply "$options"
        return
    fi
    # which positional argument is being completed
    local i word position=0 skip=
    for ((i = 2; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -n $skip ]]; then skip=; continue; fi
        if [[ $word == = ]]; then skip=1; continue; fi  # the value of --option=value
        case $word in
            -*) [[ " $values " == *" $word "* && ${COMP_WORDS[i + 1]} != = ]] && skip=1 ;;
            *) position=$((position + 1)) ;;
        esac
    done
    case $command:$position in
        stop:*) _portvisor_services ;;
        start:*) _portvisor_services ;;
        restart:*) _portvisor_services ;;
        kill:0) _portvisor_services ;;
        connect:0) _portvisor_services ;;
        bench:0) _portvisor_reply 'rr stream connect sentence idle' ;;
        completion:0) _portvisor_reply 'bash zsh' ;;
        help:0) _portvisor_reply 'run check status stop start restart reload kill connect bench completion help daytime echo sentence discard chargen time qotd exec daemon proxy' ;;
    esac
}

complete -F _portvisor portvisor
