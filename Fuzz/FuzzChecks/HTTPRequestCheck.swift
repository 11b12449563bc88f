// Fuzz properties of the status endpoint's request-head parser: the outcome does not depend on
// how the bytes are split into reads, matches where the head really ends, never accepts a head
// over 8 KiB, and an accepted request is well-formed.
import Portvisor

/// Checks `HTTPRequestHead.append(_:)` and `HTTPRequestHead.parse(_:)` on arbitrary bytes.
public enum HTTPRequestCheck: FuzzCheck {
    public static let name = "http-request"

    /// What feeding a whole input produced.
    enum Outcome: Equatable {
        case request(HTTPRequest)
        case malformed(String)
        case tooLarge
        /// Every byte was taken and the head is still open.
        case incomplete
    }

    public static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let plans = ChunkPlans.plans(for: input)
        let whole = feed(input, plan: plans[0])
        for plan in plans.dropFirst() {
            let split = feed(input, plan: plan)
            try expect(split == whole, "split into \(plan.count) reads gave \(split), whole gave \(whole): \(preview(input))")
        }
        try expect(whole == expected(input), "gave \(whole), the head's end says \(expected(input)): \(preview(input))")
        if case .request(let request) = whole { try checkAccepted(request) }
    }

    /// Appends the chunks of `plan` to a fresh head until it answers.
    static func feed(_ input: [UInt8], plan: [Range<Int>]) -> Outcome {
        var head = HTTPRequestHead()
        do throws(HTTPRequestError) {
            for range in plan {
                let step = input[range].withUnsafeBytes { bytes in
                    Result { () throws(HTTPRequestError) in try head.append(bytes) }
                }
                if let request = try step.get() { return .request(request) }
            }
            return .incomplete
        } catch {
            switch error {
            case .malformed(let reason): return .malformed(reason)
            case .headTooLarge: return .tooLarge
            }
        }
    }

    /// The outcome implied by where the head ends (the first LF LF or LF CR LF), computed here
    /// independently of the parser's own search: over 8192 bytes is too large, otherwise the
    /// head alone decides.
    static func expected(_ input: [UInt8]) -> Outcome {
        let limit = HTTPRequestHead.maxHeadBytes
        guard let end = endOfHead(input) else { return input.count >= limit ? .tooLarge : .incomplete }
        if end > limit { return .tooLarge }
        do throws(HTTPRequestError) {
            return .request(try HTTPRequestHead.parse(Array(input[..<end])))
        } catch {
            switch error {
            case .malformed(let reason): return .malformed(reason)
            case .headTooLarge: return .tooLarge
            }
        }
    }

    static func endOfHead(_ input: [UInt8]) -> Int? {
        for (i, byte) in input.enumerated() where byte == 0x0A {
            let rest = input[(i + 1)...]
            if rest.first == 0x0A { return i + 2 }
            if rest.starts(with: [0x0D, 0x0A]) { return i + 3 }
        }
        return nil
    }

    /// An accepted request has a token method, HTTP/1.0 or 1.1, a visible-ASCII path without
    /// query or fragment, at most 100 headers with token names and single-line trimmed values.
    static func checkAccepted(_ request: HTTPRequest) throws(FuzzFailure) {
        try expect(isToken(request.method), "accepted method \(quoted(request.method)) is not a token")
        try expect(request.version == "HTTP/1.1" || request.version == "HTTP/1.0", "accepted version \(quoted(request.version))")
        try expect(request.path.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") },
                   "accepted path \(quoted(request.path)) has a control, space, non-ASCII, ? or # byte")
        try expect(request.headers.count <= HTTPRequestHead.maxHeaders, "accepted \(request.headers.count) headers")
        for (name, value) in request.headers {
            try expect(isToken(name), "accepted header name \(quoted(name)) is not a token")
            let bytes = Array(value.utf8)
            try expect(!bytes.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }, "header \(name) has a control byte: \(quoted(value))")
            let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
            try expect(!(bytes.first.map(blank) ?? false) && !(bytes.last.map(blank) ?? false),
                       "header \(name) value \(quoted(value)) keeps leading or trailing blanks")
        }
    }

    /// RFC 9110 `token`: one or more of ALPHA, DIGIT and ``!#$%&'*+-.^_`|~``.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func quoted(_ text: String) -> String { "\"\(preview(Array(text.utf8)))\"" }
}
