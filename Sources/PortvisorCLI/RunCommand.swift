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
        let enabled = config.services.filter(\.enabled).count
        logger.info("supervisor", event: "starting",
                    "portvisor \(Release.version) (pid \(ProcessEnvironment.processID)) starting \(enabled) of \(config.services.count) services from \(ConfigLoader.absolutePath(config.path))")
        let environment = ProcessEnvironment.current()
        let activated = ActivatedSockets.fromEnvironment(environment)
        let watchdog = SystemdNotifier.watchdog(environment)
        if let warning = watchdog.warning { logger.warning("supervisor", event: "watchdog", warning) }
        let systemd = SystemdHooks(notifier: SystemdNotifier(environment: environment), watchdogNanos: watchdog.nanos)
        do {
            let supervisor = try Supervisor(config: config, logger: logger, activated: activated, ownsProcess: true)
            try supervisor.run(signals: signals, systemd: systemd, onReady: {
                Output.out(startupTable(supervisor.snapshot(connections: false)))
            })
        } catch {
            logger.error("supervisor", event: "failed", "cannot start: \(error)")
            return ExitCode.software
        }
        return ExitCode.ok
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
