// What the system says about a port: its name in /etc/services, whether binding it needs
// privilege, and whether it lies in the kernel's ephemeral range. Pure logic over a
// PortEnvironment so tests can feed fixtures.

/// The facts about this machine that port warnings depend on.
public struct PortEnvironment: Sendable, Equatable {
    /// TCP port → first name in the services database.
    public var tcpNames: [Int: String]
    /// UDP port → first name in the services database.
    public var udpNames: [Int: String]
    /// Ports below this need privilege (`/proc/sys/net/ipv4/ip_unprivileged_port_start`).
    public var unprivilegedPortStart: Int
    /// The kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`).
    public var ephemeralRange: ClosedRange<Int>?
    /// Whether this process may bind privileged ports (root or CAP_NET_BIND_SERVICE).
    public var canBindPrivilegedPorts: Bool

    public init(tcpNames: [Int: String] = [:], udpNames: [Int: String] = [:], unprivilegedPortStart: Int = 1024,
                ephemeralRange: ClosedRange<Int>? = 32768...60999, canBindPrivilegedPorts: Bool = false) {
        self.tcpNames = tcpNames
        self.udpNames = udpNames
        self.unprivilegedPortStart = unprivilegedPortStart
        self.ephemeralRange = ephemeralRange
        self.canBindPrivilegedPorts = canBindPrivilegedPorts
    }

    /// Reads this machine: `/etc/services` (missing is fine), `/proc/sys/net/ipv4/*`, privilege.
    public static func current() -> PortEnvironment {
        let services = (try? FileReader.readSmallFile("/etc/services", limit: 4 << 20)).map {
            ServicesDatabase.parse(String(decoding: $0, as: UTF8.self))
        } ?? ServicesDatabase()
        let unprivileged = (try? FileReader.readSmallFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", limit: 64))
            .flatMap { Int(String(decoding: $0, as: UTF8.self).trimmingWhitespace()) } ?? 1024
        let ephemeral = (try? FileReader.readSmallFile("/proc/sys/net/ipv4/ip_local_port_range", limit: 64))
            .flatMap { parseRange(String(decoding: $0, as: UTF8.self)) }
        return PortEnvironment(tcpNames: services.tcp, udpNames: services.udp, unprivilegedPortStart: unprivileged,
                               ephemeralRange: ephemeral, canBindPrivilegedPorts: hasBindPrivilege())
    }

    static func parseRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { return nil }
        return parts[0]...parts[1]
    }

    /// Root, or CAP_NET_BIND_SERVICE (bit 10) in the effective capability set.
    static func hasBindPrivilege() -> Bool {
        if ProcessEnvironment.effectiveUserID == 0 { return true }
        guard let status = try? FileReader.readSmallFile("/proc/self/status", limit: 1 << 16) else { return false }
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingWhitespace()
            if let mask = UInt64(hex, radix: 16) { return mask & (1 << 10) != 0 }
        }
        return false
    }
}

/// The services database (`/etc/services`): `name port/proto [aliases…] [# comment]`.
public struct ServicesDatabase: Sendable, Equatable {
    public var tcp: [Int: String] = [:]
    public var udp: [Int: String] = [:]

    public init() {}

    /// Parses the file's text; malformed lines are skipped, the first name for a port wins.
    public static func parse(_ text: String) -> ServicesDatabase {
        var database = ServicesDatabase()
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard fields.count >= 2 else { continue }
            let portProto = fields[1].split(separator: "/")
            guard portProto.count == 2, let port = Int(portProto[0]), (0...65535).contains(port) else { continue }
            let name = String(fields[0])
            switch portProto[1].lowercased() {
            case "tcp": if database.tcp[port] == nil { database.tcp[port] = name }
            case "udp": if database.udp[port] == nil { database.udp[port] = name }
            default: continue
            }
        }
        return database
    }
}

/// What Portvisor reports about one service's port (SPEC §2).
public struct PortReport: Sendable, Equatable {
    public var range: PortRange
    /// The name the services database gives the port, for the service's protocol.
    public var registeredName: String?
    public var warnings: [String]
}

public enum PortRegistry {
    /// Classifies `port` and lists the warnings that apply to a service of `kind` on it.
    public static func report(port: Int, kind: String, udp: Bool = false, in environment: PortEnvironment) -> PortReport {
        let range = PortRange.classify(port)
        guard port != 0 else { return PortReport(range: range, registeredName: nil, warnings: []) }
        var warnings: [String] = []
        let registered = udp ? environment.udpNames[port] : environment.tcpNames[port]
        if let registered, registered != kind {
            warnings.append("port \(port) is \"\(registered)\" in /etc/services, not \"\(kind)\"")
        }
        if port < environment.unprivilegedPortStart && !environment.canBindPrivilegedPorts {
            warnings.append("port \(port) is below \(environment.unprivilegedPortStart) (ip_unprivileged_port_start): "
                + "binding it needs root or CAP_NET_BIND_SERVICE")
        }
        if let ephemeral = environment.ephemeralRange, ephemeral.contains(port) {
            warnings.append("port \(port) is in the kernel's ephemeral range \(ephemeral.lowerBound)-\(ephemeral.upperBound): "
                + "outgoing connections may take it first")
        }
        return PortReport(range: range, registeredName: registered, warnings: warnings)
    }
}
