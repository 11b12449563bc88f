// `portvisor run` and its control socket as processes (SPEC §9): one supervisor per config
// (exit 69 naming the pid, through the control socket or the status endpoint), a shared
// control path with another config, a stale socket replaced, the operator's tools working with a
// broken services.json, and the status endpoint's token and access rules.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorCLI

/// A free TCP port on 127.0.0.1 a moment ago.
func freeTCPPort() throws -> Int {
    let fd = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
    defer { Syscall.close(fd) }
    return Int(try Socket.localAddress(fd).port)
}

@Suite(.serialized) struct RunControlTests {
    /// `portvisor run --config PATH` with the default control path set to `control`.
    static func run(_ config: String, control: String) throws -> ChildProcess {
        try ChildProcess.portvisor(["run", "--config", config], environment: ["PORTVISOR_CONTROL": control])
    }

    static func services(_ extra: String = "", status: String = "false") -> String {
        #"{ "status": \#(status)\#(extra), "services": [ { "name": "echo", "kind": "echo", "port": 0 } ] }"#
    }

    @Test func aSecondRunOfTheSameConfigExitsNamingThePid() throws {
        let directory = try TempDirectory()
        let control = directory.file("ctl/control.sock")
        let config = try directory.write("services.json", Self.services())
        let first = try Self.run(config, control: control)
        _ = try first.waitForStderr("echo: listening on ")
        let second = try ChildProcess.runPortvisor(["run", "--config", config], environment: ["PORTVISOR_CONTROL": control])
        #expect(second.code == 69)
        #expect(second.err == "portvisor run: a supervisor (pid \(first.pid)) is already running \(config); use portvisor reload, or stop it first\n")
        // Another config sharing the control path runs, without control, and says so.
        let other = try directory.write("other.json", Self.services())
        let third = try Self.run(other, control: control)
        let log = try third.waitForStderr("echo: listening on ")
        #expect(log.contains("the control socket \(control) belongs to the supervisor of \(config) (pid \(first.pid)); running without control"))
        let info = try ChildProcess.runPortvisor(["stop", "echo", "--control", control, "--json"])
        #expect(info.code == 0)
        third.signal(SIGTERM)
        #expect(try third.waitForExit() == 0)
        #expect(FileManager.default.fileExists(atPath: control))  // the first one's, untouched
        first.signal(SIGTERM)
        #expect(try first.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: control))  // removed by its owner
    }

