// `/metrics`: the Prometheus text exposition format (version 0.0.4). Every family has HELP and
// TYPE; counters end in `_total`. Kinds add their own families (KindSnapshot.metrics).

/// One metric family: its name, type, help, and samples.
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable { case counter, gauge }
    public var name: String
    public var type: Kind
    public var help: String
    public var samples: [MetricSample]

    public init(_ name: String, _ type: Kind, _ help: String, _ samples: [MetricSample]) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }
}

/// One sample: labels (in order) and a value.
public struct MetricSample: Sendable, Equatable {
    public var labels: [(String, String)]
    public var value: String

    public init(_ labels: KeyValuePairs<String, String>, _ value: Int) {
        self.labels = labels.map { ($0.key, $0.value) }
        self.value = String(value)
    }

    public init(_ labels: KeyValuePairs<String, String>, text: String) {
        self.labels = labels.map { ($0.key, $0.value) }
        self.value = text
    }

    public static func == (a: MetricSample, b: MetricSample) -> Bool {
        a.value == b.value && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
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
        // The kinds' own families, merged by name across services in registry order.
        var kindFamilies: [MetricFamily] = []
        for service in services {
            for family in service.kind?.metrics(service: service.config.name) ?? [] {
                if let index = kindFamilies.firstIndex(where: { $0.name == family.name }) {
                    kindFamilies[index].samples += family.samples
                } else {
                    kindFamilies.append(family)
                }
            }
        }
        for kindFamily in kindFamilies {
            family(kindFamily.name, kindFamily.type.rawValue, kindFamily.help,
                   kindFamily.samples.map { sample in (labels(sample.labels), sample.value) })
        }
        return out
    }

    /// `{a="x",b="y"}` with values escaped (backslash, quote, newline).
    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        labels(pairs.map { ($0.key, $0.value) })
    }

    static func labels(_ pairs: [(String, String)]) -> String {
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

