// Day one, as the README tells it (issue 11, item 14): its set-up puts `portvisor` on PATH,
// and every `portvisor check` example in it — the bundled services.json and examples/*.json —
// prints what the README shows. The expected output is read from README.md, so they cannot drift.
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// One `$ portvisor check …` in a README code block: its arguments, the lines shown after it,
/// and the exit status shown by a following `$ echo $?` (0 when there is none).
struct ReadmeExample: CustomStringConvertible {
    var arguments: [String]
    var output: [String]
    var exitCode: Int32

    var description: String { "portvisor " + arguments.joined(separator: " ") }

    /// The `portvisor check` examples of `markdown`, in order.
    static func checks(in markdown: String) -> [ReadmeExample] {
        var examples: [ReadmeExample] = []
        var inBlock = false
        var current: ReadmeExample?
        var awaitingStatus = false
        func finish() {
            if var done = current {
                while done.output.last?.isEmpty == true { done.output.removeLast() }
                examples.append(done)
            }
            current = nil
        }
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if inBlock { finish() }
                inBlock.toggle()
                awaitingStatus = false
                continue
            }
            guard inBlock else { continue }
            if awaitingStatus, let code = Int32(line) {
                examples[examples.count - 1].exitCode = code
                awaitingStatus = false
                continue
            }
            awaitingStatus = false
            if line.hasPrefix("$ ") {
                let followsACheck = current != nil
                finish()
                if line == "$ echo $?" { awaitingStatus = followsACheck; continue }
                if line.hasPrefix("$ portvisor check") {
                    let words = line.dropFirst(2).split(separator: " ").map(String.init)
                    current = ReadmeExample(arguments: Array(words.dropFirst()), output: [], exitCode: 0)
                }
                continue
            }
            current?.output.append(line)
        }
        return examples
    }
}

@Suite struct ExamplesTests {
    static let readme = (try? Repository.read("README.md")) ?? ""

