// `portvisor bench` as a process: exit codes 0, 1, 64 and 69, the JSON object, and --help.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct BenchCommandTests {
    /// A loopback port nobody listens on: bound by us, then closed.
    static func closedPort() throws -> Int {
        let probe = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(probe) }
        return Int(try Socket.localAddress(probe).port)
    }

    @Test func unreachableTargetExits69WithOneLine() throws {
        let port = try Self.closedPort()
        let run = try ChildProcess.runPortvisor(["bench", "rr", "--port", "\(port)"])
        #expect(run.code == 69)
        #expect(run.err == "portvisor bench: cannot connect to 127.0.0.1:\(port): connect: Connection refused (errno: 111)\n")
        #expect(run.out.isEmpty)
    }

    @Test func jsonOfACleanRun() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, level: .warning)
        let port = try server.port("echo")
        let run = try ChildProcess.runPortvisor(["bench", "rr", "--port", "\(port)", "--connections", "2",
                                                 "--duration", "0.3", "--warmup", "0", "--json"])
        #expect(run.code == 0, "\(run.err)")
        let object = try JSONParser.parse(run.out)
        #expect(object["mode"] == .string("rr") && object["connections"] == .int(2) && object["port"] == .int(port))
        guard case .number(let rate)? = object["rate"], case .number(let p99)? = object["p99_us"] else {
            Issue.record("no rate or p99_us in \(run.out)")
            return
        }
        #expect(rate.double > 0 && p99.double > 0)
        #expect(object["errors"]?["mismatch"] == .int(0))
        #expect(run.out.split(separator: "\n").count == 1)
    }

    @Test func verificationFailureExits1() throws {
        let server = try TestSupervisor(#"{ "name": "daytime", "kind": "daytime", "port": 0 }"#, level: .warning)
        let run = try ChildProcess.runPortvisor(["bench", "rr", "--port", "\(try server.port("daytime"))", "--duration", "0.2", "--warmup", "0"])
        #expect(run.code == 1, "\(run.err)")
        #expect(run.out.contains("verification failed: 1 mismatched echo"))
    }

    @Test func usageMistakesExit64() throws {
        for arguments in [["bench", "rx", "--port", "7"], ["bench", "rr"], ["bench", "rr", "--port", "7", "--duration", "601"],
                          ["bench", "connect", "--port", "7", "--size", "9"], ["bench", "rr", "--host", "example.org", "--port", "7"]] {
            let run = try ChildProcess.runPortvisor(arguments)
            #expect(run.code == 64, "\(arguments): \(run.err)")
            #expect(run.err.hasPrefix("portvisor bench: ") && run.err.contains("usage: portvisor bench MODE"), "\(run.err)")
        }
    }

    @Test func helpListsTheCommandAndItsExitCodes() throws {
        let top = try ChildProcess.runPortvisor(["--help"])
        #expect(top.out.contains("portvisor bench MODE") && top.out.contains("Load a service and measure it"))
        let own = try ChildProcess.runPortvisor(["bench", "--help"])
        #expect(own.code == 0)
        for text in ["rr", "stream", "connect", "sentence", "idle", "--connections N", "1 a reply failed verification", "69 target unreachable"] {
            #expect(own.out.contains(text), "missing \(text)")
        }
    }
}
