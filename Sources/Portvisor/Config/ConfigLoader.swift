// Reads services.json from disk and validates it: the file checks of SPEC §1 (missing or not a
// regular file: exit 66; empty, over 1 MiB or not JSON: exit 78), then ConfigValidator.

public enum ConfigLoader {
    /// The largest config file accepted: 1 MiB.
    public static let maxFileSize = 1_048_576
    public static let defaultPath = "services.json"
    public static let environmentVariable = "PORTVISOR_CONFIG"

    /// The config path of SPEC §6: `--config`, else `$PORTVISOR_CONFIG`, else `./services.json`.
    public static func resolvePath(option: String?, environment: [String: String] = ProcessEnvironment.current()) -> String {
        if let option { return option }
        if let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultPath
    }

    /// The reasons of an unreadable file that is not there at all (ENOENT, or a path through
    /// something that is not a directory), which `ConfigError.hint` answers.
    static let missingFileReasons: Set<String> = [
        openReason(SystemError("open", errno: Errno.ENOENT)), openReason(SystemError("open", errno: Errno.ENOTDIR)),
    ]

    static func openReason(_ error: SystemError) -> String { "cannot open: \(error.reason)" }

    /// Reads and validates the file at `path`.
    public static func load(path: String) throws(ConfigError) -> PortvisorConfig {
        let bytes: [UInt8]
        do {
            bytes = try FileReader.readSmallFile(path, limit: maxFileSize)
        } catch {
            switch error {
            case .cannotOpen(let system):
                throw .unreadable(file: path, reason: openReason(system))
            case .notRegularFile(let kind):
                throw .unreadable(file: path, reason: "not a regular file (\(kind))")
            case .readFailed(let system):
                throw .unreadable(file: path, reason: "cannot read: \(system.reason)")
            case .tooLarge(let size):
                throw tooLarge(size, path: path)
            }
        }
        return try parse(bytes, path: path)
    }

    /// Validates file contents already read; `path` names the file in messages.
    public static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> PortvisorConfig {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            throw .invalid(file: path, issues: [ConfigIssue("", bytes.isEmpty ? "the file is empty" : "the file holds only whitespace")])
        }
        if bytes.count > maxFileSize { throw tooLarge(bytes.count, path: path) }
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw .invalid(file: path, issues: [ConfigIssue("", "not valid JSON: \(error.description)")])
        }
        var validator = ConfigValidator()
        guard let config = validator.validate(root, path: path) else {
            throw .invalid(file: path, issues: validator.issues)
        }
        return config
    }

    static func tooLarge(_ size: Int, path: String) -> ConfigError {
        .invalid(file: path, issues: [ConfigIssue("", "the file is \(size) bytes, larger than the 1 MiB limit (\(maxFileSize) bytes)")])
    }

    /// The absolute form of `path` (for status and `check --json`); an absolute path is kept as given.
    public static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return absolutePath(path, relativeTo: ProcessEnvironment.currentDirectory() ?? "/")
    }

    /// `path` made absolute against `directory`, with `.`, `..` and repeated slashes resolved
    /// lexically (symbolic links are not followed, as a shell's `cd` would not either).
    public static func absolutePath(_ path: String, relativeTo directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
