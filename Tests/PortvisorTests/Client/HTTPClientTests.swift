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
