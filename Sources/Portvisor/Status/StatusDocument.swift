// The bodies the status endpoint serves: `/status` JSON (SPEC §5, keys in the SPEC's order),
// the `/healthz` verdict, and the Prometheus exposition for `/metrics`.

public enum StatusDocument {
    /// The `/status` document, written straight into bytes (no tree in between): one line per
    /// live connection, so it stays readable and costs a few milliseconds for ten thousand.
    public static func encode(_ snapshot: SupervisorSnapshot, environment: PortEnvironment) -> [UInt8] {
        let liveCount = snapshot.services.reduce(0) { $0 + ($1.connections?.count ?? 0) }
        let out = JSONOutput(capacity: 4096 + liveCount * 112)
        out.raw("{\n  ")
        out.key("supervisor")
        out.raw("{ ")
        out.key("pid"); out.int(Int(snapshot.pid))
        out.raw(", "); out.key("version"); out.string(snapshot.version)
        out.raw(", "); out.key("config"); out.string(snapshot.configPath)
        out.raw(", "); out.key("startedAt"); out.string(snapshot.startedAt.rfc3339())
        out.raw(", "); out.key("uptimeSeconds"); out.double((snapshot.uptimeSeconds * 1000).rounded() / 1000)
        out.raw(" },\n  ")
        out.key("services")
        out.raw("[")
        var cache: (second: Int64, prefix: [UInt8]) = (.min, [])
        for (index, service) in snapshot.services.enumerated() {
            out.raw(index == 0 ? "\n    {\n" : ",\n    {\n")
            encode(service, environment: environment, into: out, cache: &cache)
            out.raw("\n    }")
        }
        out.raw(snapshot.services.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return out.bytes
    }

    private static func encode(_ service: ServiceSnapshot, environment: PortEnvironment, into out: JSONOutput,
                               cache: inout (second: Int64, prefix: [UInt8])) {
        let config = service.config
        let report = PortRegistry.report(port: service.port, kind: config.kind.rawValue, udp: config.transport == .udp, in: environment)
        out.raw("      "); out.key("name"); out.string(config.name)
        out.raw(", "); out.key("kind"); out.string(config.kind.rawValue)
        out.raw(", "); out.key("host"); out.string(config.host)
        out.raw(", "); out.key("port"); out.int(service.port)
        out.raw(",\n      "); out.key("range"); out.string(report.range.rawValue)
        out.raw(", "); out.key("registeredName"); out.optionalString(report.registeredName)
        out.raw(", "); out.key("state"); out.string(service.state.rawValue)
        out.raw(", "); out.key("restarts"); out.int(service.restarts)
        out.raw(", "); out.key("lastError"); out.optionalString(service.lastError)
        out.raw(",\n      "); out.key("connections")
        out.raw("{ "); out.key("live"); out.int(service.live)
        out.raw(", "); out.key("total"); out.int(service.total)
        out.raw(", "); out.key("rejected"); out.int(service.rejected)
        out.raw(", "); out.key("refused"); out.int(service.refused)
        out.raw(" },\n      "); out.key("bytes")
        out.raw("{ "); out.key("in"); out.int(service.bytesIn)
        out.raw(", "); out.key("out"); out.int(service.bytesOut)
        out.raw(" },\n      "); out.key("live")
        let connections = service.connections ?? []
        out.raw(connections.isEmpty ? "[]" : "[")
        for (index, connection) in connections.enumerated() {
            out.raw(index == 0 ? "\n        { " : ",\n        { ")
            out.key("peer"); out.address(connection.peer)
            out.raw(", "); out.key("since"); out.timestamp(connection.since, cache: &cache)
            out.raw(", "); out.key("bytesIn"); out.int(connection.bytesIn)
            out.raw(", "); out.key("bytesOut"); out.int(connection.bytesOut)
            out.raw(" }")
        }
        if !connections.isEmpty { out.raw("\n      ]") }
        if config.transport == .udp {
            out.raw(",\n      "); out.key("datagrams")
            out.raw("{ "); out.key("in"); out.int(service.datagrams.received)
            out.raw(", "); out.key("out"); out.int(service.datagrams.sent)
            out.raw(", "); out.key("dropped"); out.int(service.datagrams.dropped)
            out.raw(" }")
        }
        if config.kind == .sentence {
            out.raw(",\n      "); out.key("sentences")
            out.raw("{ "); out.key("acknowledged"); out.int(service.acknowledged)
            out.raw(", "); out.key("unacknowledged"); out.int(service.unacknowledged)
            out.raw(" }")
        }
        out.raw(",\n      "); out.key("timeouts")
        out.raw("{ "); out.key("idle"); out.int(service.timeouts.idle)
        out.raw(", "); out.key("write"); out.int(service.timeouts.write)
        out.raw(", "); out.key("ack"); out.int(service.timeouts.ack)
        out.raw(" },\n      "); out.key("protocol"); out.string(config.transport.rawValue)
        out.raw(", "); out.key("enabled"); out.bool(config.enabled)
    }

    /// `/healthz`: healthy when every enabled service is running; otherwise the others, named.
    public static func health(_ snapshot: SupervisorSnapshot) -> (healthy: Bool, text: String) {
        let unhealthy = snapshot.services.filter { $0.config.enabled && $0.state != .running }
        if unhealthy.isEmpty { return (true, "ok\n") }
        let names = unhealthy.map { "\($0.config.name) (\($0.state.rawValue))" }
        return (false, "not running: \(names.joined(separator: ", "))\n")
    }
}

/// The Prometheus text exposition format, version 0.0.4.
public enum MetricsDocument {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func text(_ snapshot: SupervisorSnapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        let services = snapshot.services
        func perService(_ value: (ServiceSnapshot) -> Int) -> [(labels: String, value: String)] {
            services.map { (labels(["service": $0.config.name]), String(value($0))) }
        }
        family("portvisor_build_info", "gauge", "Portvisor's version; always 1.",
               [(labels(["version": snapshot.version]), "1")])
        family("portvisor_start_time_seconds", "gauge", "When the supervisor started, in seconds since the epoch.",
               [("", JSONNumber(snapshot.startedAt.timeIntervalRounded).text)])
        family("portvisor_service_info", "gauge", "A declared service: kind, address and port range; always 1.",
               services.map { service in
                   (labels(["service": service.config.name, "kind": service.config.kind.rawValue, "protocol": service.config.transport.rawValue,
                            "host": service.config.host, "port": String(service.port), "range": PortRange.classify(service.port).rawValue,
                            "enabled": service.config.enabled ? "true" : "false"]), "1")
               })
        family("portvisor_up", "gauge", "1 when the service's listener is running, else 0.",
               perService { $0.state == .running ? 1 : 0 })
        family("portvisor_service_state", "gauge", "The service's state: 1 for the current one.",
               services.flatMap { service in
                   [ServiceState.starting, .running, .backoff, .failed, .stopped].map { state in
                       (labels(["service": service.config.name, "state": state.rawValue]), service.state == state ? "1" : "0")
                   }
               })
        family("portvisor_connections_live", "gauge", "Connections open now.", perService(\.live))
        family("portvisor_connections_total", "counter", "Connections accepted and served.", perService(\.total))
        family("portvisor_connections_rejected_total", "counter", "Connections closed at once because maxConnections were open.",
               perService(\.rejected))
        family("portvisor_connections_refused_total", "counter",
               "Connections closed at once by allow/deny, maxConnectionsPerSource or maxConnectionRatePerSource.", perService(\.refused))
        family("portvisor_connection_timeouts_total", "counter", "Connections closed by a deadline: idleTimeout, writeTimeout or ackTimeout.",
               services.flatMap { service in
                   [("idle", service.timeouts.idle), ("write", service.timeouts.write), ("ack", service.timeouts.ack)].map { reason, count in
                       (labels(["service": service.config.name, "reason": reason]), String(count))
                   }
               })
        family("portvisor_received_bytes_total", "counter", "Bytes read from clients.", perService(\.bytesIn))
        family("portvisor_sent_bytes_total", "counter", "Bytes written to clients.", perService(\.bytesOut))
        family("portvisor_restarts_total", "counter", "Listener rebind attempts after the first bind.", perService(\.restarts))
        let udp = services.filter { $0.config.transport == .udp }
        family("portvisor_datagrams_received_total", "counter", "UDP datagrams received.",
               udp.map { (labels(["service": $0.config.name]), String($0.datagrams.received)) })
        family("portvisor_datagrams_sent_total", "counter", "UDP datagrams answered.",
               udp.map { (labels(["service": $0.config.name]), String($0.datagrams.sent)) })
        family("portvisor_datagrams_dropped_total", "counter",
               "UDP datagrams not answered: refused or looping sources, over the per-source rate, or a full send buffer.",
               udp.map { (labels(["service": $0.config.name]), String($0.datagrams.dropped)) })
        let sentences = services.filter { $0.config.kind == .sentence }
        family("portvisor_sentences_acknowledged_total", "counter", "Sentence connections that sent their acknowledgement line.",
               sentences.map { (labels(["service": $0.config.name]), String($0.acknowledged)) })
        family("portvisor_sentences_unacknowledged_total", "counter", "Sentence connections closed without an acknowledgement.",
               sentences.map { (labels(["service": $0.config.name]), String($0.unacknowledged)) })
        return out
    }

    /// `{a="x",b="y"}` with values escaped (backslash, quote, newline).
    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        let inner = pairs.map { key, value -> String in
            var escaped = ""
            for character in value {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.append(character)
                }
            }
            return "\(key)=\"\(escaped)\""
        }
        return "{" + inner.joined(separator: ",") + "}"
    }
}

extension WallTime {
    /// Seconds since the epoch, to the millisecond.
    var timeIntervalRounded: Double { (timeInterval * 1000).rounded() / 1000 }
}
