// systemd integration without libsystemd: socket activation (LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES; descriptors from 3 on) and sd_notify (datagrams to $NOTIFY_SOCKET).
import CPortvisor
import Glibc

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
    public static func fromEnvironment(_ environment: [String: String], pid: Int32 = getpid(), unset: Bool = true) -> ActivatedSockets {
        var sockets = ActivatedSockets()
        guard let listenPID = environment["LISTEN_PID"].flatMap({ Int32($0) }), listenPID == pid,
              let count = environment["LISTEN_FDS"].flatMap({ Int32($0) }), count > 0, count < 4096 else { return sockets }
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        for index in 0..<count {
            let fd = firstDescriptor + index
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let name = Int(index) < names.count ? names[Int(index)] : ""
            if name.isEmpty || name == "unknown" || sockets.byName[name] != nil {
                sockets.unnamed.append(fd)
            } else {
                sockets.byName[name] = fd
            }
        }
        if unset {
            for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { Glibc.unsetenv(variable) }
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
        let fd = socket(AF_UNIX, CP_SOCK_DGRAM_NONBLOCK_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.path = path
    }

    deinit { Syscall.close(fd) }

    /// Sends the `KEY=value` lines as one datagram; failures are ignored (systemd may be gone).
    public func send(_ lines: [String]) {
        var message = Array(lines.joined(separator: "\n").utf8)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
            if bytes.first == UInt8(ascii: "@") { raw[0] = 0 }  // abstract namespace
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == UInt8(ascii: "@") ? 0 : 1))
        _ = message.withUnsafeMutableBytes { raw in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// The watchdog interval in microseconds from WATCHDOG_USEC (when WATCHDOG_PID is unset or
    /// this process).
    public static func watchdogInterval(_ environment: [String: String], pid: Int32 = getpid()) -> UInt64? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap({ UInt64($0) }), usec > 0 else { return nil }
        if let watchdogPID = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), watchdogPID != pid { return nil }
        return usec
    }

    /// CLOCK_MONOTONIC in microseconds, for `MONOTONIC_USEC=` with `RELOADING=1`.
    public static func monotonicMicroseconds() -> UInt64 {
        UInt64(Clock.monotonic() / 1000)
    }
}
