// A minimal HTTP/1.1 client for talking to a status endpoint: one GET, `Connection: close`,
// read to the end, every step bounded by one deadline.

/// A status endpoint's answer.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

public enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    case connect(SystemError)
    case io(SystemError)
    case timeout
    case malformed(String)

    public var description: String {
        switch self {
        case .connect(let error), .io(let error): return "\(error)"
        case .timeout: return "no complete answer within the timeout"
        case .malformed(let reason): return "not an HTTP answer (\(reason))"
        }
    }
}

public enum HTTPClient {
    /// GETs `path` from `address`; at most 64 MiB of body, all within `timeout` seconds.
    public static func get(_ path: String, from address: SocketAddress, timeout: Double = 5) throws(HTTPClientError) -> HTTPReply {
        let deadline = Clock.monotonic() + Clock.nanos(timeout)
        let fd: Int32
        do {
            fd = try Socket.connect(to: address, timeout: timeout)
        } catch {
            throw .connect(error)
        }
        defer { Syscall.close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nUser-Agent: portvisor/\(Release.version)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let result = request.withUnsafeBytes { raw -> Result<IOResult, SystemError> in
                do throws(SystemError) {
                    return .success(try Syscall.write(fd, raw.baseAddress! + sent, raw.count - sent))
                } catch {
                    return .failure(error)
                }
            }.mapError { HTTPClientError.io($0) }
            if case .done(let n) = try result.get() { sent += n } else { try waitFor(fd, .writable, deadline) }
        }
        var response: [UInt8] = []
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 1)
        defer { buffer.deallocate() }
        while response.count < 64 << 20 {
            let result: IOResult
            do {
                result = try Syscall.read(fd, buffer, 65536)
            } catch {
                if error.errno == Errno.ECONNRESET && !response.isEmpty { break }
                throw .io(error)
            }
            switch result {
            case .done(0): return try parse(response)
            case .done(let n): response.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
            case .wouldBlock: try waitFor(fd, .readable, deadline)
            }
        }
        return try parse(response)
    }

    private static func waitFor(_ fd: Int32, _ events: IOEvents, _ deadline: MonotonicNanos) throws(HTTPClientError) {
        let left = deadline - Clock.monotonic()
        if left <= 0 { throw .timeout }
        _ = Poll.wait(fd, for: events, timeoutMillis: Int32(min((left + 999_999) / 1_000_000, 60_000)))
    }

    static func parse(_ bytes: [UInt8]) throws(HTTPClientError) -> HTTPReply {
        guard let end = HTTPRequestHead.endOfHead(in: bytes, from: 0) else { throw .malformed("no end of head") }
        // "\r\n" is one Character: split on newlines of either kind, not on "\n" alone.
        let lines = String(decoding: bytes[0..<end], as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."), statusLine.count >= 12,
              let status = Int(statusLine.dropFirst(9).prefix(3)) else { throw .malformed("bad status line") }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingWhitespace()))
        }
        var body = Array(bytes[end...])
        if let length = headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap({ Int($0.value) }), length < body.count {
            body = Array(body[0..<length])
        }
        return HTTPReply(status: status, headers: headers, body: body)
    }
}
