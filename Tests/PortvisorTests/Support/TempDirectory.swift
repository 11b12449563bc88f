// A temporary directory per test, removed on deinit, with a helper to write files into it.
import Foundation

final class TempDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/portvisor-test-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp failed")
        }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `contents` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let full = path + "/" + name
        try contents.write(toFile: full, atomically: false, encoding: .utf8)
        return full
    }

    func file(_ name: String) -> String { path + "/" + name }
}