    @Test func withControlOffTheStatusEndpointStillCatchesASecondRun() throws {
        let directory = try TempDirectory()
        let port = try freeTCPPort()
        let config = try directory.write("services.json", Self.services(#", "control": false"#, status: #"{ "port": \#(port) }"#))
        let first = try Self.run(config, control: directory.file("unused.sock"))
        _ = try first.waitForStderr("status endpoint on ")
        let second = try ChildProcess.runPortvisor(["run", "--config", config])
        #expect(second.code == 69)
        #expect(second.err.contains("a supervisor (pid \(first.pid)) is already running \(config) (its status endpoint answers)"), "\(second.err)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("unused.sock")))
        first.signal(SIGTERM)
        #expect(try first.waitForExit() == 0)
    }

    @Test func aStaleSocketIsReplaced() throws {
        let directory = try TempDirectory()
        let control = directory.file("ctl/control.sock")
        mkdir(directory.file("ctl"), 0o700)
        // A socket file nobody listens on: what a killed supervisor leaves.
        let stale = try UnixSocket.listen(path: control)
        Syscall.close(stale)
        #expect(FileManager.default.fileExists(atPath: control))
        let config = try directory.write("services.json", Self.services())
        let child = try Self.run(config, control: control)
        let log = try child.waitForStderr("echo: listening on ")
        #expect(log.contains("control socket on \(control)"))
        let stop = try ChildProcess.runPortvisor(["stop", "echo", "--control", control])
        #expect(stop.code == 0 && stop.out.contains("stopped"), "\(stop.err)")
        // A supervisor killed with SIGKILL leaves its socket; the next one takes it over.
        child.signal(SIGKILL)
        _ = try? child.waitForExit()
        #expect(FileManager.default.fileExists(atPath: control))
        let next = try Self.run(config, control: control)
        #expect(try next.waitForStderr("echo: listening on ").contains("control socket on \(control)"))
        next.signal(SIGTERM)
        #expect(try next.waitForExit() == 0)
    }

    /// The file on disk broken: status, connect and the control commands still find the running
    /// supervisor (through its control socket) and say the file is invalid; reload refuses.
    @Test func aBrokenServicesJSONDoesNotTakeTheToolsAway() throws {
        let directory = try TempDirectory()
        let control = directory.file("ctl/control.sock")
        let port = try freeTCPPort()
        let config = try directory.write("services.json", Self.services(status: #"{ "port": \#(port) }"#))
        let child = try Self.run(config, control: control)
        _ = try child.waitForStderr("status endpoint on ")
        _ = try child.waitForStderr("echo: listening on ")
        try directory.write("services.json", #"{ "services": [ { "name": "echo", "kind": "ecko", "port": 0 } ] "#)
        let environment = ["PORTVISOR_CONTROL": control]
        let status = try ChildProcess.runPortvisor(["status", "--config", config], environment: environment)
        #expect(status.code == 0, "\(status.err)")
        #expect(status.out.contains("echo     running"), "\(status.out)")
        #expect(status.err.hasPrefix("portvisor status: warning: \(config): not valid JSON"), "\(status.err)")
        #expect(status.err.contains("using the running supervisor (pid \(child.pid), config \(config)) found on its control socket"))
        let connect = try ChildProcess.runPortvisor(["connect", "--config", config, "echo"], environment: environment, stdin: "still here")
        #expect(connect.code == 0 && connect.out == "still here", "\(connect.err)")
        let stop = try ChildProcess.runPortvisor(["stop", "--config", config, "echo"], environment: environment)
        #expect(stop.code == 0, "\(stop.err)")
        #expect(stop.err.contains("warning:"))
        let reload = try ChildProcess.runPortvisor(["reload", "--config", config], environment: environment)
        #expect(reload.code == 78)
        #expect(reload.err.contains("not valid JSON") && reload.err.contains("is invalid; the running config stays"), "\(reload.err)")
        // Nothing answers: the file's own problems, as check prints them.
        child.signal(SIGTERM)
        #expect(try child.waitForExit() == 0)
        let gone = try ChildProcess.runPortvisor(["status", "--config", config], environment: environment)
        #expect(gone.code == 78 && gone.err.hasPrefix("\(config): not valid JSON"), "\(gone.err)")
        let unreachable = try ChildProcess.runPortvisor(["stop", "echo", "--control", control])
        #expect(unreachable.code == 69 && unreachable.err.contains("cannot reach the supervisor's control socket \(control)"), "\(unreachable.err)")
    }

    /// status.tokenFile: /status, /metrics and / need the bearer token, /healthz does not;
    /// `portvisor status` sends it. status.allow keeps other sources out.
    @Test func theStatusTokenAndAccessRules() throws {
        let directory = try TempDirectory()
        let token = "s3cr3t-token-0123456789"
        let tokenFile = try directory.write("token", token + "\n")
        chmod(tokenFile, 0o600)
        let port = try freeTCPPort()
        let config = try directory.write("services.json", Self.services(
            status: #"{ "port": \#(port), "tokenFile": "\#(tokenFile)", "allow": ["127.0.0.1/32"] }"#))
        let child = try Self.run(config, control: directory.file("ctl/control.sock"))
        _ = try child.waitForStderr("status endpoint on ")
        _ = try child.waitForStderr("echo: listening on ")  // /healthz is 200 only once it runs
        let endpoint = SocketAddress(ip: .loopbackV4, port: UInt16(port))
        let anonymous = try HTTPClient.get("/status", from: endpoint)
        #expect(anonymous.status == 401 && anonymous.bodyText.contains("needs Authorization: Bearer"))
        #expect(try HTTPClient.get("/metrics", from: endpoint).status == 401)
        #expect(try HTTPClient.get("/", from: endpoint).status == 401)
        #expect(try HTTPClient.get("/status", from: endpoint, token: "wrong-token-0123456789").status == 401)
        #expect(try HTTPClient.get("/healthz", from: endpoint).status == 200)
        #expect(try HTTPClient.get("/status", from: endpoint, token: token).status == 200)
        let status = try ChildProcess.runPortvisor(["status", "--config", config])
        #expect(status.code == 0 && status.out.contains("echo"), "\(status.err)")
        // From 127.0.0.2 (not allowed) the connection is closed without an answer (the send
        // may already find it closed: EPIPE).
        let outsider = try TestClient(port: port, source: "127.0.0.2")
        try? outsider.send("GET /healthz HTTP/1.0\r\n\r\n")
        #expect(try outsider.readToEndText(timeout: 5).isEmpty)
        child.signal(SIGTERM)
        #expect(try child.waitForExit() == 0)
    }
}
