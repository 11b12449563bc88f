// The argument parser against the real command table.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct ArgumentParserTests {
    let check = CommandLineSpec.command(named: "check")!
    let connect = CommandLineSpec.command(named: "connect")!
    let run = CommandLineSpec.command(named: "run")!

    @Test func optionsFlagsAndPositionals() throws {
        let parsed = try ArgumentParser.parse(["--config", "a.json", "--json"], for: check)
        #expect(parsed.value("--config") == "a.json")
        #expect(parsed.has("--json"))
        let inline = try ArgumentParser.parse(["echo", "--timeout=2.5"], for: connect)
        #expect(inline.positionals == ["echo"])
        #expect(inline.value("--timeout") == "2.5")
        #expect(try ArgumentParser.parse(["--", "-weird"], for: connect).positionals == ["-weird"])
        #expect(try ArgumentParser.parse(["--help"], for: connect).wantsHelp)
    }

    @Test(arguments: [
        (["--jsn"], "unknown option --jsn (did you mean --json?)"),
        (["--config"], "--config needs a value (PATH)"),
        (["--json=1"], "--json takes no value"),
        (["extra"], "unexpected argument \"extra\""),
        (["--config", "a", "--config", "b"], "--config given twice"),
    ])
    func checkMistakes(arguments: [String], message: String) {
        #expect(throws: UsageError(message)) { try ArgumentParser.parse(arguments, for: check) }
    }

    @Test func missingPositionalAndBadChoice() {
        #expect(throws: UsageError("missing NAME|HOST:PORT")) { try ArgumentParser.parse([], for: connect) }
        #expect(throws: UsageError("--log-level: \"loud\" is not one of debug, info, warning, error")) {
            try ArgumentParser.parse(["--log-level", "loud"], for: run)
        }
    }

    @Test func usageLines() {
        #expect(check.usage == "portvisor check [--config PATH] [--json]")
        #expect(connect.usage == "portvisor connect NAME|HOST:PORT [--config PATH] [--timeout SECONDS]")
    }
}
