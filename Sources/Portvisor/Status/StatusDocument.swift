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
        out.raw(",\n    "); out.key("lastReload")
        if let reload = snapshot.lastReload {
            out.raw("{ "); out.key("at"); out.string(reload.at.rfc3339())
            out.raw(", "); out.key("ok"); out.bool(reload.ok)
            out.raw(", "); out.key("trigger"); out.string(reload.trigger)
            out.raw(", "); out.key("summary"); out.optionalString(reload.summary)
            out.raw(", "); out.key("errors"); out.raw("[")
            for (index, error) in reload.errors.enumerated() {
                if index > 0 { out.raw(", ") }
                out.string(error)
            }
            out.raw("] }")
        } else {
            out.raw("null")
        }
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
        out.raw(", "); out.key("stoppedBy"); out.optionalString(service.stoppedBy)
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
            if let pid = connection.pid { out.raw(", "); out.key("pid"); out.int(Int(pid)) }
            if let upstream = connection.upstream { out.raw(", "); out.key("upstream"); out.address(upstream) }
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
        service.kind?.writeStatus(into: out)
        out.raw(",\n      "); out.key("timeouts")
        out.raw("{ "); out.key("idle"); out.int(service.timeouts.idle)
        out.raw(", "); out.key("write"); out.int(service.timeouts.write)
        out.raw(", "); out.key("ack"); out.int(service.timeouts.ack)
        out.raw(" },\n      "); out.key("protocol"); out.string(config.transport.rawValue)
        out.raw(", "); out.key("enabled"); out.bool(config.enabled)
    }

    /// `/healthz`: healthy when every enabled service is running (one an operator stopped with
    /// `portvisor stop` is not a fault); otherwise the others, named.
    public static func health(_ snapshot: SupervisorSnapshot) -> (healthy: Bool, text: String) {
        let unhealthy = snapshot.services.filter { $0.config.enabled && $0.stoppedBy == nil && $0.state != .running }
        if unhealthy.isEmpty { return (true, "ok\n") }
        let names = unhealthy.map { "\($0.config.name) (\($0.state.rawValue))" }
        return (false, "not running: \(names.joined(separator: ", "))\n")
    }
}

extension WallTime {
    /// Seconds since the epoch, to the millisecond.
    var timeIntervalRounded: Double { (timeInterval * 1000).rounded() / 1000 }
}
