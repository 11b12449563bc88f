// An in-process supervisor on port-0 services for integration tests; stopped on deinit.
import Foundation
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

final class TestSupervisor {
    let supervisor: Supervisor
    let logs = LogSink.memory()

    /// Starts the services given as JSON objects (`{ "name": …, "kind": …, "port": 0 }`),
    /// with the status endpoint off unless `status` is given.
    init(_ services: String..., status: String = "false", level: LogLevel = .debug) throws {
        let json = #"{ "status": \#(status), "services": [ \#(services.joined(separator: ",")) ] }"#
        let config = try ConfigLoader.parse(Array(json.utf8), path: "test.json")
        supervisor = try Supervisor(config: config, logger: Logger(level: level, sink: logs))
        try supervisor.start()
    }

    deinit { supervisor.stop(drainSeconds: 0) }

    func snapshot(_ name: String, connections: Bool = true) throws -> ServiceSnapshot {
        guard let service = supervisor.snapshot(connections: connections).services.first(where: { $0.config.name == name }) else {
            throw TestFailure("no service \(name)")
        }
        return service
    }

    /// The port `name` is bound to.
    func port(_ name: String) throws -> Int {
        let service = try snapshot(name, connections: false)
        guard let port = service.boundPort else { throw TestFailure("\(name) is not bound: \(service.state) \(service.lastError ?? "")") }
        return port
    }

    func connect(_ name: String) throws -> TestClient { try TestClient(port: port(name)) }

    /// Waits until `name`'s snapshot satisfies `condition`.
    func waitFor(_ name: String, timeout: Double = 5, _ condition: (ServiceSnapshot) -> Bool) throws -> ServiceSnapshot {
        var last: ServiceSnapshot?
        let held = try eventually(timeout: timeout) {
            last = try snapshot(name)
            return condition(last!)
        }
        guard held, let last else {
            throw TestFailure("\(name) never reached the condition; last: \(String(describing: last?.state)) \(last?.lastError ?? "")\nlogs:\n\(logs.lines.joined(separator: "\n"))")
        }
        return last
    }
}

extension TestSupervisor {
    static let statusOnLoopback = #"{ "host": "127.0.0.1", "port": 0 }"#

    /// The status endpoint's bound port.
    func statusPort() throws -> Int {
        guard let port = supervisor.statusBoundPort else { throw TestFailure("the status endpoint is not listening") }
        return port
    }

    /// Sends `raw` to the status endpoint and returns the whole answer.
    func statusExchange(_ raw: String, timeout: Double = 10) throws -> String {
        let client = try TestClient(port: statusPort())
        try client.send(raw)
        return try client.readToEndText(timeout: timeout)
    }

    /// GETs `path` and returns (status code, body).
    func get(_ path: String) throws -> (Int, String) {
        let reply = try HTTPClient.get(path, from: SocketAddress(ip: .loopbackV4, port: UInt16(statusPort())))
        return (reply.status, reply.bodyText)
    }
}

/// The status code of a raw HTTP answer (0 when there is none).
func statusCode(_ answer: String) -> Int {
    guard answer.hasPrefix("HTTP/1.1 "), answer.count >= 12 else { return 0 }
    return Int(answer.dropFirst(9).prefix(3)) ?? 0
}
