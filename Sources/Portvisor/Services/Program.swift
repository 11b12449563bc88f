// What `exec` and `daemon` share: the user's program (SPEC §8) — its command, environment,
// user, group, working directory, stop grace and stderr — validated here, and the exact
// environment a child gets, as a pure function.
import Synchronization

/// Where a child's standard error goes.
public enum StderrMode: String, Sendable, Equatable, CaseIterable {
    /// Each line is logged as `info NAME: [PID] LINE` (lines over 4 KiB split; at most 100
    /// lines a second per service, the rest counted in `logLinesDropped`).
    case log
    /// The supervisor's own standard error.
    case inherit
    /// /dev/null.
    case null
}

/// A program to run, validated.
public struct ProgramOptions: Sendable, Equatable {
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    public static let defaultStopTimeout = 5.0
    public static let maxArguments = 256
    /// Variables Portvisor sets itself; `environment` may not set them.
    public static let reservedVariables = ["PORTVISOR_SERVICE", "PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT",
                                           "REMOTE_ADDR", "REMOTE_PORT", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]

    /// The program (an absolute path) and its arguments; run without a shell.
    public var command: [String]
    /// Added to the child's environment, in the file's order (PATH may be overridden).
    public var environment: [(name: String, value: String)]
    /// As written: a name or a number.
    public var user: String?
    public var group: String?
    public var workingDirectory: String
    /// Seconds between SIGTERM and SIGKILL.
    public var stopTimeout: Double
    public var stderr: StderrMode

    public init(command: [String], environment: [(name: String, value: String)] = [], user: String? = nil, group: String? = nil,
                workingDirectory: String = "/", stopTimeout: Double = ProgramOptions.defaultStopTimeout, stderr: StderrMode = .log) {
        self.command = command
        self.environment = environment
        self.user = user
        self.group = group
        self.workingDirectory = workingDirectory
        self.stopTimeout = stopTimeout
        self.stderr = stderr
    }

    public static func == (a: ProgramOptions, b: ProgramOptions) -> Bool {
        a.command == b.command && a.environment.map(\.name) == b.environment.map(\.name) && a.environment.map(\.value) == b.environment.map(\.value)
            && a.user == b.user && a.group == b.group && a.workingDirectory == b.workingDirectory && a.stopTimeout == b.stopTimeout
            && a.stderr == b.stderr
    }

    /// The keys every program kind reads.
    static let keys = ["command", "environment", "user", "group", "workingDirectory", "stopTimeout", "stderr"]

    /// The child's whole environment: PATH, PORTVISOR_SERVICE, the kind's `variables`, then
    /// `environment` (a PATH there replaces the default).
    public func childEnvironment(service: String, variables: [(String, String)]) -> [String] {
        var result: [String] = []
        let overridesPath = environment.contains { $0.name == "PATH" }
        if !overridesPath { result.append("PATH=" + Self.defaultPath) }
        result.append("PORTVISOR_SERVICE=" + service)
        for (name, value) in variables { result.append(name + "=" + value) }
        for (name, value) in environment { result.append(name + "=" + value) }
        return result
    }

