// The status client's answer parsing: CRLF heads (what every server sends) yield their headers,
// and Content-Length bounds the body.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct HTTPClientTests {
    @Test func headersOfACRLFHead() throws {
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        let reply = try HTTPClient.parse(Array(raw.utf8))
        #expect(reply.status == 200)
        #expect(reply.headers.map(\.name) == ["Content-Type", "Transfer-Encoding"])
        #expect(reply.headers.last?.value == "chunked")
    }

    @Test func contentLengthBoundsTheBody() throws {
        let reply = try HTTPClient.parse(Array("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nokEXTRA".utf8))
        #expect(reply.status == 503 && reply.bodyText == "ok")
    }
}

/// Numbers from the network are range-checked: a hostile answer is an error, never a trap.
@Suite struct HTTPClientRangeTests {
    static func answer(contentLength: String) -> [UInt8] {
        Array("HTTP/1.1 200 OK\r\nContent-Length: \(contentLength)\r\n\r\n{}".utf8)
    }

    @Test(arguments: ["-1", "1e99", "99999999999999999999", "abc", "", "+2", " 2 2", "0x10", "67108865"])
    func badContentLengthIsMalformed(_ value: String) {
        #expect {
            _ = try HTTPClient.parse(Self.answer(contentLength: value))
        } throws: { error in
            guard case HTTPClientError.malformed(let reason) = error else { return false }
            return reason.hasPrefix("bad Content-Length \"") && reason.hasSuffix("\": not a byte count in 0...67108864")
        }
    }

    @Test func contentLengthAtTheLimitsIsAccepted() throws {
        #expect(try HTTPClient.parse(Self.answer(contentLength: "0")).body.isEmpty)
        #expect(try HTTPClient.parse(Self.answer(contentLength: "67108864")).bodyText == "{}")
        #expect(try HTTPClient.parse(Self.answer(contentLength: "0000000000000000000000001")).bodyText == "{")
    }

    @Test func conflictingContentLengthsAreMalformed() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}"
        #expect(throws: HTTPClientError.self) { try HTTPClient.parse(Array(raw.utf8)) }
    }

    @Test(arguments: ["HTTP/1.1 -20 X", "HTTP/1.1 +20 X", "HTTP/1.1 99 X", "HTTP/1.1 600 X", "HTTP/1.1 2000 X",
                      "HTTP/1.1 99999999999999999999", "HTTP/1.1  200 X", "HTTP/1.x 200 X", "HTTP/2 200 OK", "HTTP/1.1 20a"])
    func badStatusLineIsMalformed(_ line: String) {
        #expect {
            _ = try HTTPClient.parse(Array("\(line)\r\n\r\n".utf8))
        } throws: { error in
            guard case HTTPClientError.malformed(let reason) = error else { return false }
            return reason.hasPrefix("bad status line")
        }
    }

    @Test func statusCodesAtTheLimitsAreAccepted() throws {
        #expect(try HTTPClient.parse(Array("HTTP/1.0 100\r\n\r\n".utf8)).status == 100)
        #expect(try HTTPClient.parse(Array("HTTP/1.1 599 Whatever\r\n\r\n".utf8)).status == 599)
    }

    @Test func errorTextIsShortAndPrintable() {
        let hostile = "\u{1B}[2J" + String(repeating: "9", count: 100)
        #expect {
            _ = try HTTPClient.parse(Self.answer(contentLength: hostile))
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("not an HTTP answer (bad Content-Length \"\\u{1B}[2J999") && text.count < 140
                && !text.unicodeScalars.contains { $0.value < 0x20 }
        }
    }
}
