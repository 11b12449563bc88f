// The checkout the tests were built from, for tests that read committed files (generated docs,
// contrib/), and a helper to run a shell script with a deadline.
import Foundation

enum Repository {
    /// The repository root: three levels above Tests/PortvisorTests/Support/.
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func read(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }

    /// Whether `name` is an executable in one of the usual system directories.
    static func hasTool(_ name: String) -> Bool {
        ["/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    /// Runs `script` with bash in the repository root: exit code, stdout, stderr.
    static func shell(_ script: String, environment: [String: String] = [:], timeout: Double = 30) throws -> (code: Int32, out: String, err: String) {
        let child = try ChildProcess("/bin/bash", ["-c", script], environment: environment, directory: root)
        child.closeStdin()
        let code = try child.waitForExit(timeout: timeout)
        return (code, child.stdoutText, child.stderrText)
    }
}
