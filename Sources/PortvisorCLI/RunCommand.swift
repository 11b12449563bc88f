// `portvisor run`: supervise in the foreground until SIGINT/SIGTERM; SIGHUP reloads the
// config; SIGUSR1 logs a summary. The supervisor's loop runs on the main thread and reads the
// signals from a signalfd (Supervisor/SupervisorLoop.swift); this file only sets it up.
import Portvisor

enum RunCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        let level = parsed.value("--log-level").flatMap(LogLevel.init(name:)) ?? .info
        let format = parsed.value("--log-format").flatMap(LogFormat.init(rawValue:)) ?? .text
        let logger = Logger(level: level, format: format)
        let config: PortvisorConfig
        switch PortvisorCLI.loadConfig(parsed) {
        case .success(let loaded): config = loaded
        case .failure(let error): return error.exitCode
        }
        let signals: SignalReceiver
        do {
            // Before any thread starts, so every thread inherits the mask; and before any
            // service runs, so running out of descriptors later cannot stop us stopping.
            signals = try SignalReceiver([Signals.SIGINT, Signals.SIGTERM, Signals.SIGHUP, Signals.SIGUSR1, Signals.SIGUSR2, Signals.SIGCHLD])
        } catch {
            logger.error("supervisor", event: "failed", "cannot set up signals: \(error)")
            return ExitCode.software
        }
        // One supervisor per config: another running this file answers on the control socket
        // or the status endpoint, and this one would only back off on ports it can never get.
        var control: ClaimedControlSocket?
        if let path = ControlSocket.path(for: config.control) {
            switch ControlSocket.claim(path) {
            case .claimed(let socket):
                control = socket
            case .taken(let other):
                if other.config == ConfigLoader.absolutePath(config.path) {
                    Diagnostics.error("portvisor run: a supervisor (pid \(other.pid)) is already running \(other.config); use portvisor reload, or stop it first")
                    return ExitCode.unavailable
                }
                logger.warning("supervisor", event: "control-taken",
                               "the control socket \(path) belongs to the supervisor of \(other.config) (pid \(other.pid)); running without control (set \"control\" to another path)")
            case .unusable(let reason):
                logger.warning("supervisor", event: "control-unusable", "control socket: \(reason); running without control")
            }
        }
        if let other = supervisorOnStatusEndpoint(config), other.config == ConfigLoader.absolutePath(config.path) {
            if let control { ControlSocket.release(control) }
            Diagnostics.error("portvisor run: a supervisor (pid \(other.pid)) is already running \(other.config) (its status endpoint answers); use portvisor reload, or stop it first")
            return ExitCode.unavailable
        }
        let enabled = config.services.filter(\.enabled).count
        logger.info("supervisor", event: "starting",
                    "portvisor \(Release.version) (pid \(ProcessEnvironment.processID)) starting \(enabled) of \(config.services.count) services from \(ConfigLoader.absolutePath(config.path))")
        let environment = ProcessEnvironment.current()
        let activated = ActivatedSockets.fromEnvironment(environment)
        let watchdog = SystemdNotifier.watchdog(environment)
        if let warning = watchdog.warning { logger.warning("supervisor", event: "watchdog", warning) }
        let systemd = SystemdHooks(notifier: SystemdNotifier(environment: environment), watchdogNanos: watchdog.nanos)
        do {
            let supervisor: Supervisor
            do {
                supervisor = try Supervisor(config: config, logger: logger, activated: activated, ownsProcess: true, control: control)
            } catch {
                if let control { ControlSocket.release(control) }
                throw error
            }
            try supervisor.run(signals: signals, systemd: systemd, onReady: {
                Output.out(startupTable(supervisor.snapshot(connections: false)))
            })
        } catch {
            logger.error("supervisor", event: "failed", "cannot start: \(error)")
            return ExitCode.software
        }
        return ExitCode.ok
    }

    /// Who answers on the config's status endpoint, when it is a Portvisor (its pid and config).
    static func supervisorOnStatusEndpoint(_ config: PortvisorConfig) -> (pid: Int, config: String)? {
        guard let status = config.status, status.port != 0 else { return nil }
        let address = SocketAddress(ip: StatusCommand.loopbackIfWildcard(status.address), port: UInt16(status.port))
        guard let reply = try? HTTPClient.get("/status", from: address, timeout: 1, token: status.token), reply.status == 200,
              let document = try? JSONParser.parse(reply.body), case .string(let path)? = document["supervisor"]?["config"],
              case .number(let pid)? = document["supervisor"]?["pid"], let number = pid.integer else { return nil }
        return (number, path)
    }

    /// The table `run` prints once every service has tried its first bind.
    static func startupTable(_ snapshot: SupervisorSnapshot) -> String {
        var table = TextTable(["SERVICE", "KIND", "ADDRESS", "RANGE", "STATE", "NOTE"])
        for service in snapshot.services {
            table.add([service.config.name, service.config.kind.rawValue,
                       Address.display(host: service.config.host, port: service.port, transport: service.config.transport),
                       PortRange.classify(service.port).rawValue, service.state.rawValue, service.lastError ?? ""])
        }
        return table.render()
    }
}
