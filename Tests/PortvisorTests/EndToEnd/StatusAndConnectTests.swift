// `portvisor status` and `portvisor connect` as processes against a running `portvisor run`.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct StatusAndConnectTests {
    static let services = [
        #"{ "name": "daytime", "kind": "daytime", "port": 0 }"#,
        #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
        #"{ "name": "sentence", "kind": "sentence", "port": 0, "sentence": "Hello there." }"#,
    ]

    /// A running supervisor whose status endpoint is on a fixed free port, so the CLI can find
    /// it through the config (port 0 would need the log).
    static func start(_ services: [String] = services, awaitListening: Bool = true) throws -> (RunningPortvisor, Int) {
        let probe = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let statusPort = Int(try Socket.localAddress(probe).port)
        Syscall.close(probe)
        let run = try RunningPortvisor(services, status: #"{ "host": "127.0.0.1", "port": \#(statusPort) }"#,
                                       awaitListening: awaitListening)
        try run.process.waitForStderr("status endpoint on")
        return (run, statusPort)
    }

    @Test func statusTableAndJSON() throws {
        let (run, statusPort) = try Self.start()
        let clients = try (0..<3).map { _ in try TestClient(port: run.port("echo")) }
        for client in clients { _ = try client.exchange(Array("hi".utf8), halfClose: false) }
        let table = try ChildProcess.runPortvisor(["status", "--config", run.configPath])
        #expect(table.code == 0, "\(table.err)")
        #expect(table.out.contains("SERVICE") && table.out.contains("LAST ERROR"))
        #expect(table.out.contains("3 live connections:"))
        #expect(table.out.split(separator: "\n").filter { $0.hasPrefix("echo ") && $0.contains("127.0.0.1:") && $0.contains("2 B") }.count == 3)
        let json = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(statusPort)", "--json"])
        #expect(json.code == 0)
        let document = try JSONParser.parse(json.out)
        guard case .array(let services)? = document["services"] else { Issue.record("no services"); return }
        #expect(services.count == 3)
        #expect(services[1]["connections"]?["live"] == .int(3))
    }

    @Test func statusExitCodes() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(blocker) }
        let held = Int(try Socket.localAddress(blocker).port)
        let (run, _) = try Self.start([#"{ "name": "echo", "kind": "echo", "port": 0 }"#])
        #expect(try ChildProcess.runPortvisor(["status", "--config", run.configPath]).code == 0)
        // A second supervisor whose service cannot bind: exit 3.
        let (stuck, stuckStatus) = try Self.start([#"{ "name": "held", "kind": "echo", "port": \#(held) }"#], awaitListening: false)
        try stuck.process.waitForStderr("rebinding in")
        let three = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(stuckStatus)"])
        #expect(three.code == 3)
        #expect(three.out.contains("backoff"))
        #expect(three.out.contains("Address already in use"))
        // Nobody listening: exit 69 with one line.
        let closed = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:1"])
        #expect(closed.code == 69)
        #expect(closed.err == "portvisor status: cannot reach the status endpoint at 127.0.0.1:1: connect: Connection refused (errno: 111)\n")
        // The config turns the endpoint off: exit 69.
        let dir = try TempDirectory()
        let off = try dir.write("off.json", #"{ "status": false, "services": [ { "name": "e", "kind": "echo", "port": 0 } ] }"#)
        let offResult = try ChildProcess.runPortvisor(["status", "--config", off])
        #expect(offResult.code == 69)
        #expect(offResult.err.contains("the status endpoint is off"))
        #expect(try ChildProcess.runPortvisor(["status", "--status", "nonsense"]).code == 64)
        #expect(try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:1", "--config", off]).code == 64)
    }

    @Test func connectRoundTripsEachKind() throws {
        let (run, _) = try Self.start()
        let daytime = try ChildProcess.runPortvisor(["connect", "daytime", "--config", run.configPath])
        #expect(daytime.code == 0)
        #expect(daytime.out.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\r\n$"#, options: .regularExpression) != nil)
        let payload = String(decoding: randomBytes(200_000, seed: 9).map { 0x20 + $0 % 90 }, as: UTF8.self)
        let echo = try ChildProcess.runPortvisor(["connect", "echo", "--config", run.configPath], stdin: payload)
        #expect(echo.code == 0)
        #expect(sameBytes(Array(echo.out.utf8), Array(payload.utf8)))
        let sentence = try ChildProcess.runPortvisor(["connect", "sentence", "--config", run.configPath], stdin: "ACK\n")
        #expect(sentence == (0, "Hello there.\r\n", ""))
        let byAddress = try ChildProcess.runPortvisor(["connect", "127.0.0.1:\(try run.port("echo"))"], stdin: "addr")
        #expect(byAddress == (0, "addr", ""))
    }

    @Test func connectFailsCleanly() throws {
        let (run, _) = try Self.start()
        let unknown = try ChildProcess.runPortvisor(["connect", "ecko", "--config", run.configPath])
        #expect(unknown.code == 64)
        #expect(unknown.err == "portvisor connect: no service named \"ecko\" in \(run.configPath) (did you mean \"echo\"?); declared: daytime, echo, sentence\n")
        let closed = try ChildProcess.runPortvisor(["connect", "127.0.0.1:1", "--timeout", "2"])
        #expect(closed.code == 69)
        #expect(closed.err == "portvisor connect: cannot connect to 127.0.0.1:1: connect: Connection refused (errno: 111)\n")
        // A declared service that is not running.
        let dir = try TempDirectory()
        let config = try dir.write("c.json", #"{ "status": false, "services": [ { "name": "gone", "kind": "echo", "port": 1 } ] }"#)
        let gone = try ChildProcess.runPortvisor(["connect", "gone", "--config", config])
        #expect(gone.code == 69)
        #expect(gone.err == "portvisor connect: cannot connect to gone at 127.0.0.1:1: connect: Connection refused (errno: 111)\n")
        #expect(try ChildProcess.runPortvisor(["connect", "echo", "--timeout", "zero"]).code == 64)
    }

    @Test func connectFindsAPortZeroServiceThroughStatus() throws {
        let (run, _) = try Self.start()
        // The config says port 0; connect asks the status endpoint which port echo got.
        let echo = try ChildProcess.runPortvisor(["connect", "echo", "--config", run.configPath], stdin: "via status")
        #expect(echo == (0, "via status", ""))
    }
}
