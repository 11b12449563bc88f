// Raw control characters never reach the terminal (issue 11, item 10): `check` quoting a
// hostile config, `status` printing a hostile endpoint's document, usage errors echoing argv.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct ControlCharacterTests {
    @Test func checkEscapesC1AndEscapeInNamesAndKeys() throws {
        let dir = try TempDirectory()
        // JSON escapes for the C0 characters (raw ones are invalid JSON); U+0085 and U+009B raw too.
        let path = try dir.write("hostile.json", """
        { "status": false, "services": [
          { "name": "a\\u0085b", "kind": "echo", "port": 1 },
          { "name": "c\u{9B}2J", "kind": "echo", "port": 2 },
          { "name": "ok", "kind": "echo", "port": 3, "\\u001b[2J": 1, "x\u{85}\u{9B}": 2 } ] }
        """)
        let run = try ChildProcess.runPortvisor(["check", "--config", path])
        #expect(run.code == 78)
        #expect(run.out.isEmpty)
        #expect(holdsOnlyPrintableText(Array(run.err.utf8)), "\(run.err)")
        let lines = run.err.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"\#(path): services[0].name: "a\u0085b" is not a valid name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit"#))
        #expect(lines.contains(#"\#(path): services[1].name: "c\u009b2J" is not a valid name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit"#))
        #expect(lines.contains { $0.hasPrefix(#"\#(path): services[2]: unknown key "\u001b[2J""#) })
        #expect(lines.contains { $0.hasPrefix(#"\#(path): services[2]: unknown key "x\u0085\u009b""#) })
    }

    @Test func aHostileConfigPathIsEscaped() throws {
        let run = try ChildProcess.runPortvisor(["check", "--config", "/nonexistent/\u{1B}[2J\u{9B}\r.json"])
        #expect(run.code == 66)
        #expect(run.err.hasPrefix(#"/nonexistent/\u{1B}[2J\u{9B}\r.json: cannot open: No such file or directory"#), "\(run.err)")
        #expect(holdsOnlyPrintableText(Array(run.err.utf8)) && run.err.split(separator: "\n").count == 1)
    }

    /// A status document whose strings hold NUL, BEL, CR, ESC, C1, DEL and U+2028, escaped in
    /// the JSON and also raw where JSON allows it (C1, DEL, U+2028 and whitespace CR).
    static let hostileDocument = """
    {"supervisor": {"pid": 1, "version": "9\\u001b]0;owned\\u0007", "config": "/x\u{9B}31m\\r", "uptimeSeconds": 1},\r
     "services": [ {"name": "a\\u0000\\u0007\\r\\u001b[2J\\u009b", "kind": "echo", "host": "127.0.0.1\u{7F}", "port": 1,
       "range": "registered\u{2028}", "state": "running", "restarts": 0, "lastError": "\u{85}\\n\\u001b[31mred",
       "connections": {"live": 1, "total": 1, "rejected": 0, "refused": 0},
       "live": [ {"peer": "\\u001b[1A1.2.3.4:5", "since": "\\r2026", "bytesIn": 1, "bytesOut": 1} ] } ] }
    """

    @Test func statusPrintsNoRawControlByte() throws {
        let server = try CannedServer(reply: HostileEndpointTests.document(Self.hostileDocument), readsRequestHead: true)
        for json in [false, true] {
            let run = try ChildProcess.runPortvisor(["status", "--status", "127.0.0.1:\(server.port)"] + (json ? ["--json"] : []))
            #expect(run.code == 0, "\(run.err)")
            #expect(run.err.isEmpty)
            #expect(holdsOnlyPrintableText(Array(run.out.utf8)), "\(run.out)")
            if json {
                let document = try JSONParser.parse(run.out)
                #expect(document == (try JSONParser.parse(Self.hostileDocument)))
            } else {
                #expect(run.out.contains(#"a\u{0}\u{7}\r\u{1B}[2J\u{9B}"#), "\(run.out)")
                #expect(run.out.hasPrefix(#"portvisor 9\u{1B}]0;owned\u{7}, pid 1, up 1 s, config /x\u{9B}31m\r"#), "\(run.out)")
            }
        }
    }

    @Test func usageErrorsEscapeArguments() throws {
        let command = try ChildProcess.runPortvisor(["\u{1B}[2J"])
        #expect(command.code == 64)
        #expect(command.err.hasPrefix(#"portvisor: unknown command "\u{1B}[2J""#), "\(command.err)")
        let level = try ChildProcess.runPortvisor(["run", "--log-level", "\u{7}"])
        #expect(level.code == 64)
        #expect(level.err.hasPrefix(#"portvisor run: --log-level: "\u{7}" is not one of debug, info, warning, error"#), "\(level.err)")
        for arguments in [["check", "--\u{1B}[2J"], ["check", "--config"], ["status", "--status", "\r\u{9B}x"],
                          ["connect", "e\u{1B}:1"], ["connect", "127.0.0.1:1", "--timeout", "\u{7}"],
                          ["bench", "r\u{1B}r"], ["bench", "rr", "--port", "1", "--connections", "\u{85}"],
                          ["check", "extra\u{1B}"], ["completion", "\u{1B}"], ["help", "\u{9B}"]] {
            let run = try ChildProcess.runPortvisor(arguments)
            #expect(run.code == 64, "\(arguments): \(run.err)")
            #expect(!run.err.isEmpty && holdsOnlyPrintableText(Array(run.err.utf8)), "\(arguments): \(run.err)")
        }
    }
}
