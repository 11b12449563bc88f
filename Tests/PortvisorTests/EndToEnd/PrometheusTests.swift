// A real Prometheus scrapes a real `portvisor run` on loopback and sees the connections this test
// makes; the shipped alert rules load in it and pass `promtool test rules`.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"),
                "/usr/bin/prometheus is not installed (apt-get install prometheus)"))
struct PrometheusTests {
    /// GET `path` from Prometheus's HTTP API; the JSON answer (chunked bodies are decoded).
    static func api(_ path: String, port: Int) throws -> JSONValue {
        let reply = try HTTPClient.get(path, from: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 2)
        guard reply.status == 200 else { throw TestFailure("\(path): HTTP \(reply.status) \(reply.bodyText)") }
        let chunked = reply.headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased() == "chunked" }
        return try JSONParser.parse(chunked ? dechunk(reply.body) : reply.bodyText)
    }

    /// The body of a `Transfer-Encoding: chunked` answer (sizes count bytes).
    static func dechunk(_ bytes: [UInt8]) throws -> String {
        var body: [UInt8] = [], index = 0
        while let lineEnd = (index..<max(index, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) {
            guard let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16),
                  lineEnd + 2 + size <= bytes.count else { throw TestFailure("bad chunk at byte \(index)") }
            if size == 0 { return String(decoding: body, as: UTF8.self) }
            body += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
            index = lineEnd + 2 + size + 2
        }
        throw TestFailure("unterminated chunked body")
    }

    /// The sample values of an instant query, by the `service` label (or "" without one).
    static func query(_ expression: String, port: Int) throws -> [String: String] {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
        let answer = try api("/api/v1/query?query=\(encoded)", port: port)
        guard case .array(let results)? = answer["data"]?["result"] else { throw TestFailure("no result for \(expression): \(answer)") }
        var values: [String: String] = [:]
        for result in results {
            guard case .array(let pair)? = result["value"], case .string(let value) = pair.last else { continue }
            if case .string(let service)? = result["metric"]?["service"] { values[service] = value } else { values[""] = value }
        }
        return values
    }

    @Test func prometheusScrapesTheConnectionsWeMake() throws {
        let run = try RunningPortvisor([#"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                                        #"{ "name": "off", "kind": "echo", "port": 0, "enabled": false }"#],
                                       status: #"{ "host": "127.0.0.1", "port": 0 }"#)
        let statusLine = try run.process.waitForStderr("status endpoint on http://127.0.0.1:")
        let statusPort = try #require(statusLine.components(separatedBy: "status endpoint on http://127.0.0.1:").last
            .flatMap { Int($0.prefix { $0.isNumber }) })
        let echo = try run.port("echo")
        for index in 0..<7 { _ = try TestClient(port: echo).exchange(Array("before \(index)".utf8)) }

        let directory = try TempDirectory()
        let prometheusPort = try SystemdTests.freePort()
        let config = try directory.write("prometheus.yml", """
            global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
            rule_files: ["\(Repository.path("contrib/prometheus/alerts.yml"))"]
            scrape_configs:
              - job_name: portvisor
                static_configs: [ { targets: ["127.0.0.1:\(statusPort)"] } ]
            """)
        let prometheus = try ChildProcess("/usr/bin/prometheus", [
            "--config.file=\(config)", "--storage.tsdb.path=\(directory.file("data"))",
            "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=warn",
        ])
        defer {
            prometheus.signal(SIGTERM)
            _ = try? prometheus.waitForExit(timeout: 10)  // kills it past that
        }
        func becomes(_ expression: String, _ expected: [String: String], within seconds: Double) -> Bool {
            eventually(timeout: seconds) {
                prometheus.pump(timeout: 0.2)  // keep its stderr pipe drained
                return (try? Self.query(expression, port: prometheusPort)) == expected
            }
        }
        #expect(becomes(#"up{job="portvisor"}"#, ["": "1"], within: 30), "target never up; prometheus:\n\(prometheus.stderrText)")
        #expect(becomes("portvisor_connections_total", ["echo": "7", "off": "0"], within: 10))
        for index in 0..<3 { _ = try TestClient(port: echo).exchange(Array("after \(index)".utf8)) }
        #expect(becomes("portvisor_connections_total", ["echo": "10", "off": "0"], within: 10))
        #expect(becomes("portvisor_up", ["echo": "1", "off": "0"], within: 5))
        // The shipped rules load, evaluate cleanly, and none fires for a healthy supervisor.
        #expect(eventually(timeout: 10) {
            prometheus.pump(timeout: 0.2)
            guard let rules = try? Self.api("/api/v1/rules", port: prometheusPort),
                  case .array(let groups)? = rules["data"]?["groups"], case .array(let list)? = groups.first?["rules"] else { return false }
            return list.count == 5 && list.allSatisfy { $0["health"] == .string("ok") && $0["state"] == .string("inactive") }
        }, "the 5 rules of alerts.yml are not all loaded, healthy and inactive")
        run.process.signal(SIGTERM)
        #expect(try run.process.waitForExit() == 0)
    }

    @Test(.enabled(if: Repository.hasTool("promtool"), "promtool is not installed (apt-get install prometheus)"))
    func alertRulesPassTheirUnitTests() throws {
        let check = try Repository.shell("cd contrib/prometheus && promtool check config portvisor.yml && promtool test rules alerts.test.yml")
        #expect(check.code == 0, "\(check.out)\(check.err)")
        #expect(check.out.contains("SUCCESS: 5 rules found") && check.out.contains("SUCCESS"))
    }
}
