// Every committed fuzz input (Fuzz/corpus/ and Fuzz/regressions/) replayed through its target's
// check in-process, so `swift test` keeps the fuzzers' findings fixed without libFuzzer.
import Foundation
import Testing
import FuzzChecks

@Suite struct FuzzReplayTests {
    /// The repository root: this file is Tests/PortvisorTests/Fuzz/FuzzReplayTests.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func files(_ folder: String, _ target: String) -> [String] {
        FuzzFiles.list("\(root)/Fuzz/\(folder)/\(target)") ?? []
    }

    @Test(arguments: FuzzTargets.names)
    func committedInputsKeepEveryProperty(target: String) throws {
        let check = try #require(FuzzTargets.named(target))
        let seeds = Self.files("corpus", target)
        #expect(seeds.count >= 5, "Fuzz/corpus/\(target) has \(seeds.count) seeds")
        for file in seeds + Self.files("regressions", target) {
            let input = try #require(FuzzFiles.read(file), "cannot read \(file)")
            do {
                try check.check(input)
            } catch {
                Issue.record("\(file): \(error.message)")
            }
        }
    }

    @Test func everyFolderBelongsToATarget() throws {
        let names = Set(FuzzTargets.names)
        for folder in ["corpus", "regressions"] {
            let entries = try FileManager.default.contentsOfDirectory(atPath: "\(Self.root)/Fuzz/\(folder)")
            #expect(Set(entries).isSubset(of: names), "Fuzz/\(folder): \(entries.sorted())")
        }
    }
}
