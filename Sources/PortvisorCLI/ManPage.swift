// portvisor(1) in roff (man(7) macros), rendered from CommandSpec so it cannot drift from
// `--help`. The committed docs/portvisor.1 is `portvisor help --man`; scripts/generate-docs.sh.
import Portvisor

/// The manual page.
public enum ManPage {
    /// The whole page, ending in a newline.
    public static func render() -> String {
        var page = Roff()
        page.comment("portvisor(1), generated from Sources/PortvisorCLI/CommandSpec.swift and the kind registry by 'portvisor help --man'.")
        page.comment("Do not edit: change CommandSpec or ManPage.swift and run scripts/generate-docs.sh.")
        page.macro("TH", "PORTVISOR", "1", "", "portvisor \(CommandLineSpec.version)", "User Commands")
        page.macro("nh")  // no hyphenation: options and paths stay whole
        page.macro("SH", "NAME")
        page.line("portvisor \\- a multi-service TCP and UDP port supervisor")
        synopsis(&page)
        page.macro("SH", "DESCRIPTION")
        page.text(description)
        commands(&page)
        kinds(&page)
        for section in sections {
            page.macro("SH", section.title)
            if let intro = section.intro { page.text(intro) }
            for (term, text) in section.items {
                page.macro("TP")
                page.line(Roff.bold(Roff.escape(term)))
                page.text(text)
            }
        }
        return page.output
    }

    private static func synopsis(_ page: inout Roff) {
        page.macro("SH", "SYNOPSIS")
        for command in CommandLineSpec.commands {
            page.macro("SY", "portvisor")
            page.line(Roff.bold(command.name))
            for argument in command.arguments {
                let name = Roff.italic(Roff.escape(argument.name)) + (argument.repeats ? "\\&...\\&" : "")
                page.line(argument.optional ? "[\(name)]" : name)
            }
            for option in command.options {
                page.line("[\(Roff.bold(Roff.escape(option.name)))\(option.valueName.map { " " + Roff.italic(Roff.escape($0)) } ?? "")]")
            }
            page.macro("YS")
        }
        page.macro("SY", "portvisor")
        page.line("\(Roff.bold(Roff.escape("--help"))) | \(Roff.bold(Roff.escape("--version")))")
        page.macro("YS")
    }

    /// SERVICE KINDS, from the registry (Sources/Portvisor/Services/Kinds.swift).
    private static func kinds(_ page: inout Roff) {
        page.macro("SH", "SERVICE KINDS")
        page.text("""
        A service's kind says what it serves. Every kind takes the common keys \
        (\(CommandLineSpec.commonServiceKeys.joined(separator: ", "))), except that check refuses or \
        warns about those a program kind cannot honour; its own keys follow its description. \
        portvisor help KIND prints the same.
        """)
        for name in KindRegistry.names {
            page.macro("TP")
            page.line(Roff.bold(Roff.escape(name)) + " (" + KindRegistry.transports(of: name).joined(separator: ", ") + ")")
            let keys = KindRegistry.optionKeys(of: name)
            page.text((KindRegistry.summary(of: name) ?? "") + (keys.isEmpty ? "." : ". Keys: " + keys.joined(separator: ", ") + "."))
        }
    }

    private static func commands(_ page: inout Roff) {
        page.macro("SH", "COMMANDS")
        page.text("""
        Every command takes -h or --help. An option's value follows it as the next argument or
        after an equals sign (--config=PATH); -- ends the options.
        """)
        for command in CommandLineSpec.commands {
            page.macro("SS", "portvisor \(command.name)")
            page.text(command.summary)
            if !command.details.isEmpty {
                page.macro("PP")
                page.text(command.details)
            }
            for argument in command.arguments {
                page.macro("TP")
                page.line(Roff.italic(Roff.escape(argument.name)))
                page.text(argument.help)
            }
            for option in command.options {
                page.macro("TP")
                page.line(Roff.bold(Roff.escape(option.name)) + (option.valueName.map { " " + Roff.italic(Roff.escape($0)) } ?? ""))
                page.text(option.help)
            }
        }
    }

    static let description = """
    Portvisor supervises network services declared in a JSON file (services.json): it checks every
    port against the IANA ranges, binds one listener per service, each on its own thread with its own
    epoll event loop, restarts a listener that fails with backoff, and serves an HTTP status endpoint
    with /status (JSON), /healthz and /metrics (Prometheus). The kinds of service are listed under
    SERVICE KINDS.
    The config is --config PATH, else $PORTVISOR_CONFIG, else ./services.json. Tables and JSON go to
    standard output; errors and logs to standard error, one line per event.
    """

