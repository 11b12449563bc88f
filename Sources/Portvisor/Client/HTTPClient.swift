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
    /// GETs `path` from `address`; at most 64 MiB of body, all within `timeout` seconds. Every
    /// number in the answer (status code, Content-Length) is range-checked: a peer can send
    /// anything, and a bad answer is a `.malformed` error, never a trap.
    /// `token`: sent as `Authorization: Bearer` (status.tokenFile).
    public static func get(_ path: String, from address: SocketAddress, timeout: Double = 5, token: String? = nil) throws(HTTPClientError) -> HTTPReply {
        let deadline = Clock.monotonic() + Clock.nanos(timeout)
        let fd: Int32
        do {
            fd = try Socket.connect(to: address, timeout: timeout)
        } catch {
            throw .connect(error)
        }
        defer { Syscall.close(fd) }
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nUser-Agent: portvisor/\(Release.version)\r\n\(authorization)Connection: close\r\n\r\n".utf8)
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
        while response.count < maxBodyBytes {
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

    /// The largest body `get` reads, and the largest Content-Length it accepts: 64 MiB.
    public static let maxBodyBytes = 64 << 20

    static func parse(_ bytes: [UInt8]) throws(HTTPClientError) -> HTTPReply {
        guard let end = HTTPRequestHead.endOfHead(in: bytes, from: 0) else { throw .malformed("no end of head") }
        // "\r\n" is one Character: split on newlines of either kind, not on "\n" alone.
        let lines = String(decoding: bytes[0..<end], as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }
        guard let statusLine = lines.first, let status = statusCode(of: statusLine) else {
            throw .malformed("bad status line \(shown(lines.first ?? ""))")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingWhitespace()))
        }
        var body = Array(bytes[end...])
        let lengths = headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        if let first = lengths.first {
            guard let length = contentLength(first) else {
                throw .malformed("bad Content-Length \(shown(first)): not a byte count in 0...\(maxBodyBytes)")
            }
            if let other = lengths.first(where: { $0 != first }) {
                throw .malformed("two different Content-Length headers, \(shown(first)) and \(shown(other))")
            }
            if length < body.count { body = Array(body[0..<length]) }
        }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    /// The code of a status line `HTTP/1.x NNN reason`: exactly three digits, 100...599.
    static func statusCode(of line: String) -> Int? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 12, bytes[0..<7].elementsEqual("HTTP/1.".utf8), isDigit(bytes[7]), bytes[8] == UInt8(ascii: " "),
              bytes[9..<12].allSatisfy(isDigit), bytes.count == 12 || bytes[12] == UInt8(ascii: " ") else { return nil }
        let code = bytes[9..<12].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return (100...599).contains(code) ? code : nil
    }

    /// A Content-Length value: ASCII digits only (no sign, no exponent), at most `maxBodyBytes`.
    /// Never overflows, however many digits it is sent.
    static func contentLength(_ text: String) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            if value > maxBodyBytes { return nil }
        }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Text from the peer for an error line: quoted, at most 40 characters, nothing unprintable.
    private static func shown(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "\"" + TextSanitizer.escaped(cut) + "\""
    }
}
