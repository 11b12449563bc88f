// What processes use: the resident memory of any process (VmRSS in /proc/PID/status) and the
// CPU time of this one (getrusage), for the bench report.
import Portvisor

public enum ProcessUsage {
    /// VmRSS of process `pid` in KiB; nil when its status cannot be read (no such process, no
    /// permission) or has no VmRSS line (a kernel thread, a zombie).
    public static func residentKiB(pid: Int32) -> Int? {
        guard let bytes = try? FileReader.readSmallFile("/proc/\(pid)/status", limit: 1 << 16) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:	   21472 kB"
            return Int(line.dropFirst(6).trimmingWhitespace().prefix { $0.isNumber })
        }
        return nil
    }

    /// User plus system CPU seconds this process has used so far, every thread included.
    public static func cpuSeconds() -> Double { ProcessEnvironment.cpuSeconds() }
}
