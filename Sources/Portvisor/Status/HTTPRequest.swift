// Parsing an HTTP/1.x request head (RFC 9112) for the status endpoint: pure logic over bytes,
// strict about shape, bounded in size. Feed bytes as they arrive; it says when the head is
// complete, malformed, or too large.

/// A parsed request head.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path without the query string (`/status`).
    public var path: String
    /// `HTTP/1.0` or `HTTP/1.1`.
    public var version: String
    public var headers: [(name: String, value: String)]

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.version == b.version
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// Why a request head was refused; each maps to a status code.
public enum HTTPRequestError: Error, Sendable, Equatable {
    /// 400, with the reason.
    case malformed(String)
    /// 431: the head (its blank line included) is over the limit.
    case headTooLarge
}

/// Accumulates bytes until the blank line that ends the head.
public struct HTTPRequestHead {
    public static let maxHeadBytes = 8192
    public static let maxHeaders = 100

    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Adds bytes; returns the request once the head is complete, nil while it is not.
    public mutating func append(_ chunk: UnsafeRawBufferPointer) throws(HTTPRequestError) -> HTTPRequest? {
        let searchFrom = max(0, bytes.count - 3)
        bytes.append(contentsOf: chunk)
        guard let end = Self.endOfHead(in: bytes, from: searchFrom) else {
            if bytes.count >= Self.maxHeadBytes { throw .headTooLarge }
            return nil
        }
        if end > Self.maxHeadBytes { throw .headTooLarge }
        return try Self.parse(Array(bytes[0..<end]))
    }

    public mutating func append(_ chunk: [UInt8]) throws(HTTPRequestError) -> HTTPRequest? {
        let result: Result<HTTPRequest?, HTTPRequestError> = chunk.withUnsafeBytes { raw in
            do throws(HTTPRequestError) { return .success(try append(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The index just past the blank line (CRLF CRLF, or bare LF LF), if present.
    static func endOfHead(in bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { return i + 2 }
                if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    /// Parses a complete head (request line, header lines, blank line).
    public static func parse(_ head: [UInt8]) throws(HTTPRequestError) -> HTTPRequest {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in head.enumerated() where byte == 0x0A {
            var line = head[start..<i]
            if line.last == 0x0D { line = line.dropLast() }
            lines.append(line)
            start = i + 1
        }
        // Tolerate blank lines before the request line (RFC 9112 §2.2).
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let requestLine = lines.first else { throw .malformed("empty request") }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("request line is not \"METHOD TARGET HTTP/1.x\"") }
        guard let method = token(parts[0]) else { throw .malformed("invalid method") }
        guard let version = String(validating: parts[2], as: UTF8.self), version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw .malformed("unsupported HTTP version")
        }
        guard let target = String(validating: parts[1], as: UTF8.self), !target.isEmpty,
              target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .malformed("invalid request target") }
        let path = Self.path(of: target)
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: 0x3A) else { throw .malformed("header line without a colon") }
            guard let name = token(line[line.startIndex..<colon]) else { throw .malformed("invalid header name") }
            let rawValue = line[(colon + 1)...]
            guard rawValue.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .malformed("invalid header value") }
            // Optional whitespace around the value is SP and HTAB bytes (RFC 9110 §5.5); trimming
            // Characters would keep a blank that a combining mark joins.
            let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
            var trimmed = rawValue.drop(while: isBlank)
            while let last = trimmed.last, isBlank(last) { trimmed = trimmed.dropLast() }
            let value = String(decoding: trimmed, as: UTF8.self)
            headers.append((name, value))
            if headers.count > maxHeaders { throw .malformed("more than \(maxHeaders) headers") }
        }
        return HTTPRequest(method: method, path: path, version: version, headers: headers)
    }

    /// An RFC 9110 token (method, header name), or nil.
    static func token(_ bytes: ArraySlice<UInt8>) -> String? {
        guard !bytes.isEmpty else { return nil }
        let allowed = "!#$%&'*+-.^_`|~".utf8
        for byte in bytes {
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            if !alphanumeric && !allowed.contains(byte) { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The path of an origin-form (`/status?x`) or absolute-form (`http://h/status`) target.
    static func path(of target: String) -> String {
        var rest = Substring(target)
        if !rest.hasPrefix("/"), let scheme = rest.firstRange(of: "://") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        return String(rest)
    }
}
