// What this process is and where it runs: its environment, ids, working directory, resource
// use. Read through here so nothing above the system layer calls the C library for them.
import Glibc

public enum ProcessEnvironment {
    /// The environment now, as `NAME=value` pairs (a name given twice keeps the first).
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        guard var entry = Optional(environ) else { return result }
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if result[name] == nil { result[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        return result
    }

    /// Removes `name` from the environment (so children do not inherit it).
    public static func unset(_ name: String) {
        _ = unsetenv(name)
    }

    public static var processID: Int32 { getpid() }
    public static var effectiveUserID: UInt32 { geteuid() }
    public static var effectiveGroupID: UInt32 { getegid() }

    /// The working directory, or nil when it cannot be read (deleted, too long).
    public static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(cBuffer: buffer)
    }

    /// User plus system CPU seconds this process has used so far, every thread included.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }  // cannot fail for RUSAGE_SELF
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Ends the process at once with `code`, without running anything else (a watchdog's exit).
    public static func exitImmediately(_ code: Int32) -> Never {
        _exit(code)
    }
}
