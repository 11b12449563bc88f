// The status endpoint on a real socket: the JSON while connections are open, healthz flipping,
// metrics through promtool, and every kind of bad request answered without harm.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct StatusEndpointTests {
    @Test func statusListsEveryLiveConnection() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                                        #"{ "name": "s", "kind": "sentence", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let clients = try (0..<3).map { _ in try server.connect("echo") }
        for (i, client) in clients.enumerated() {
            _ = try client.exchange(Array(repeating: 0x61, count: i + 1), halfClose: false)
        }
        let (code, body) = try server.get("/status")
        #expect(code == 200)
        let json = try JSONParser.parse(body)
        #expect(json["supervisor"]?["pid"] == .int(Int(getpid())))
        #expect(json["supervisor"]?["config"] == .string(ConfigLoader.absolutePath("test.json")))
        guard case .array(let services)? = json["services"], case .array(let live)? = services[0]["live"] else {
            Issue.record("no services"); return
        }
        let echo = services[0]
        #expect(echo["name"] == .string("echo") && echo["state"] == .string("running"))
        #expect(echo["port"] == .int(try server.port("echo")))
        #expect(echo["connections"] == .fields(["live": .int(3), "total": .int(3), "rejected": .int(0), "refused": .int(0)]))
        #expect(echo["bytes"] == .fields(["in": .int(6), "out": .int(6)]))
        let peers = Set(live.compactMap { entry -> String? in if case .string(let peer)? = entry["peer"] { return peer } else { return nil } })
        let expected = Set(try clients.map { "127.0.0.1:\(try Socket.localAddress($0.fd).port)" })
        #expect(peers == expected)
        for entry in live {
            guard case .string(let since)? = entry["since"] else { Issue.record("no since"); continue }
            #expect(since.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil)
        }
        #expect(live.compactMap { if case .number(let n)? = $0["bytesIn"] { return n.integer } else { return nil } }.sorted() == [1, 2, 3])
        #expect(services[1]["sentences"] == .fields(["acknowledged": .int(0), "unacknowledged": .int(0)]))
        clients[0].close()
        #expect(eventually {
            guard let body = try? server.get("/status").1, let json = try? JSONParser.parse(body),
                  case .array(let services)? = json["services"], case .array(let live)? = services[0]["live"] else { return false }
            return live.count == 2 && services[0]["connections"]?["live"] == .int(2)
        })
    }

    @Test func healthzFlipsWhileAServiceIsInBackoff() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let port = Int(try Socket.localAddress(blocker).port)
        var blocked = true
        defer { if blocked { Syscall.close(blocker) } }
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": \#(port), "restart": { "initialDelay": 0.02, "maxDelay": 0.05 } }"#,
                                        #"{ "name": "ok", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let unhealthy = try server.get("/healthz")
        #expect(unhealthy.0 == 503)
        #expect(unhealthy.1 == "not running: e (backoff)\n")
        Syscall.close(blocker)
        blocked = false
        #expect(eventually { (try? server.get("/healthz").0) == 200 })
        #expect(try server.get("/healthz").1 == "ok\n")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool")))
    func metricsPassPromtool() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                                        #"{ "name": "sentence", "kind": "sentence", "port": 0 }"#,
                                        #"{ "name": "weird\"name", "kind": "daytime", "port": 0 }"#.replacingOccurrences(of: "\\\"", with: "-"),
                                        status: TestSupervisor.statusOnLoopback)
        _ = try server.connect("echo").exchange(Array("x".utf8))
        let (code, body) = try server.get("/metrics")
        #expect(code == 200)
        #expect(body.contains(#"portvisor_connections_total{service="echo"} 1"#))
        #expect(body.contains(#"portvisor_up{service="echo"} 1"#))
        let dir = try TempDirectory()
        let file = try dir.write("metrics.txt", body)
        let check = try ChildProcess("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        #expect(try check.waitForExit() == 0, "promtool: \(check.stdoutText)\(check.stderrText)")
        #expect(check.stdoutText.isEmpty && check.stderrText.isEmpty, "promtool: \(check.stdoutText)\(check.stderrText)")
    }

    @Test(arguments: [
        ("POST /status HTTP/1.1\r\n\r\n", 405),
        ("DELETE /nope HTTP/1.1\r\n\r\n", 404),
        ("GET /../../etc/passwd HTTP/1.1\r\n\r\n", 404),
        ("GET /status HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        ("GET /status HTTP/3\r\n\r\n", 400),
        ("\u{0}\u{1}\u{2}garbage\r\n\r\n", 400),
        ("GET /status HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n", 431),
        ("GET /healthz?x=1 HTTP/1.0\r\n\r\n", 200),
        ("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 200),
    ])
    func badAndOddRequests(raw: String, expected: Int) throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        #expect(statusCode(try server.statusExchange(raw)) == expected)
        #expect(try server.get("/healthz").0 == 200)  // still up
    }

    @Test func headOmitsTheBody() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let answer = try server.statusExchange("HEAD /healthz HTTP/1.1\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.hasSuffix("\r\n\r\n"))
        #expect(answer.contains("Content-Length: 3\r\n"))
    }

    @Test func slowHeadGets408AfterFiveSeconds() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let client = try TestClient(port: server.statusPort())
        let start = Date()
        try client.send("GET /status HTTP/1.1\r\n")
        _ = client.waitForClose(timeout: 2.5)
        try client.send("X-Slow: 1\r\n")  // bytes keep coming, the deadline does not move
        let answer = String(decoding: try client.readToEnd(timeout: 8), as: UTF8.self)
        let elapsed = Date().timeIntervalSince(start)
        #expect(statusCode(answer) == 408)
        #expect(elapsed > 4.8 && elapsed < 7)
        #expect(try server.get("/healthz").0 == 200)
    }

    /// Issue "Unbreakable II" 1 (was: the 17th connection got 503): idle and slow holders, more
    /// than there are slots, from one address and from many, never keep a real request waiting
    /// more than a second.
    @Test(arguments: [false, true]) func holdersNeverStarveARequest(manySources: Bool) throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let port = try server.statusPort()
        var held: [TestClient] = []
        for i in 0..<(StatusEndpoint.maxConnections + 44) {
            let source = manySources ? "127.0.\(1 + i / 250).\(1 + i % 250)" : nil
            let client = try TestClient(port: port, source: source)
            if i % 2 == 0 { try client.send("GET /status HTTP/1.1\r\nX-Slow: ") }  // a slow head; the others stay idle
            held.append(client)
        }
        for _ in 0..<12 {
            let start = Date()
            let (code, _) = try server.get("/healthz")
            #expect(code == 200)
            #expect(Date().timeIntervalSince(start) < 1)
        }
        #expect(held.count == StatusEndpoint.maxConnections + 44)
    }

    @Test func reloadMovesTheEndpoint() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback)
        let before = try server.statusPort()
        var config = server.supervisor.config
        config.status = StatusEndpointConfig(host: "127.0.0.2", address: .v4(127, 0, 0, 2), port: 0)
        server.supervisor.reload(config)
        let after = try server.statusPort()
        let reply = try HTTPClient.get("/healthz", from: SocketAddress(ip: .v4(127, 0, 0, 2), port: UInt16(after)))
        #expect(reply.status == 200)
        #expect(throws: HTTPClientError.self) { try HTTPClient.get("/healthz", from: SocketAddress(ip: .loopbackV4, port: UInt16(before)), timeout: 1) }
        config.status = nil
        server.supervisor.reload(config)
        #expect(server.supervisor.statusBoundPort == nil)
    }
}
