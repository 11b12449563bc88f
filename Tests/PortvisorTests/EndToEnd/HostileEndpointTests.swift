// `portvisor status` against hostile stand-ins for a status endpoint (a canned HTTP answer on
// loopback): bad numbers end in one clear line and exit 69, never a crash.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct HostileEndpointTests {
    static func document(_ body: String) -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    }

    @Test(arguments: ["-1", "1e99", "99999999999999999999", "abc"])
    func badContentLengthExits69WithOneLine(_ value: String) throws {
        let server = try CannedServer(reply: "HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n{\"services\": []}", readsRequestHead: true)
        let run = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(server.port)"])
        #expect(run.code == 69, "\(run.err)")
        #expect(run.out.isEmpty)
        #expect(run.err == "portvisor status: what 127.0.0.1:\(server.port) sent is not an HTTP answer (bad Content-Length \"\(value)\": not a byte count in 0...67108864)\n")
    }

    @Test func badStatusCodeExits69WithOneLine() throws {
        let server = try CannedServer(reply: "HTTP/1.1 -20 Negative\r\n\r\n{}", readsRequestHead: true)
        let run = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(server.port)"])
        #expect(run.code == 69)
        #expect(run.err == "portvisor status: what 127.0.0.1:\(server.port) sent is not an HTTP answer (bad status line \"HTTP/1.1 -20 Negative\")\n")
    }
}
