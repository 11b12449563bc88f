// What the status endpoint answers: routes, methods and error statuses (SPEC §5), as pure
// functions from a request (or a failure) to a response.

/// A complete response; always `Connection: close`.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var extraHeaders: [String] = []

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, extraHeaders: [String] = []) {
        self.init(status: status, contentType: contentType, bytes: Array(body.utf8), extraHeaders: extraHeaders)
    }

    public init(status: Int, contentType: String, bytes: [UInt8], extraHeaders: [String] = []) {
        self.status = status
        self.contentType = contentType
        self.body = bytes
        self.extraHeaders = extraHeaders
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Error"
        }
    }

    /// The bytes on the wire; HEAD gets the headers of the GET, without the body.
    public func serialized(includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        head += "Connection: close\r\nCache-Control: no-store\r\n\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }

    /// A plain-text error response: the reason phrase and a line of detail.
    public static func error(_ status: Int, _ detail: String) -> HTTPResponse {
        HTTPResponse(status: status, body: "\(status) \(reason(status)): \(detail)\n")
    }
}

/// Answers the known paths (`/` is the dashboard); everything else is 404, other methods 405.
/// Pure: give it a request and the supervisor's state, get the response.
public struct StatusRouter: Sendable {
    public static let paths = ["/", "/status", "/healthz", "/metrics"]

    /// The supervisor's state; the argument says whether to collect live connections.
    let snapshot: @Sendable (_ connections: Bool) -> SupervisorSnapshot
    let environment: @Sendable () -> PortEnvironment

    public init(snapshot: @escaping @Sendable (_ connections: Bool) -> SupervisorSnapshot,
                environment: @escaping @Sendable () -> PortEnvironment) {
        self.snapshot = snapshot
        self.environment = environment
    }

    /// The response bytes for `request` (HEAD: no body).
    public func respond(to request: HTTPRequest) -> [UInt8] {
        route(request).serialized(includeBody: request.method != "HEAD")
    }

    func route(_ request: HTTPRequest) -> HTTPResponse {
        Self.route(request, snapshot: snapshot(Self.needsConnections(request)), environment: environment())
    }

    /// Whether the answer lists live connections (GET or HEAD /status): the endpoint then asks
    /// every worker first.
    public static func needsConnections(_ request: HTTPRequest) -> Bool {
        request.path == "/status" && (request.method == "GET" || request.method == "HEAD")
    }

    /// The response to `request` given the state `snapshot`.
    public static func route(_ request: HTTPRequest, snapshot: SupervisorSnapshot, environment: PortEnvironment) -> HTTPResponse {
        guard paths.contains(request.path) else {
            return .error(404, "no such path; try /, /status, /healthz or /metrics")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .error(405, "\(request.method) is not allowed here; use GET or HEAD").with(header: "Allow: GET, HEAD")
        }
        switch request.path {
        case "/":
            return Dashboard.response
        case "/status":
            return HTTPResponse(status: 200, contentType: "application/json",
                                bytes: StatusDocument.encode(snapshot, environment: environment))
        case "/healthz":
            let verdict = StatusDocument.health(snapshot)
            return HTTPResponse(status: verdict.healthy ? 200 : 503, body: verdict.text)
        default:
            return HTTPResponse(status: 200, contentType: MetricsDocument.contentType, body: MetricsDocument.text(snapshot))
        }
    }
}

extension HTTPResponse {
    func with(header: String) -> HTTPResponse {
        var copy = self
        copy.extraHeaders.append(header)
        return copy
    }
}
