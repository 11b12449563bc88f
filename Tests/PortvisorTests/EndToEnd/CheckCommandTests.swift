// `portvisor check`, `--help`, `--version` and usage errors, run as the built binary.
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct CheckCommandTests {
    static let valid = #"""
    { "status": { "host": "127.0.0.1", "port": 20080 },
      "services": [
        { "name": "daytime", "kind": "daytime", "port": 20000 },
        { "name": "echo", "kind": "echo", "port": 20007 },
        { "name": "sentence", "kind": "sentence", "port": 61000 },
        { "name": "off", "kind": "echo", "port": 0, "enabled": false } ] }
    """#

    @Test func validFilePrintsTheTable() throws {
        let dir = try TempDirectory()
        let path = try dir.write("services.json", Self.valid)
        let result = try ChildProcess.runPortvisor(["check", "--config", path])
        #expect(result.code == 0)
        #expect(result.err == "")
        let lines = result.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(path): valid, 4 services (3 enabled), status endpoint on 127.0.0.1:20080")
        #expect(lines.contains { $0.hasPrefix("NAME") && $0.contains("RANGE") && $0.contains("REGISTERED") })
        #expect(lines.contains { $0.hasPrefix("echo ") && $0.contains("127.0.0.1:20007") && $0.contains("registered") })
        #expect(lines.contains { $0.hasPrefix("sentence ") && $0.contains("dynamic") })
        #expect(lines.contains { $0.hasPrefix("off ") && $0.contains("disabled") })
    }

    @Test func jsonOutputHasTheSpecShape() throws {
        let dir = try TempDirectory()
        let path = try dir.write("services.json", Self.valid)
        let result = try ChildProcess.runPortvisor(["check", "--config", path, "--json"])
        #expect(result.code == 0)
        let json = try JSONParser.parse(result.out)
        #expect(json["config"] == .string(path))
        #expect(json["status"] == .fields(["host": .string("127.0.0.1"), "port": .int(20080)]))
        guard case .array(let services)? = json["services"] else { Issue.record("no services array"); return }
        #expect(services.count == 4)
        guard case .object(let first) = services[0] else { Issue.record("not an object"); return }
        #expect(first.map(\.key) == ["name", "kind", "host", "port", "protocol", "range", "registeredName", "enabled", "warnings"])
        #expect(services[1]["range"] == .string("registered"))
        #expect(services[3]["enabled"] == .bool(false))
    }

    @Test func warningsAreListed() throws {
        let dir = try TempDirectory()
        let path = try dir.write("services.json", #"{ "status": false, "services": [ { "name": "e", "kind": "daytime", "port": 7 }, { "name": "x", "kind": "echo", "port": 40000 } ] }"#)
        let result = try ChildProcess.runPortvisor(["check", "--config", path])
        #expect(result.code == 0)
        #expect(result.out.contains(#"warning: e: port 7 is "echo" in /etc/services, not "daytime""#) || !FileManager.default.fileExists(atPath: "/etc/services"))
        #expect(result.out.contains("warning: x: port 40000 is in the kernel's ephemeral range"))
        #expect(result.out.contains("status endpoint off"))
    }

    @Test func invalidFileExits78WithEveryProblem() throws {
        let dir = try TempDirectory()
        let path = try dir.write("bad.json", #"{ "status": false, "services": [ { "name": "a", "kind": "ecko", "port": 70000 }, { "name": "a", "kind": "echo", "prot": 1 } ] }"#)
        let result = try ChildProcess.runPortvisor(["check", "--config", path])
        #expect(result.code == 78)
        #expect(result.out == "")
        #expect(result.err.split(separator: "\n").map(String.init) == [
            #"\#(path): services[0].kind: unknown kind "ecko" (did you mean "echo"?); known kinds: \#(KindRegistry.names.joined(separator: ", "))"#,
            "\(path): services[0].port: 70000 is outside 0...65535",
            #"\#(path): services[1].name: duplicate name "a" (first used by services[0])"#,
            #"\#(path): services[1]: unknown key "prot" (did you mean "port"?)"#,
            #"\#(path): services[1]: missing required key "port""#,
        ])
    }

    @Test func missingFileExits66() throws {
        let dir = try TempDirectory()
        let result = try ChildProcess.runPortvisor(["check", "--config", dir.file("nope.json")])
        #expect(result.code == 66)
        #expect(result.err == "\(dir.file("nope.json")): cannot open: No such file or directory (give the file with --config PATH or $PORTVISOR_CONFIG)\n")
    }

    @Test func aMissingDefaultConfigSaysWhereThePathComesFrom() throws {
        let dir = try TempDirectory()  // no services.json here, and no $PORTVISOR_CONFIG
        for arguments in [["check"], ["run"], ["status"], ["connect", "echo"], ["bench", "rr", "--service", "echo"]] {
            let result = try ChildProcess.runPortvisor(arguments, environment: ["PORTVISOR_CONFIG": ""], directory: dir.path)
            #expect(result.code == 66, "\(arguments)")
            #expect(result.err == "services.json: cannot open: No such file or directory (give the file with --config PATH or $PORTVISOR_CONFIG)\n",
                    "\(arguments)")
        }
        // A file that is there but not a regular file needs no hint: the path was found.
        let notAFile = try ChildProcess.runPortvisor(["check", "--config", dir.path])
        #expect(notAFile.code == 66 && notAFile.err == "\(dir.path): not a regular file (a directory)\n")
    }

    @Test func devNullExits66() throws {
        let result = try ChildProcess.runPortvisor(["check", "--config", "/dev/null"])
        #expect(result.code == 66)
        #expect(result.err == "/dev/null: not a regular file (a character device)\n")
    }

    @Test func emptyAndNonJSONExit78() throws {
        let dir = try TempDirectory()
        let empty = try dir.write("empty.json", "")
        #expect(try ChildProcess.runPortvisor(["check", "--config", empty]).code == 78)
        let text = try dir.write("text.json", "services: []\n")
        let result = try ChildProcess.runPortvisor(["check", "--config", text])
        #expect(result.code == 78)
        #expect(result.err == "\(text): not valid JSON: line 1, column 1: unexpected \"s\", expected a value\n")
    }

    @Test func configPathFromEnvironmentAndWorkingDirectory() throws {
        let dir = try TempDirectory()
        try dir.write("services.json", Self.valid)
        let other = try dir.write("other.json", #"{ "status": false, "services": [ { "name": "only", "kind": "echo", "port": 0 } ] }"#)
        let fromCwd = try ChildProcess.runPortvisor(["check"], environment: ["PORTVISOR_CONFIG": ""], directory: dir.path)
        #expect(fromCwd.code == 0)
        #expect(fromCwd.out.hasPrefix("services.json: valid, 4 services"))
        let fromEnv = try ChildProcess.runPortvisor(["check"], environment: ["PORTVISOR_CONFIG": other], directory: dir.path)
        #expect(fromEnv.out.hasPrefix("\(other): valid, 1 service (1 enabled)"))
        let fromOption = try ChildProcess.runPortvisor(["check", "--config", "services.json"], environment: ["PORTVISOR_CONFIG": other], directory: dir.path)
        #expect(fromOption.out.hasPrefix("services.json: valid, 4 services"))
    }

    @Test func helpVersionAndUsageErrors() throws {
        let help = try ChildProcess.runPortvisor(["--help"])
        #expect(help.code == 0)
        #expect(help.out.contains("portvisor check [--config PATH] [--json]"))
        let checkHelp = try ChildProcess.runPortvisor(["check", "--help"])
        #expect(checkHelp.code == 0)
        #expect(checkHelp.out.hasPrefix("usage: portvisor check [--config PATH] [--json]"))
        let version = try ChildProcess.runPortvisor(["--version"])
        #expect(version == (0, "portvisor \(CommandLineSpec.version)\n", ""))
        let bare = try ChildProcess.runPortvisor([])
        #expect(bare.code == 64)
        #expect(bare.out == "")
        #expect(bare.err.contains("usage:"))
        let badOption = try ChildProcess.runPortvisor(["check", "--jsn"])
        #expect(badOption.code == 64)
        #expect(badOption.err == "portvisor check: unknown option --jsn (did you mean --json?)\nusage: portvisor check [--config PATH] [--json]\n")
        let badCommand = try ChildProcess.runPortvisor(["chek"])
        #expect(badCommand.code == 64)
        #expect(badCommand.err.hasPrefix("portvisor: unknown command \"chek\" (did you mean \"check\"?)"))
    }
}
