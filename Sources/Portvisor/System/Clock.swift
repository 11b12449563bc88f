// Time for the runtime: a monotonic clock for deadlines and a wall clock for timestamps,
// both read with clock_gettime (vDSO, no allocation), and RFC 3339 formatting in UTC.
import Glibc

/// Nanoseconds on the monotonic clock; only differences mean anything.
public typealias MonotonicNanos = Int64

/// A moment on the wall clock (CLOCK_REALTIME).
public struct WallTime: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (a: WallTime, b: WallTime) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// Seconds since the epoch as a Double.
    public var timeInterval: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    /// `2026-11-25T13:02:02Z`, or with `fractionDigits` (1...9) `2026-11-25T13:02:02.120Z`.
    public func rfc3339(fractionDigits: Int = 0) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = "\(parts.tm_year + 1900)-\(Self.pad(parts.tm_mon + 1))-\(Self.pad(parts.tm_mday))T"
            + "\(Self.pad(parts.tm_hour)):\(Self.pad(parts.tm_min)):\(Self.pad(parts.tm_sec))"
        if fractionDigits > 0 {
            var fraction = String(nanoseconds)
            fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
            text += "." + fraction.prefix(min(fractionDigits, 9))
        }
        return text + "Z"
    }

    static func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

public enum Clock {
    /// The monotonic clock now, in nanoseconds.
    @inline(__always)
    public static func monotonic() -> MonotonicNanos {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The wall clock now.
    public static func wall() -> WallTime {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return WallTime(seconds: Int64(now.tv_sec), nanoseconds: Int32(now.tv_nsec))
    }

    /// Sleeps until the monotonic clock reaches `deadline` (a timed pause, never synchronisation).
    public static func sleep(until deadline: MonotonicNanos) {
        while true {
            let left = deadline - monotonic()
            if left <= 0 { return }
            var request = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
            _ = nanosleep(&request, nil)  // EINTR: the loop sleeps the rest
        }
    }

    /// Seconds (from config) as nanoseconds, saturating.
    public static func nanos(_ seconds: Double) -> Int64 {
        let value = seconds * 1e9
        if value >= 4.6e18 { return Int64.max / 2 }
        if value <= -4.6e18 { return -(Int64.max / 2) }
        return value.isNaN ? 0 : Int64(value)
    }
}
