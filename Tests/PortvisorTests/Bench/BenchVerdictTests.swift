// A bench run that is not clean says so (issue 11, item 12): exit 2 when connections failed or
// nothing was measured, with one line on stderr saying why (the service's maxConnections when
// the config explains it); with --service, a UDP service or the wrong kind is refused up front.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct BenchVerdictTests {
    static func result(_ mode: BenchMode, connections: Int = 10, service: BenchService? = nil,
                       firstError: SystemError? = nil, _ adjust: (inout BenchCounters) -> Void) -> BenchResult {
        var options = BenchOptions(mode: mode, address: SocketAddress(ip: .loopbackV4, port: 7))
        options.connections = connections
        options.duration = 2
        options.service = service
        var counters = BenchCounters()
        adjust(&counters)
        return BenchResult(options: options, threads: 1, counters: counters, histogram: LatencyHistogram(),
                           wallSeconds: 2, cpuSeconds: 0.1, serverRSSBeforeKiB: nil, serverRSSHeldKiB: nil,
                           firstError: firstError, notes: [])
    }

    static let echo = BenchService(name: "echo", kind: "echo", maxConnections: 512)

    @Test func cleanRunsExit0() {
        let rr = Self.result(.rr) { $0.ops = 5; $0.verified = 10 }
        #expect(rr.outcome == .clean && rr.exitCode == 0 && rr.failure == nil)
        let idle = Self.result(.idle) { $0.verified = 10; $0.stillEchoing = 10 }
        #expect(idle.exitCode == 0)
        let stream = Self.result(.stream) { $0.bytesEchoed = 1 }
        #expect(stream.exitCode == 0)
    }

    @Test func failedConnectionsExit2AndNameTheServicesLimit() {
        var service = Self.echo
        service.maxConnections = 512
        let idle = Self.result(.idle, connections: 1000, service: service) {
            $0.established = 1000; $0.verified = 512; $0.stillEchoing = 512; $0.eofErrors = 488
        }
        #expect(idle.outcome == .errors && idle.exitCode == 2)
        #expect(idle.failure == "488 of 1000 connections failed; the service's maxConnections is 512")
        #expect(idle.json()["exit"] == .int(2) && idle.json()["failure"] == .string(idle.failure!))
    }

    @Test func withoutTheConfigTheFirstErrorIsGiven() {
        let reset = SystemError("read", errno: Errno.ECONNRESET)
        let rr = Self.result(.rr, firstError: reset) { $0.ops = 100; $0.verified = 10; $0.ioErrors = 3 }
        #expect(rr.exitCode == 2)
        #expect(rr.failure == "3 connections failed during the run (3 io); first error: read: Connection reset by peer (errno: 104)")
        let idle = Self.result(.idle) { $0.verified = 4; $0.stillEchoing = 4; $0.eofErrors = 6 }
        #expect(idle.failure == "6 of 10 connections failed (6 eof); the server closed connections while an answer was due")
        let connect = Self.result(.connect, connections: 2) { $0.ops = 5; $0.opsTotal = 7; $0.timeouts = 1 }
        #expect(connect.failure == "1 of 8 connections failed (1 timeout); no progress for 5 s")
    }

    @Test func nothingMeasuredExits2WithAHint() {
        let connect = Self.result(.connect, connections: 1) { _ in }
        #expect(connect.outcome == .nothingMeasured && connect.exitCode == 2)
        #expect(connect.failure == "nothing was measured: no connection ended with a complete reply in the 2 s window; connect expects a server that sends one line and closes, like daytime or qotd")
        let known = Self.result(.rr, service: Self.echo) { $0.verified = 10 }
        #expect(known.failure == "nothing was measured: no round trip completed in the 2 s window")
    }

    @Test func aMismatchAsksWhetherTheTargetEchoes() {
        let rr = Self.result(.rr) { $0.mismatches = 1; $0.timeouts = 1 }
        #expect(rr.outcome == .verificationFailed && rr.exitCode == 1)
        #expect(rr.failure == "the reply was not an echo of what was sent: is this an echo service?")
        let known = Self.result(.rr, service: Self.echo) { $0.mismatches = 1 }
        #expect(known.failure == "the reply was not an echo of what was sent")
        let line = Self.result(.connect) { $0.invalidReplies = 2 }
        #expect(line.failure?.hasSuffix(": is this a daytime or qotd service?") == true)
    }

    @Test func eachModeRefusesTheKindsThatDoNotSpeakIt() {
        func service(_ kind: String, udp: Bool = false) -> BenchService { BenchService(name: "s", kind: kind, isUDP: udp, maxConnections: 1) }
        for mode in [BenchMode.rr, .stream, .idle] {
            #expect(mode.refusal(of: service("echo")) == nil)
            #expect(mode.refusal(of: service("daytime")) == "\(mode.rawValue) needs an echo service; s is of kind daytime (bench connect measures it)")
        }
        #expect(BenchMode.connect.refusal(of: service("daytime")) == nil && BenchMode.connect.refusal(of: service("qotd")) == nil)
        #expect(BenchMode.connect.refusal(of: service("time")) == "connect needs a service that sends one line and closes (daytime or qotd); s is of kind time")
        #expect(BenchMode.sentence.refusal(of: service("sentence")) == nil)
        #expect(BenchMode.sentence.refusal(of: service("echo")) == "sentence needs a sentence service; s is of kind echo (bench rr measures it)")
        #expect(BenchMode.rr.refusal(of: service("echo", udp: true)) == "s is a UDP service; bench measures TCP")
        #expect(BenchMode.rr.refusal(of: service("proxy")) == nil)  // a kind bench cannot judge is let through
    }
}