    /// A table row's cells: columns are two or more spaces apart.
    static func cells(_ line: String) -> [String] {
        line.components(separatedBy: "  ").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    @Test func everyExampleFileIsShownInTheReadme() throws {
        let examples = ReadmeExample.checks(in: Self.readme)
        #expect(examples.count >= 4, "\(examples)")
        let shown = Set(examples.compactMap { example in
            example.arguments.firstIndex(of: "--config").map { example.arguments[$0 + 1] }
        })
        let files = try FileManager.default.contentsOfDirectory(atPath: Repository.path("examples")).filter { $0.hasSuffix(".json") }
        #expect(files.contains("five.json"))
        for file in files { #expect(shown.contains("examples/\(file)"), "examples/\(file) is not shown in README.md") }
        for path in shown { #expect(FileManager.default.fileExists(atPath: Repository.path(path)), "README.md uses \(path), which is not shipped") }
    }

    @Test func everyCheckExamplePrintsWhatTheReadmeShows() throws {
        let examples = ReadmeExample.checks(in: Self.readme)
        #expect(!examples.isEmpty)
        for example in examples {
            let run = try ChildProcess.runPortvisor(example.arguments, environment: ["PORTVISOR_CONFIG": ""], directory: Repository.root)
            #expect(run.code == example.exitCode, "\(example): \(run.err)")
            if example.exitCode != 0 {
                // An invalid file: every line exactly, on stderr, in the README's order.
                #expect(run.out.isEmpty)
                #expect(run.err.split(separator: "\n").map(String.init) == example.output, "\(example)")
                continue
            }
            // A valid file: the summary line exactly; the table by its first four columns (the
            // registered names and notes depend on this machine's /etc/services and port range,
            // which may also add warning lines).
            #expect(run.err.isEmpty, "\(example): \(run.err)")
            var actual = run.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if let warnings = actual.firstIndex(where: { $0.hasPrefix("warning: ") }) { actual = Array(actual[..<(warnings - 1)]) }
            while actual.last?.isEmpty == true { actual.removeLast() }
            #expect(actual.count == example.output.count, "\(example):\n\(run.out)")
            guard actual.count == example.output.count, actual.count >= 3 else { continue }
            #expect(actual[0] == example.output[0])
            #expect(actual[1].isEmpty && example.output[1].isEmpty)
            #expect(Self.cells(actual[2]) == Self.cells(example.output[2]))
            for (got, shown) in zip(actual.dropFirst(3), example.output.dropFirst(3)) {
                #expect(Array(Self.cells(got).prefix(4)) == Array(Self.cells(shown).prefix(4)), "\(example): \(got)")
            }
        }
    }

    @Test func fiveJSONReproducesTheReadmeExactly() throws {
        let five = try #require(ReadmeExample.checks(in: Self.readme).first { $0.arguments == ["check", "--config", "examples/five.json"] })
        #expect(five.exitCode == 78 && five.output.count == 8)
        #expect(five.output.allSatisfy { $0.hasPrefix("examples/five.json: services[") })
    }

    /// The README's set-up: the two commands, then a release build and an `export PATH=…`
    /// line that makes `portvisor` resolve to `.build/release/portvisor`.
    @Test func theSetUpPutsPortvisorOnPath() throws {
        let section = try #require(Self.readme.components(separatedBy: "\n## ").first { $0.hasPrefix("Two commands") })
        let commands = section.split(separator: "\n").filter { $0.hasPrefix("    ") }.map { $0.trimmingWhitespace() }
        #expect(commands.contains { $0.hasPrefix("swift run portvisor run ") })
        #expect(commands.contains { $0.hasPrefix("swift test ") })
        #expect(commands.contains { $0.hasPrefix("swift build -c release ") })
        let export = try #require(commands.first { $0.hasPrefix("export PATH=") })
        // A clone whose release build is there (a link to the binary these tests run).
        let clone = try TempDirectory()
        try FileManager.default.createDirectory(atPath: clone.file(".build/release"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: clone.file(".build/release/portvisor"), withDestinationPath: ChildProcess.portvisorPath)
        let shell = try ChildProcess("/bin/bash", ["-c", "\(export)\npwd\ncommand -v portvisor && portvisor --version"],
                                     environment: ["PATH": "/usr/bin:/bin"], directory: clone.path)
        shell.closeStdin()
        #expect(try shell.waitForExit() == 0, "\(shell.stderrText)")
        let lines = shell.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(shell.stdoutText)\(shell.stderrText)")
        guard lines.count == 3 else { return }
        #expect(lines[0] == URL(fileURLWithPath: clone.path).standardizedFileURL.path)
        #expect(lines[1] == lines[0] + "/.build/release/portvisor")
        #expect(lines[2] == "portvisor \(Release.version)")
        // SwiftPM keeps each configuration's products under .build/CONFIG (a link), as for this build.
        let built = ChildProcess.portvisorPath
        if built.hasPrefix(Repository.root + "/.build/") && built.hasSuffix("/debug/portvisor") {
            let linked = try FileManager.default.destinationOfSymbolicLink(atPath: Repository.path(".build/debug"))
            #expect(URL(fileURLWithPath: linked, relativeTo: URL(fileURLWithPath: Repository.path(".build/"))).standardizedFileURL.path
                    == URL(fileURLWithPath: built).deletingLastPathComponent().standardizedFileURL.path)
        }
    }

    /// examples/programs.json serves what the README shows, each service moved to port 0 (and the
    /// proxy pointed at wherever its echo landed).
    @Test func theProgramsExampleServesWhatTheReadmeShows() throws {
        let file = try JSONSerialization.jsonObject(with: Data(Repository.read("examples/programs.json").utf8)) as? [String: Any]
        let services = try #require(file?["services"] as? [[String: Any]])
        func onPortZero(_ name: String, upstream: String? = nil) throws -> String {
            var service = try #require(services.first { $0["name"] as? String == name })
            service["port"] = 0
            if let upstream { service["upstream"] = upstream }
            return String(decoding: try JSONSerialization.data(withJSONObject: service), as: UTF8.self)
        }
        let server = try TestSupervisor(try onPortZero("hello"), try onPortZero("api"), try onPortZero("echo"))
        let proxy = try TestSupervisor(try onPortZero("echo-proxy", upstream: "127.0.0.1:\(try server.port("echo"))"))
        #expect(try server.connect("hello").readToEndText(timeout: 10) == "hello 127.0.0.1, this is hello\n")
        let daemon = try server.connect("api").readToEndText(timeout: 10)
        #expect(daemon.hasPrefix("daemon ") && daemon.hasSuffix(" on fd 3\n"), "\(daemon)")
        let client = try proxy.connect("echo-proxy")
        #expect(try client.exchange(Array("through the proxy".utf8)) == Array("through the proxy".utf8))
        let shown = Self.readme.components(separatedBy: "portvisor connect --config examples/programs.json ")
        #expect(shown.count == 4, "the README shows three connections to examples/programs.json")
    }
}
