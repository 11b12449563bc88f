// `portvisor run`: supervise in the foreground until SIGINT/SIGTERM; SIGHUP reloads the
// config; SIGUSR1 logs a summary. Signals are read from a signalfd on the main thread.
import Portvisor
import Foundation
import Glibc

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
        let stopped: EventFD
        do {
            // Before any thread starts, so every thread inherits the mask; and before any
            // service runs, so running out of descriptors later cannot stop us stopping.
            signals = try SignalReceiver([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2])
            stopped = try EventFD()
        } catch {
            logger.error("supervisor", event: "failed", "cannot set up signals: \(error)")
            return ExitCode.software
        }
        let enabled = config.services.filter(\.enabled).count
        logger.info("supervisor", event: "starting",
                    "portvisor \(CommandLineSpec.version) (pid \(getpid())) starting \(enabled) of \(config.services.count) services from \(ConfigLoader.absolutePath(config.path))")
        logPortWarnings(config, logger: logger)
        let environment = ProcessInfo.processInfo.environment
        let activated = ActivatedSockets.fromEnvironment(environment)
        let systemd = SystemdHooks(environment: environment, logger: logger)
        let supervisor = Supervisor(config: config, logger: logger, activated: activated)
        do {
            try supervisor.start()
        } catch {
            logger.error("supervisor", event: "failed", "cannot start: \(error)")
            return ExitCode.software
        }
        Output.out(startupTable(supervisor.snapshot(connections: false)))
        systemd.notifier?.send(["READY=1", "STATUS=\(supervisor.summaryLine())"])
        return superviseUntilStopped(supervisor, signals: signals, stopped: stopped, configPath: config.path, logger: logger, systemd: systemd)
    }

    /// The main loop: handles signals until the supervisor has stopped (`stopped` is signalled),
    /// and pings the systemd watchdog while every service thread answers.
    static func superviseUntilStopped(_ supervisor: Supervisor, signals: SignalReceiver, stopped: EventFD,
                                      configPath: String, logger: Logger, systemd: SystemdHooks) -> Int32 {
        var stopping = false
        var nextPing = Clock.monotonic()
        while true {
            var timeout: Int32 = -1
            if let interval = systemd.watchdogNanos {
                let now = Clock.monotonic()
                if now >= nextPing {
                    if stopping || supervisor.workersResponsive(timeout: Double(interval) / 4e9) {
                        systemd.notifier?.send(["WATCHDOG=1"])
                    } else {
                        logger.warning("supervisor", event: "watchdog", "a service thread did not answer; not pinging the systemd watchdog")
                    }
                    nextPing = Clock.monotonic() + interval / 2
                }
                timeout = Int32(max(1, (nextPing - Clock.monotonic()) / 1_000_000))
            }
            let ready = signals.wait(also: [stopped.fd], timeoutMillis: timeout)
            if ready.contains(stopped.fd) {
                logger.info("supervisor", event: "stopped", "stopped")
                return ExitCode.ok
            }
            while let signal = signals.next() {
                switch signal {
                case SIGINT, SIGTERM:
                    if stopping {
                        logger.warning("supervisor", event: "stop-forced", "\(SignalReceiver.name(signal)) again: exiting without waiting for the drain")
                        return ExitCode.ok
                    }
                    stopping = true
                    systemd.notifier?.send(["STOPPING=1", "STATUS=stopping: draining connections"])
                    logger.info("supervisor", event: "stopping",
                                "\(SignalReceiver.name(signal)) received: closing listeners, draining connections for up to \(formatSeconds(Supervisor.drainSeconds))")
                    do {
                        try LoopThread.start(name: "pv-stop") {
                            supervisor.stop()
                            stopped.signal()
                        }
                    } catch {
                        supervisor.stop()
                        return ExitCode.ok
                    }
                case SIGHUP:
                    guard !stopping else { continue }
                    systemd.notifier?.send(["RELOADING=1", "MONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())"])
                    reload(supervisor, path: configPath, logger: logger)
                    systemd.notifier?.send(["READY=1", "STATUS=\(supervisor.summaryLine())"])
                case SIGUSR1:
                    for line in summary(supervisor.snapshot(connections: false)) {
                        logger.info("supervisor", event: "summary", line)
                    }
                default:
                    logger.debug("supervisor", event: "signal", "\(SignalReceiver.name(signal)) ignored")
                }
            }
        }
    }

    /// What systemd asked for through the environment.
    struct SystemdHooks {
        let notifier: SystemdNotifier?
        /// The watchdog interval, when WATCHDOG_USEC applies to this process.
        let watchdogNanos: MonotonicNanos?

        init(environment: [String: String], logger: Logger) {
            notifier = SystemdNotifier(environment: environment)
            watchdogNanos = SystemdNotifier.watchdogInterval(environment).map { MonotonicNanos($0) * 1000 }
            if let watchdogNanos {
                logger.info("supervisor", event: "watchdog", "systemd watchdog every \(formatSeconds(Double(watchdogNanos) / 1e9)); pinging at half that")
            }
        }
    }

    static func reload(_ supervisor: Supervisor, path: String, logger: Logger) {
        logger.info("supervisor", event: "reloading", "SIGHUP received: reloading \(path)")
        do {
            let config = try ConfigLoader.load(path: path)
            logPortWarnings(config, logger: logger)
            let summary = supervisor.reload(config)
            logger.info("supervisor", event: "reloaded", "reloaded: \(summary)")
        } catch {
            for line in error.lines {
                logger.error("supervisor", event: "reload-failed", "reload rejected, keeping the running config: \(line)")
            }
        }
    }

    static func logPortWarnings(_ config: PortvisorConfig, logger: Logger) {
        let environment = PortEnvironment.current()
        for service in config.services where service.enabled {
            for warning in PortRegistry.report(port: service.port, kind: service.kind.rawValue, udp: service.transport == .udp, in: environment).warnings {
                logger.warning(service.name, event: "port-warning", warning)
            }
        }
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

    /// One line per service for SIGUSR1.
    static func summary(_ snapshot: SupervisorSnapshot) -> [String] {
        snapshot.services.map { service in
            "\(service.config.name): \(service.state.rawValue) on \(Address.display(host: service.config.host, port: service.port)), "
                + "\(service.live) live, \(service.total) total, \(service.rejected) rejected, \(service.restarts) restarts"
        }
    }
}
