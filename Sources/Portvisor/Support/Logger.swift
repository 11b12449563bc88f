// One log line per event, one shape everywhere (SPEC §6):
//   2026-11-25T13:02:02.120Z info echo: listening on 127.0.0.1:20007 (registered)
// or, with --log-format json, one object per line with time, level, service, event, message.
// Either way a line holds nothing unprintable: text lines escape it with TextSanitizer, JSON
// lines with the JSON writer.
import Synchronization

public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug, info, warning, error

    public init?(name: String) {
        switch name {
        case "debug": self = .debug
        case "info": self = .info
        case "warning": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warning: return "warning"
        case .error: return "error"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

public enum LogFormat: String, Sendable {
    case text, json
}

/// Where log lines go. Tests use `.memory` to read them back.
public final class LogSink: Sendable {
    /// The descriptor lines go to, or -1 to keep them in `captured`.
    private let fd: Int32
    private let captured = Locked<[String]>([])

    /// Lines written to a file descriptor (stderr for `run`).
    public init(fd: Int32) {
        self.fd = fd
    }

    /// Keeps lines in memory.
    public static func memory() -> LogSink { LogSink(fd: -1) }

    public static let standardError = LogSink(fd: 2)

    /// The captured lines (memory sinks only).
    public var lines: [String] { captured.withLock { $0 } }

    func write(_ line: String) {
        if fd < 0 {
            captured.withLock { $0.append(line) }
        } else {
            // One write(2) per line: lines from different threads never interleave.
            Output.write(fd, line + "\n")
        }
    }
}

/// Logs events at or above `level`. Cheap to copy; safe from any thread.
public struct Logger: Sendable {
    public var level: LogLevel
    public var format: LogFormat
    public let sink: LogSink

    public init(level: LogLevel = .info, format: LogFormat = .text, sink: LogSink = .standardError) {
        self.level = level
        self.format = format
        self.sink = sink
    }

    /// Whether a line at `level` would be written (test it before building costly messages).
    @inline(__always)
    public func enabled(_ level: LogLevel) -> Bool { level >= self.level }

    /// Writes one line. `event` is a short machine name (`listening`, `connection-closed`);
    /// `fields` are extra JSON members (only in the JSON format).
    public func log(_ level: LogLevel, _ service: String, event: String, _ message: String,
                    fields: [JSONMember] = [], time: WallTime = Clock.wall()) {
        guard enabled(level) else { return }
        switch format {
        case .text:
            // Messages quote what clients, files and the environment sent: escape what is not
            // printable, so that one event stays one line and cannot steer a terminal.
            sink.write("\(time.rfc3339(fractionDigits: 3)) \(level.name) \(TextSanitizer.escaped(service)): \(TextSanitizer.escaped(message))")
        case .json:
            var members = [
                JSONMember("time", .string(time.rfc3339(fractionDigits: 3))),
                JSONMember("level", .string(level.name)),
                JSONMember("service", .string(service)),
                JSONMember("event", .string(event)),
                JSONMember("message", .string(message)),
            ]
            members += fields
            sink.write(JSONWriter.compact(.object(members)))
        }
    }

    public func debug(_ service: String, event: String, _ message: @autoclosure () -> String, fields: @autoclosure () -> [JSONMember] = []) {
        if enabled(.debug) { log(.debug, service, event: event, message(), fields: fields()) }
    }

    public func info(_ service: String, event: String, _ message: String, fields: [JSONMember] = []) {
        log(.info, service, event: event, message, fields: fields)
    }

    public func warning(_ service: String, event: String, _ message: String, fields: [JSONMember] = []) {
        log(.warning, service, event: event, message, fields: fields)
    }

    public func error(_ service: String, event: String, _ message: String, fields: [JSONMember] = []) {
        log(.error, service, event: event, message, fields: fields)
    }
}
