// Config problems: one ConfigIssue per problem (field path + message), and the two ways a
// load fails (unreadable: exit 66; invalid: exit 78), each printable one line per problem.

/// One problem in the file, e.g. `services[1].port: 70000 is outside 0...65535`.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The field path (`services[1].port`, `status`, `top level`).
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`, or just the message for a problem with the whole file (empty path).
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Why a config file could not be loaded.
public enum ConfigError: Error, Sendable, Equatable {
    /// The file is missing, not a regular file, or cannot be opened (exit 66).
    case unreadable(file: String, reason: String)
    /// The file was read but is empty, too large, not JSON, or fails validation (exit 78).
    case invalid(file: String, issues: [ConfigIssue])

    /// The exit code SPEC §6 assigns: 66 unreadable, 78 invalid.
    public var exitCode: Int32 {
        switch self {
        case .unreadable: return ExitCode.configUnreadable
        case .invalid: return ExitCode.configInvalid
        }
    }

    /// What the command line should add to the error, if anything: for a file that is not
    /// there, where the path comes from. Kept out of `lines`, which a reload logs too (and a
    /// running supervisor's path is fixed).
    public var hint: String? {
        guard case .unreadable(_, let reason) = self, ConfigLoader.missingFileReasons.contains(reason) else { return nil }
        return "give the file with --config PATH or $\(ConfigLoader.environmentVariable)"
    }

    /// One line per problem, each starting with the file name.
    public var lines: [String] {
        switch self {
        case .unreadable(let file, let reason):
            return ["\(file): \(reason)"]
        case .invalid(let file, let issues):
            return issues.map { "\(file): \($0)" }
        }
    }
}

/// The process exit codes of SPEC §6 (sysexits.h values).
public enum ExitCode {
    public static let ok: Int32 = 0
    /// `status`: an enabled service is not running.
    public static let notRunning: Int32 = 3
    public static let usage: Int32 = 64
    public static let configUnreadable: Int32 = 66
    /// The service or the status endpoint cannot be reached.
    public static let unavailable: Int32 = 69
    /// An internal failure that is not the user's doing (e.g. a thread could not start).
    public static let software: Int32 = 70
    /// A control command from a user who may not control this supervisor.
    public static let permissionDenied: Int32 = 77
    public static let configInvalid: Int32 = 78
}