    /// The sections after COMMANDS: a title, an optional paragraph, then tagged paragraphs.
    static let sections: [(title: String, intro: String?, items: [(String, String)])] = [
        ("FILES", nil, [
            ("./services.json", "The config used when neither --config nor $PORTVISOR_CONFIG names one."),
            ("/etc/services", "Registered port names, shown by check and in the status endpoint's registeredName."),
            ("/proc/sys/net/ipv4/ip_local_port_range", "The kernel's ephemeral range; check warns about ports inside it."),
            ("/usr/share/zoneinfo", "The tz database behind the daytime service's timeZone."),
            ("/run/portvisor/control.sock, $XDG_RUNTIME_DIR/portvisor/control.sock, /tmp/portvisor-UID/control.sock",
             """
             The control socket run listens on when the config has no "control" key (for root, for a user
             with a runtime directory, else): directory mode 0700, socket mode 0600; only root and the
             supervisor's own user may send commands (SO_PEERCRED). stop, start, restart, reload and kill
             use it, and status and connect fall back on it when services.json is broken.
             """),
        ]),
        ("ENVIRONMENT", nil, [
            ("PORTVISOR_CONFIG", "The config file when --config is not given."),
            ("PORTVISOR_CONTROL", "An absolute path that replaces the default control socket path (for run and the commands)."),
            ("LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES",
             """
             systemd socket activation (run): when LISTEN_PID is this process, a passed socket named like a
             service is adopted as its listener, one named status as the status endpoint's; the passed
             socket wins over the configured address, with a warning when they differ. A socket that
             matches nothing is logged and closed. When an adopted TCP socket stops listening (destroyed
             from outside), a new socket is bound at its address.
             """),
            ("NOTIFY_SOCKET",
             """
             sd_notify (run): READY=1 once every service has started or failed, STATUS= with a summary,
             RELOADING=1 and MONOTONIC_USEC= then READY=1 around a reload, STOPPING=1 at shutdown.
             """),
            ("WATCHDOG_USEC, WATCHDOG_PID",
             "With NOTIFY_SOCKET, run sends WATCHDOG=1 at half the interval while every service thread answers."),
            ("TZ", "The zone of a daytime service whose timeZone is local (else /etc/localtime)."),
        ]),
        ("SIGNALS", "Handled by run:", [
            ("SIGINT, SIGTERM",
             """
             Close every listener at once, let live connections finish for up to 5 s while the status
             endpoint still answers, then exit 0. A second SIGINT or SIGTERM exits at once.
             """),
            ("SIGHUP",
             """
             Reload the config. An invalid file is logged and the running config stays. Unchanged services
             keep their listener, connections and counters; changed ones are rebound; removed ones drain
             for up to 5 s; new ones start.
             """),
            ("SIGUSR1", "Log a one-line summary per service."),
            ("SIGPIPE", "Ignored: a write to a closed socket is an error on that connection only."),
        ]),
        ("EXIT STATUS", nil, [
            ("0", "Success."),
            ("1", "bench: a reply failed verification (an echo differed, or a reply was not one line)."),
            ("2", "bench: connections failed (refused, reset, closed early, timed out) or nothing was measured; stderr says why."),
            ("3", "status: an enabled service is not running."),
            ("64", "Usage error: an unknown command or option, an unknown service name, a value over a cap; bench: a service it cannot measure (UDP, or a kind that does not speak the mode); kill: no live connection from that peer."),
            ("66", "The config file is missing, not a regular file, or unreadable."),
            ("69", "The service, the status endpoint or the control socket cannot be reached (also when the config turns the endpoint off); run: a supervisor already runs this config (its pid is named)."),
            ("70", "Internal error: a thread or descriptor the supervisor needs could not be created; bench's watchdog."),
            ("77", "Permission denied: the control socket refused this user (only root and the supervisor's own user may control it); status: the endpoint wants a token (status.tokenFile) it was not given."),
            ("78", "The config is invalid: empty, over 1 MiB, not JSON, or failing validation."),
        ]),
        ("SEE ALSO",
         """
         inetd(8), xinetd(8), services(5), systemd.service(5), systemd.socket(5), sd_notify(3),
         systemd-socket-activate(1), prometheus(1). In the source tree: README.md,
         docs/configuration.md, docs/status.md, docs/control.md, docs/operations.md.
         """, []),
    ]
}
