// One status-endpoint connection as a value (sans I/O): it collects the request head, answers
// a malformed or oversized one itself (400, 431), and suspends on a complete one so that the
// endpoint can route it (and, for /status, gather every worker's connections first). The head
// must be complete 5 s after its first byte (408); a connection that sends nothing is closed
// silently after 5 s.

public struct HTTPService: StreamService {
    public init() {}
    public func open(wall: WallTime) -> (HTTPConnection, Step) { (HTTPConnection(), .read) }
}

public struct HTTPConnection: StreamConnection {
    public static let headDeadline: MonotonicNanos = 5_000_000_000

    var head = HTTPRequestHead()
    var firstByteAt: MonotonicNanos?
    /// The complete request, once the head has arrived (the connection is then suspended).
    public private(set) var request: HTTPRequest?

    public init() {}

    public static var idleTimeoutApplies: Bool { false }

    public mutating func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step {
        guard request == nil else { return .read }  // bytes after the head are not read
        if firstByteAt == nil { firstByteAt = now }
        do throws(HTTPRequestError) {
            guard let complete = try head.append(input) else { return .read }
            request = complete
            head = HTTPRequestHead()
            return Step(then: .suspend)
        } catch {
            switch error {
            case .headTooLarge: return Self.answer(HTTPResponse.error(431, "the request head is over 8 KiB"))
            case .malformed(let reason): return Self.answer(HTTPResponse.error(400, reason))
            }
        }
    }

    /// The client closed before a complete head: nothing to answer.
    public func endOfInput() -> Step { Step(then: .close("client closed")) }

    public func deadline(openedAt: MonotonicNanos) -> MonotonicNanos? {
        request == nil ? (firstByteAt ?? openedAt) + Self.headDeadline : nil
    }

    public func deadlinePassed(now: MonotonicNanos) -> Step {
        guard firstByteAt != nil else { return Step(then: .close("nothing asked within 5 s")) }
        return Self.answer(HTTPResponse.error(408, "the request head did not arrive within 5 s"))
    }

    /// The step that sends `response` and lingers.
    public static func answer(_ bytes: [UInt8]) -> Step { Step(.bytes(bytes), then: .linger) }

    static func answer(_ response: HTTPResponse) -> Step { answer(response.serialized()) }
}
