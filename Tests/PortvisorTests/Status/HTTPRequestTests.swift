// The request-head parser and the router, without sockets.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct HTTPRequestTests {
    func parse(_ text: String) throws(HTTPRequestError) -> HTTPRequest? {
        var head = HTTPRequestHead()
        return try head.append(Array(text.utf8))
    }

    @Test func simpleGet() throws {
        let request = try #require(try parse("GET /status HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"))
        #expect(request.method == "GET" && request.path == "/status" && request.version == "HTTP/1.1")
        #expect(request.headers.map(\.name) == ["Host", "Accept"])
        #expect(request.headers.map(\.value) == ["x", "*/*"])
    }

    @Test func variantsThatAreAccepted() throws {
        #expect(try parse("HEAD /healthz HTTP/1.0\r\n\r\n")?.method == "HEAD")
        #expect(try parse("GET /status?pretty=1 HTTP/1.1\r\n\r\n")?.path == "/status")
        #expect(try parse("GET http://localhost:20080/metrics HTTP/1.1\r\n\r\n")?.path == "/metrics")
        #expect(try parse("GET /status HTTP/1.1\n\n")?.path == "/status")
        #expect(try parse("\r\nGET /status HTTP/1.1\r\n\r\n")?.path == "/status")
        #expect(try parse("GET /status HTTP/1.1\r\nX-Empty:\r\n\r\n")?.headers.first?.value == "")
    }

    /// Found with the HTTP fuzz target's properties (Fuzz/regressions/http-request/): the blank
    /// before a combining mark stayed in the value, since whole Characters were trimmed.
    @Test func valuesAreTrimmedOfBlankBytes() throws {
        let request = try #require(try parse("GET / HTTP/1.1\r\nX: \u{301}a\r\nY: \t b \u{301} \t\r\nZ:  \r\n\r\n"))
        #expect(request.headers.map(\.value) == ["\u{301}a", "b \u{301}", ""])
    }

    @Test func incompleteHeadWaitsForMore() throws {
        var head = HTTPRequestHead()
        #expect(try head.append(Array("GET /status HTTP/1.1\r\nHo".utf8)) == nil)
        #expect(try head.append(Array("st: a\r\n\r".utf8)) == nil)
        #expect(try head.append(Array("\n".utf8))?.path == "/status")
    }

    @Test(arguments: [
        ("GET /status HTTP/1.1\r\nNoColonHere\r\n\r\n", "header line without a colon"),
        ("GET /status\r\n\r\n", "request line is not \"METHOD TARGET HTTP/1.x\""),
        ("GET  /status HTTP/1.1\r\n\r\n", "request line is not \"METHOD TARGET HTTP/1.x\""),
        ("GET /status HTTP/2.0\r\n\r\n", "unsupported HTTP version"),
        ("G(T /status HTTP/1.1\r\n\r\n", "invalid method"),
        ("GET /st\u{7F}tus HTTP/1.1\r\n\r\n", "invalid request target"),
        ("GET /status HTTP/1.1\r\nBad Name: x\r\n\r\n", "invalid header name"),
        ("GET /status HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", "invalid header value"),
        ("\u{FF}\u{FE}\r\n\r\n", "request line is not \"METHOD TARGET HTTP/1.x\""),
    ])
    func malformed(text: String, reason: String) {
        #expect(throws: HTTPRequestError.malformed(reason)) { try parse(text) }
    }

    @Test func tooManyHeaders() {
        let headers = (0...100).map { "X-\($0): y\r\n" }.joined()
        #expect(throws: HTTPRequestError.malformed("more than 100 headers")) { try parse("GET / HTTP/1.1\r\n\(headers)\r\n") }
    }

    @Test func headSizeLimitIncludesTheBlankLine() throws {
        let prefix = "GET /status HTTP/1.1\r\nX: "
        let exact = prefix + String(repeating: "a", count: 8192 - prefix.utf8.count - 4) + "\r\n\r\n"
        #expect(exact.utf8.count == 8192)
        #expect(try parse(exact)?.path == "/status")
        let over = prefix + String(repeating: "a", count: 8193 - prefix.utf8.count - 4) + "\r\n\r\n"
        #expect(throws: HTTPRequestError.headTooLarge) { try parse(over) }
        #expect(throws: HTTPRequestError.headTooLarge) { try parse(String(repeating: "a", count: 9000)) }
    }
}

@Suite struct StatusRouterTests {
    static func snapshot(states: [ServiceState] = [.running, .running]) -> SupervisorSnapshot {
        let services = states.enumerated().map { index, state in
            ServiceSnapshot(config: ServiceConfig(name: "s\(index)", kind: index == 0 ? .echo : .sentence, port: 1000 + index),
                            state: state, boundPort: 1000 + index, lastError: nil, restarts: 0, live: 0, total: 2, rejected: 0, refused: 0, timeouts: Timeouts(),
                            bytesIn: 5, bytesOut: 6, datagrams: Datagrams(),
                            kind: index == 0 ? nil : SentenceSnapshot(acknowledged: 1, unacknowledged: 1, ackTimeouts: 0), connections: [])
        }
        return SupervisorSnapshot(pid: 42, version: "0.1.0", configPath: "/x/services.json", startedAt: WallTime(seconds: 1_795_611_722),
                                  uptimeSeconds: 1.5, services: services)
    }

