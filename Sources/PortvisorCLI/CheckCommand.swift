// `portvisor check`: validate the config and print what Portvisor would bind, with warnings.
import Portvisor

enum CheckCommand {
    static func run(_ parsed: ParsedArguments) -> Int32 {
        let config: PortvisorConfig
        switch PortvisorCLI.loadConfig(parsed) {
        case .success(let loaded): config = loaded
        case .failure(let error): return error.exitCode
        }
        let environment = PortEnvironment.current()
        let reports = config.services.enumerated().map { index, service in
            var report = PortRegistry.report(port: service.port, kind: service.kind.rawValue, udp: service.transport == .udp, in: environment)
            report.warnings += config.warnings(forService: index)
            return report
        }
        if parsed.has("--json") {
            Output.out(JSONWriter.pretty(json(config, reports: reports)))
        } else {
            Output.out(table(config, reports: reports))
        }
        return ExitCode.ok
    }

    /// The `check --json` document of SPEC §6.
    static func json(_ config: PortvisorConfig, reports: [PortReport]) -> JSONValue {
        let services: [JSONValue] = zip(config.services, reports).map { service, report in
            .fields([
                "name": .string(service.name),
                "kind": .string(service.kind.rawValue),
                "host": .string(service.host),
                "port": .int(service.port),
                "protocol": .string(service.transport.rawValue),
                "range": .string(report.range.rawValue),
                "registeredName": .optionalString(report.registeredName),
                "enabled": .bool(service.enabled),
                "warnings": .array(report.warnings.map { .string($0) }),
            ])
        }
        let status: JSONValue = config.status.map { .fields(["host": .string($0.host), "port": .int($0.port)]) } ?? .null
        return .fields([
            "config": .string(ConfigLoader.absolutePath(config.path)),
            "status": status,
            "services": .array(services),
        ])
    }

    static func table(_ config: PortvisorConfig, reports: [PortReport]) -> String {
        var table = TextTable(["name", "kind", "address", "range", "registered", "notes"].map { $0.uppercased() })
        var warnings: [String] = []
        for (service, report) in zip(config.services, reports) {
            var notes: [String] = []
            if !service.enabled { notes.append("disabled") }
            if service.port == 0 { notes.append("kernel picks the port") }
            if !report.warnings.isEmpty {
                notes.append(report.warnings.count == 1 ? "1 warning" : "\(report.warnings.count) warnings")
                warnings += report.warnings.map { "warning: \(service.name): \($0)" }
            }
            table.add([service.name, service.kind.rawValue, Address.display(host: service.host, port: service.port, transport: service.transport),
                       report.range.rawValue, report.registeredName ?? "-", notes.isEmpty ? "-" : notes.joined(separator: ", ")])
        }
        let enabled = config.services.filter(\.enabled).count
        let status = config.status.map { "status endpoint on \(Address.display(host: $0.host, port: $0.port))" } ?? "status endpoint off"
        // The path comes from argv and the warnings from system files: escaped like the table's cells.
        var lines = [TextSanitizer.escaped("\(config.path): valid, \(config.services.count) service\(config.services.count == 1 ? "" : "s") (\(enabled) enabled), \(status)"), ""]
        lines.append(table.render())
        if !warnings.isEmpty { lines += [""] + warnings.map(TextSanitizer.escaped) }
        return lines.joined(separator: "\n")
    }
}