    /// Reads and validates the program keys of one entry.
    static func read(_ fields: Fields, _ validator: inout ConfigValidator) -> ProgramOptions {
        var options = ProgramOptions(command: [])
        if let value = fields.value("command") {
            let path = fields.path("command")
            if case .array(let items) = value {
                if items.isEmpty || items.count > maxArguments {
                    validator.add(path, "must hold 1...\(maxArguments) strings (the program and its arguments), found \(items.count)")
                }
                var command: [String] = []
                for (i, item) in items.enumerated() {
                    guard case .string(let text) = item, !text.utf8.contains(0) else {
                        validator.add("\(path)[\(i)]", "expected a string without NUL, found \(validator.describe(item))")
                        continue
                    }
                    command.append(text)
                }
                if command.count == items.count, let program = command.first { checkProgram(program, at: "\(path)[0]", &validator) }
                options.command = command
            } else {
                validator.add(path, "expected an array of strings (the program and its arguments, no shell), found \(validator.describe(value))")
            }
        } else {
            validator.add(fields.prefix, "missing required key \"command\"")
        }
        if let value = fields.value("environment") {
            let path = fields.path("environment")
            if case .object(let members) = value {
                var seen = Set<String>()
                for (index, member) in members.enumerated() {
                    let at = "\(path).\(member.key)"
                    guard isVariableName(member.key) else {
                        validator.add(path, "\(ConfigValidator.quoted(member.key)) is not a variable name (letters, digits and _, not starting with a digit)",
                                      memberIndex: index)
                        continue
                    }
                    guard !reservedVariables.contains(member.key) else {
                        validator.add(at, "is set by Portvisor itself; choose another name")
                        continue
                    }
                    guard seen.insert(member.key).inserted else {
                        validator.add(path, "duplicate key \(ConfigValidator.quoted(member.key))", memberIndex: index)
                        continue
                    }
                    guard case .string(let text) = member.value, !text.utf8.contains(0) else {
                        validator.add(at, "expected a string without NUL, found \(validator.describe(member.value))")
                        continue
                    }
                    options.environment.append((member.key, text))
                }
            } else {
                validator.add(path, "expected an object of strings, found \(validator.describe(value))")
            }
        }
        options.user = identity(fields, "user", &validator, user: true)
        options.group = identity(fields, "group", &validator, user: false)
        if let directory = validator.string(fields, "workingDirectory") {
            if !directory.hasPrefix("/") || directory.utf8.contains(0) {
                validator.add(fields.path("workingDirectory"), "\(ConfigValidator.quoted(directory)) is not an absolute path")
            } else if !FileSystem.isDirectory(directory) {
                validator.add(fields.path("workingDirectory"), "\(ConfigValidator.quoted(directory)) is not a directory")
            } else {
                options.workingDirectory = directory
            }
        }
        options.stopTimeout = validator.seconds(fields, "stopTimeout") ?? options.stopTimeout
        if let text = validator.string(fields, "stderr") {
            if let mode = StderrMode(rawValue: text) {
                options.stderr = mode
            } else {
                validator.add(fields.path("stderr"), "\(ConfigValidator.quoted(text)) is not \"log\", \"inherit\" or \"null\"")
            }
        }
        if options.user != nil || options.group != nil, !Identity.maySwitchUser() {
            validator.warn(fields.prefix, "user/group need root or CAP_SETUID and CAP_SETGID; without them `run` puts the service in failed")
        }
        return options
    }

    /// `command[0]`: an absolute path to an executable regular file.
    private static func checkProgram(_ program: String, at path: String, _ validator: inout ConfigValidator) {
        guard program.hasPrefix("/") else {
            validator.add(path, "\(ConfigValidator.quoted(program)) is not an absolute path (the program runs without a shell and without PATH lookup)")
            return
        }
        switch FileSystem.executableCheck(program) {
        case .ok: break
        case .missing(let reason): validator.add(path, "\(ConfigValidator.quoted(program)): \(reason)")
        case .notRegular(let what): validator.add(path, "\(ConfigValidator.quoted(program)) is \(what), not a regular file")
        case .notExecutable: validator.add(path, "\(ConfigValidator.quoted(program)) is not executable")
        }
    }

    private static func identity(_ fields: Fields, _ key: String, _ validator: inout ConfigValidator, user: Bool) -> String? {
        guard let value = fields.value(key) else { return nil }
        let text: String
        switch value {
        case .string(let name): text = name
        case .number(let number):
            guard let integer = number.integer, (0...Int(UInt32.max - 1)).contains(integer) else {
                validator.add(fields.path(key), "\(number.text) is not a \(key) id (0...\(UInt32.max - 1))")
                return nil
            }
            text = String(integer)
        default:
            validator.add(fields.path(key), "expected a name or a number, found \(validator.describe(value))")
            return nil
        }
        let known = user ? Identity.user(text) != nil : Identity.group(text) != nil
        guard known, !text.isEmpty, !text.utf8.contains(0) else {
            validator.add(fields.path(key), "unknown \(key) \(ConfigValidator.quoted(text))")
            return nil
        }
        return text
    }

    static func isVariableName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return bytes.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }
}

/// Options of a kind that runs a program (exec, daemon).
public protocol ProgramKindOptions: KindOptions {
    var program: ProgramOptions { get }
}
