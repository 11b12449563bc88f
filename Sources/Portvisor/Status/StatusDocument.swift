// The bodies the status endpoint serves: `/status` JSON (SPEC §5, keys in the SPEC's order),
// the `/healthz` verdict, and the Prometheus exposition for `/metrics`.

public enum StatusDocument {
    /// The `/status` document.
    public static func json(_ snapshot: SupervisorSnapshot, environment: PortEnvironment) -> JSONValue {
        .fields([
            "supervisor": .fields([
                "pid": .int(Int(snapshot.pid)),
                "version": .string(snapshot.version),
                "config": .string(snapshot.configPath),
                "startedAt": .string(snapshot.startedAt.rfc3339()),
                "uptimeSeconds": .double((snapshot.uptimeSeconds * 1000).rounded() / 1000),
            ]),
            "services": .array(snapshot.services.map { service(($0), environment: environment) }),
        ])
    }

    static func service(_ service: ServiceSnapshot, environment: PortEnvironment) -> JSONValue {
        let config = service.config
        let report = PortRegistry.report(port: service.port, kind: config.kind.rawValue, udp: config.transport == .udp, in: environment)
        var members: [JSONMember] = [
            JSONMember("name", .string(config.name)),
            JSONMember("kind", .string(config.kind.rawValue)),
            JSONMember("host", .string(config.host)),
            JSONMember("port", .int(service.port)),
            JSONMember("range", .string(report.range.rawValue)),
            JSONMember("registeredName", .optionalString(report.registeredName)),
            JSONMember("state", .string(service.state.rawValue)),
            JSONMember("restarts", .int(service.restarts)),
            JSONMember("lastError", .optionalString(service.lastError)),
            JSONMember("connections", .fields(["live": .int(service.live), "total": .int(service.total),
                                               "rejected": .int(service.rejected), "refused": .int(service.refused)])),
            JSONMember("bytes", .fields(["in": .int(service.bytesIn), "out": .int(service.bytesOut)])),
            JSONMember("live", .array((service.connections ?? []).map { connection in
                .fields([
                    "peer": .string(connection.peer.description),
                    "since": .string(connection.since.rfc3339(fractionDigits: 3)),
                    "bytesIn": .int(connection.bytesIn),
                    "bytesOut": .int(connection.bytesOut),
                ])
            })),
        ]
        if config.transport == .udp {
            members.append(JSONMember("datagrams", .fields(["in": .int(service.datagrams.received), "out": .int(service.datagrams.sent),
                                                            "dropped": .int(service.datagrams.dropped)])))
        }
        if config.kind == .sentence {
            members.append(JSONMember("sentences", .fields(["acknowledged": .int(service.acknowledged), "unacknowledged": .int(service.unacknowledged)])))
        }
        members.append(JSONMember("timeouts", .fields(["idle": .int(service.timeouts.idle), "write": .int(service.timeouts.write),
                                                        "ack": .int(service.timeouts.ack)])))
        members.append(JSONMember("protocol", .string(config.transport.rawValue)))
        members.append(JSONMember("enabled", .bool(config.enabled)))
        return .object(members)
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
                            "host": service.config.host, "port": String(service.port), "range": PortRange.classify(service.port).rawValue]), "1")
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