    func router(_ states: [ServiceState] = [.running, .running]) -> StatusRouter {
        StatusRouter(snapshot: { _ in Self.snapshot(states: states) }, environment: { PortEnvironment() })
    }

    func request(_ method: String, _ path: String) -> HTTPRequest {
        HTTPRequest(method: method, path: path, version: "HTTP/1.1", headers: [])
    }

    @Test func unknownPathIs404WhateverTheMethod() {
        #expect(router().route(request("GET", "/nope")).status == 404)
        #expect(router().route(request("DELETE", "/nope")).status == 404)
        #expect(router().route(request("GET", "/../etc/passwd")).status == 404)
    }

    @Test func otherMethodsOnKnownPathsAre405() {
        let response = router().route(request("POST", "/status"))
        #expect(response.status == 405)
        #expect(response.extraHeaders == ["Allow: GET, HEAD"])
    }

    @Test func headHasTheHeadersOfGetWithoutTheBody() {
        let get = String(decoding: router().respond(to: request("GET", "/status")), as: UTF8.self)
        let head = String(decoding: router().respond(to: request("HEAD", "/status")), as: UTF8.self)
        #expect(get.hasPrefix(head))
        #expect(head.hasSuffix("\r\n\r\n"))
        #expect(head.contains("Content-Length: \(get.utf8.count - head.utf8.count)\r\n"))
    }

    @Test func healthz() {
        #expect(router().route(request("GET", "/healthz")) == HTTPResponse(status: 200, body: "ok\n"))
        #expect(router([.running, .backoff]).route(request("GET", "/healthz")) == HTTPResponse(status: 503, body: "not running: s1 (backoff)\n"))
    }

    @Test func statusDocumentShape() throws {
        let json = try JSONParser.parse(StatusDocument.encode(Self.snapshot(), environment: PortEnvironment()))
        guard case .object(let top) = json, case .object(let supervisor)? = json["supervisor"], case .array(let services)? = json["services"] else {
            Issue.record("bad shape"); return
        }
        #expect(top.map(\.key) == ["supervisor", "services"])
        #expect(supervisor.map(\.key) == ["pid", "version", "config", "startedAt", "uptimeSeconds", "lastReload"])
        #expect(json["supervisor"]?["lastReload"] == .null)
        #expect(json["supervisor"]?["startedAt"] == .string("2026-11-25T13:02:02Z"))
        guard case .object(let echo) = services[0] else { Issue.record("bad service"); return }
        #expect(echo.map(\.key) == ["name", "kind", "host", "port", "range", "registeredName", "state", "restarts", "lastError",
                                    "stoppedBy", "connections", "bytes", "live", "timeouts", "protocol", "enabled"])
        #expect(services[1]["sentences"] == .fields(["acknowledged": .int(1), "unacknowledged": .int(1)]))
    }

    @Test func liveConnectionsEncodeExactly() throws {
        var snapshot = Self.snapshot()
        snapshot.services[0].lastError = "bind: \"quoted\"\nnext\u{1}"
        snapshot.services[0].connections = [
            LiveConnection(peer: SocketAddress(ip: .v4(10, 0, 255, 7), port: 51234), since: WallTime(seconds: 1_795_611_722, nanoseconds: 5_000_000),
                           bytesIn: 0, bytesOut: 1_234_567_890_123),
            LiveConnection(peer: SocketAddress(ip: IPAddress(parsing: "::ffff:127.0.0.1")!, port: 1), since: WallTime(seconds: 1_795_611_722, nanoseconds: 999_999_999),
                           bytesIn: 9, bytesOut: 10),
            LiveConnection(peer: SocketAddress(ip: .loopbackV6, port: 65535), since: WallTime(seconds: 1_795_611_723), bytesIn: 1, bytesOut: 2),
        ]
        let json = try JSONParser.parse(StatusDocument.encode(snapshot, environment: PortEnvironment()))
        guard case .array(let services)? = json["services"], case .array(let live)? = services[0]["live"] else {
            Issue.record("bad shape"); return
        }
        #expect(services[0]["lastError"] == .string("bind: \"quoted\"\nnext\u{1}"))
        #expect(live == [
            .fields(["peer": .string("10.0.255.7:51234"), "since": .string("2026-11-25T13:02:02.005Z"), "bytesIn": .int(0), "bytesOut": .int(1_234_567_890_123)]),
            .fields(["peer": .string("127.0.0.1:1"), "since": .string("2026-11-25T13:02:02.999Z"), "bytesIn": .int(9), "bytesOut": .int(10)]),
            .fields(["peer": .string("[::1]:65535"), "since": .string("2026-11-25T13:02:03.000Z"), "bytesIn": .int(1), "bytesOut": .int(2)]),
        ])
        let output = JSONOutput()
        for value in [0, 7, 10, -1, Int.max, Int.min] { output.int(value); output.raw(" ") }
        #expect(String(decoding: output.bytes, as: UTF8.self) == "0 7 10 -1 \(Int.max) \(Int.min) ")
    }

    @Test func metricsLabelsAreEscaped() {
        #expect(MetricsDocument.labels(["a": "x\"y\\z\nw"]) == #"{a="x\"y\\z\nw"}"#)
    }
}
