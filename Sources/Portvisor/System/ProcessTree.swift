// This process's children as the kernel lists them (/proc/self/task/*/children), reaping one,
// signalling one, and reading a variable from one's environment: what the orphan reaper needs.
import CPortvisor
import Glibc

public enum ProcessTree {
    /// The pids of this process's children (of every thread; a reparented orphan included).
    public static func children() -> [Int32] {
        var pids: [Int32] = []
        guard let directory = opendir("/proc/self/task") else { return pids }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = Int32(name) else { continue }
            guard let bytes = try? FileReader.readSmallFile("/proc/self/task/\(tid)/children", limit: 1 << 20) else { continue }
            for field in String(decoding: bytes, as: UTF8.self).split(separator: " ") {
                if let pid = Int32(field.trimmingWhitespace()) { pids.append(pid) }
            }
        }
        return pids
    }

    /// Reaps `pid` if it has ended (WNOHANG); true when it was reaped.
    public static func reap(_ pid: Int32) -> Bool {
        var code: Int32 = 0, status: Int32 = 0
        return cp_wait_pid(pid, &code, &status) == 1
    }

    /// Sends `signal` to `pid` and to the process group it leads, if it leads one.
    public static func signal(_ pid: Int32, _ signal: Int32) {
        _ = kill(pid, signal)
        if getpgid(pid) == pid { _ = kill(-pid, signal) }
    }

    /// PORTVISOR_SERVICE from `pid`'s environment, when it still has it and it can be read.
    public static func serviceVariable(of pid: Int32) -> String? {
        guard let bytes = try? FileReader.readSmallFile("/proc/\(pid)/environ", limit: 1 << 20) else { return nil }
        let prefix = Array("PORTVISOR_SERVICE=".utf8)
        for entry in bytes.split(separator: 0) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    /// Whether `pid` exists (and is not a zombie).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let bytes = try? FileReader.readSmallFile("/proc/\(pid)/stat", limit: 1 << 16),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return false }
        return bytes[close + 2] != UInt8(ascii: "Z")
    }
}
