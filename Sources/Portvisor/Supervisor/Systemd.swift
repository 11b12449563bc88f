// systemd integration without libsystemd: socket activation (LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES; descriptors from 3 on) and sd_notify (datagrams to $NOTIFY_SOCKET).

/// Listening sockets passed by systemd (or `systemd-socket-activate`), by name.
public struct ActivatedSockets: Sendable, Equatable {
    /// The first passed descriptor (SD_LISTEN_FDS_START).
    public static let firstDescriptor: Int32 = 3

    /// Name → descriptor. A name given twice keeps the first; the rest are in `unnamed`.
    public private(set) var byName: [String: Int32] = [:]
    /// Descriptors without a usable name (or a repeated one).
    public private(set) var unnamed: [Int32] = []

    public init() {}

    /// Reads the variables; empty unless LISTEN_PID is this process. The descriptors are made
    /// close-on-exec. `unset` removes the variables so nothing inherits them.
    public static func fromEnvironment(_ environment: [String: String], pid: Int32 = ProcessEnvironment.processID, unset: Bool = true) -> ActivatedSockets {
        var sockets = ActivatedSockets()
        guard let listenPID = environment["LISTEN_PID"].flatMap({ Int32($0) }), listenPID == pid,
              let count = environment["LISTEN_FDS"].flatMap({ Int32($0) }), count > 0, count < 4096 else { return sockets }
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        for index in 0..<count {
            let fd = firstDescriptor + index
            Socket.setCloseOnExec(fd)
            let name = Int(index) < names.count ? names[Int(index)] : ""
            if name.isEmpty || name == "unknown" || sockets.byName[name] != nil {
                sockets.unnamed.append(fd)
            } else {
                sockets.byName[name] = fd
            }
        }
        if unset {
            for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { ProcessEnvironment.unset(variable) }
        }
        return sockets
    }

    /// Takes the descriptor named `name`, if any.
    public mutating func take(_ name: String) -> Int32? {
        byName.removeValue(forKey: name)
    }

    /// What is left once every service and the status endpoint took theirs.
    public var leftovers: [(name: String, fd: Int32)] {
        byName.sorted { $0.value < $1.value }.map { ($0.key, $0.value) } + unnamed.map { ("", $0) }
    }

    public var isEmpty: Bool { byName.isEmpty && unnamed.isEmpty }
}

/// Sends sd_notify messages (`READY=1`, `STATUS=…`, …) when $NOTIFY_SOCKET is set. Safe from
/// any thread: each message is one sendto on a datagram socket.
public final class SystemdNotifier: Sendable {
    private let fd: Int32
    private let path: String

    /// nil when $NOTIFY_SOCKET is unset or unusable.
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.hasPrefix("/") || path.hasPrefix("@"),
              path.utf8.count < 108 else { return nil }
        guard let fd = try? Socket.unixDatagram() else { return nil }
        self.fd = fd
        self.path = path
    }

    deinit { Syscall.close(fd) }

    /// Sends the `KEY=value` lines as one datagram; failures are ignored (systemd may be gone).
    public func send(_ lines: [String]) {
        Socket.send(fd, Array(lines.joined(separator: "\n").utf8), toUnixPath: path)
    }

    /// The watchdog interval in microseconds from WATCHDOG_USEC (when WATCHDOG_PID is unset or
    /// this process); nil when unset, 0, or not a whole number.
    public static func watchdogInterval(_ environment: [String: String], pid: Int32 = ProcessEnvironment.processID) -> UInt64? {
        guard let text = environment["WATCHDOG_USEC"], !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let usec = UInt64(text), usec > 0 else { return nil }
        if let watchdogPID = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), watchdogPID != pid { return nil }
        return usec
    }

    /// The shortest and longest watchdog intervals Portvisor works with. Pinging more often than
    /// asked is harmless, so a longer interval is shortened (with a warning) rather than trusted
    /// with arithmetic that could overflow.
    public static let watchdogRange: ClosedRange<UInt64> = 10_000...3_600_000_000

    /// What `run` does with WATCHDOG_USEC: the interval in nanoseconds (nil: no watchdog) and a
    /// warning when the value was out of range or unreadable.
    public static func watchdog(_ environment: [String: String], pid: Int32 = ProcessEnvironment.processID) -> (nanos: MonotonicNanos?, warning: String?) {
        guard let text = environment["WATCHDOG_USEC"], !text.isEmpty else { return (nil, nil) }
        if let watchdogPID = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), watchdogPID != pid { return (nil, nil) }
        let shown = text.utf8.count > 40 ? String(text.prefix(40)) + "…" : text
        let digitsOnly = text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard digitsOnly else {
            return (nil, "WATCHDOG_USEC=\(TextSanitizer.escaped(shown)) is not a whole number of microseconds; the systemd watchdog is off")
        }
        // Digits only: a value past UInt64 is simply "too long".
        let usec = UInt64(text) ?? UInt64.max
        if usec == 0 { return (nil, nil) }
        if usec < watchdogRange.lowerBound {
            return (MonotonicNanos(watchdogRange.lowerBound) * 1000,
                    "WATCHDOG_USEC=\(shown) is below 10 ms; using 10 ms")
        }
        if usec > watchdogRange.upperBound {
            return (MonotonicNanos(watchdogRange.upperBound) * 1000,
                    "WATCHDOG_USEC=\(shown) is over one hour; pinging as if it were one hour (more often than asked, which is harmless)")
        }
        return (MonotonicNanos(usec) * 1000, nil)
    }

    /// CLOCK_MONOTONIC in microseconds, for `MONOTONIC_USEC=` with `RELOADING=1`.
    public static func monotonicMicroseconds() -> UInt64 {
        UInt64(Clock.monotonic() / 1000)
    }
}