/// The same, as the built binary against an in-process supervisor.
@Suite struct BenchVerdictCommandTests {
    /// A supervisor with a small echo and the CLI's config for it (found through the status endpoint).
    static func start(maxConnections: Int) throws -> (TestSupervisor, TempDirectory, String) {
        let echo = #"{ "name": "echo", "kind": "echo", "port": 0, "maxConnections": \#(maxConnections) }"#
        let daytime = #"{ "name": "daytime", "kind": "daytime", "port": 0 }"#
        let server = try TestSupervisor(echo, daytime, status: TestSupervisor.statusOnLoopback, level: .warning)
        let dir = try TempDirectory()
        let path = try dir.write("services.json", #"{ "status": { "host": "127.0.0.1", "port": \#(try server.statusPort()) }, "services": [ \#(echo), \#(daytime) ] }"#)
        return (server, dir, path)
    }

    @Test func idlePastMaxConnectionsExits2NamingTheLimit() throws {
        let (server, dir, path) = try Self.start(maxConnections: 4)
        defer { withExtendedLifetime(dir) {} }
        let run = try ChildProcess.runPortvisor(["bench", "idle", "--service", "echo", "--config", path, "--connections", "10", "--duration", "0.2"])
        #expect(run.code == 2, "\(run.err)")
        #expect(run.out.contains("idle  10"))
        #expect(run.err == "portvisor bench: 6 of 10 connections failed; the service's maxConnections is 4\n")
        let direct = try ChildProcess.runPortvisor(["bench", "idle", "--port", "\(try server.port("echo"))", "--connections", "10",
                                                    "--duration", "0.2", "--json"])
        #expect(direct.code == 2)
        #expect(direct.err.hasPrefix("portvisor bench: 6 of 10 connections failed ("), "\(direct.err)")
        let object = try JSONParser.parse(direct.out)
        #expect(object["exit"] == .int(2))
        guard case .string(let failure)? = object["failure"] else { Issue.record("no failure in \(direct.out)"); return }
        #expect(direct.err == "portvisor bench: \(failure)\n")
    }

    @Test func connectAgainstEchoMeasuresNothingAndSaysSo() throws {
        let (server, _, _) = try Self.start(maxConnections: 8)
        let run = try ChildProcess.runPortvisor(["bench", "connect", "--port", "\(try server.port("echo"))", "--duration", "0.3"])
        #expect(run.code == 2, "\(run.err)")
        #expect(run.err == "portvisor bench: nothing was measured: no connection ended with a complete reply in the 0.3 s window; connect expects a server that sends one line and closes, like daytime or qotd\n")
    }

    @Test func rrAgainstDaytimeAsksWhetherItEchoes() throws {
        let (server, _, _) = try Self.start(maxConnections: 8)
        let run = try ChildProcess.runPortvisor(["bench", "rr", "--port", "\(try server.port("daytime"))", "--duration", "0.2", "--warmup", "0"])
        #expect(run.code == 1)
        #expect(run.err == "portvisor bench: the reply was not an echo of what was sent: is this an echo service?\n")
    }

    @Test func aServiceOfTheWrongKindOrProtocolIsRefusedFirst() throws {
        // Nothing listens on these ports: a refusal must come before any connect.
        let probes = try (0..<4).map { _ in try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0)) }
        let ports = try probes.map { Int(try Socket.localAddress($0).port) }  // all open at once: all different
        probes.forEach(Syscall.close)
        let dir = try TempDirectory()
        let path = try dir.write("services.json", #"""
        { "status": false, "services": [
          { "name": "echo", "kind": "echo", "port": \#(ports[0]) },
          { "name": "echo-udp", "kind": "echo", "port": \#(ports[0]), "protocol": "udp" },
          { "name": "daytime", "kind": "daytime", "port": \#(ports[1]) },
          { "name": "qotd", "kind": "qotd", "port": \#(ports[2]), "quotes": ["Q."] },
          { "name": "time", "kind": "time", "port": 0 },
          { "name": "sentence", "kind": "sentence", "port": \#(ports[3]) } ] }
        """#)
        let refused: [(String, String, String)] = [
            ("rr", "echo-udp", "echo-udp is a UDP service; bench measures TCP"),
            ("rr", "daytime", "rr needs an echo service; daytime is of kind daytime (bench connect measures it)"),
            ("stream", "sentence", "stream needs an echo service; sentence is of kind sentence (bench sentence measures it)"),
            ("idle", "qotd", "idle needs an echo service; qotd is of kind qotd (bench connect measures it)"),
            ("connect", "echo", "connect needs a service that sends one line and closes (daytime or qotd); echo is of kind echo (bench rr measures it)"),
            ("connect", "time", "connect needs a service that sends one line and closes (daytime or qotd); time is of kind time"),
            ("sentence", "daytime", "sentence needs a sentence service; daytime is of kind daytime (bench connect measures it)"),
        ]
        for (mode, service, line) in refused {
            let run = try ChildProcess.runPortvisor(["bench", mode, "--service", service, "--config", path])
            #expect(run.code == 64, "\(mode) \(service): \(run.err)")
            #expect(run.err == "portvisor bench: \(line)\n")
            #expect(run.out.isEmpty)
        }
        for (mode, service) in [("connect", "qotd"), ("connect", "daytime"), ("sentence", "sentence"), ("rr", "echo")] {
            let run = try ChildProcess.runPortvisor(["bench", mode, "--service", service, "--config", path])
            #expect(run.code == 69, "\(mode) \(service): \(run.err)")  // accepted, then found unreachable
        }
    }
}
