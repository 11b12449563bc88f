// The `status` table shows a UDP service's datagrams (in, out, dropped) and its address with
// `/udp`, where connection counts would read 0/0 (issue 11, item 13).
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct StatusTableUDPTests {
    /// The cells of the table row that starts with `name`, split on runs of two or more spaces.
    static func row(_ name: String, in table: String) -> [String]? {
        guard let line = table.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return nil }
        return line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingWhitespace() }
    }

    @Test func tableOfADocumentWithTCPAndUDP() throws {
        let document = try JSONParser.parse(#"""
        { "services": [
          { "name": "echo", "host": "127.0.0.1", "port": 20007, "protocol": "tcp", "range": "registered", "state": "running",
            "restarts": 0, "lastError": null, "connections": { "live": 2, "total": 5, "rejected": 1, "refused": 0 } },
          { "name": "echo-udp", "host": "::1", "port": 2.0007e4, "protocol": "udp", "range": "registered", "state": "running",
            "restarts": 0, "lastError": null, "connections": { "live": 0, "total": 0, "rejected": 0, "refused": 0 },
            "datagrams": { "in": 3, "out": 2, "dropped": 1 } } ] }
        """#)
        guard case .array(let services)? = document["services"] else { Issue.record("no services"); return }
        let table = StatusCommand.table(document, services: services)
        #expect(table.hasPrefix("SERVICE   STATE    ADDRESS          RANGE       LIVE  TOTAL  REJECTED  REFUSED  DATAGRAMS"), "\(table)")
        #expect(Self.row("echo", in: table) == ["echo", "running", "127.0.0.1:20007", "registered", "2", "5", "1", "0", "-", "0", "-"])
        #expect(Self.row("echo-udp", in: table) == ["echo-udp", "running", "[::1]:20007/udp", "registered", "-", "-", "-", "-",
                                                     "in 3, out 2, dropped 1", "0", "-"])
    }

    @Test func aRunningUDPServiceShowsItsDatagrams() throws {
        let server = try TestSupervisor(#"{ "name": "echo-udp", "kind": "echo", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                                        status: TestSupervisor.statusOnLoopback, level: .warning)
        let port = try server.port("echo-udp")
        let client = try TestDatagramSocket()
        for i in 0..<3 {
            try client.send(Array("ping \(i)".utf8), to: port)
            #expect(try client.receive() == Array("ping \(i)".utf8))
        }
        _ = try server.waitFor("echo-udp") { $0.datagrams == Datagrams(received: 3, sent: 3, dropped: 0) }
        let run = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(try server.statusPort())"])
        #expect(run.code == 0, "\(run.err)")
        #expect(Self.row("echo-udp", in: run.out) == ["echo-udp", "running", "127.0.0.1:\(port)/udp", PortRange.classify(port).rawValue,
                                                       "-", "-", "-", "-", "in 3, out 3, dropped 0", "0", "-"], "\(run.out)")
        let tcp = try #require(Self.row("echo", in: run.out))
        #expect(tcp[2] == "127.0.0.1:\(try server.port("echo"))" && tcp[4] == "0" && tcp[8] == "-", "\(run.out)")
    }
}
