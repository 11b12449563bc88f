// IP addresses and socket addresses: parsing literals, printing them the way status shows them,
// and converting to and from sockaddr for the system calls.
import CPortvisor
import Glibc

/// An IPv4 or IPv6 address. IPv4 is kept as a host-order UInt32, IPv6 as a UInt128.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// 127.0.0.1-style construction.
    public static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress {
        .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    public static let loopbackV4 = IPAddress.v4(127, 0, 0, 1)
    public static let loopbackV6 = IPAddress.v6(1)
    public static let anyV4 = IPAddress.v4(0)
    public static let anyV6 = IPAddress.v6(0)

    /// Parses an IPv4 or IPv6 literal (`127.0.0.1`, `::1`), or `localhost` (= 127.0.0.1).
    public init?(parsing text: String) {
        // inet_pton would stop at a NUL and accept "127.0.0.1\0anything".
        if text.utf8.contains(0) { return nil }
        if text == "localhost" {
            self = .loopbackV4
            return
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(IPAddress.value(of: v6))
            return
        }
        return nil
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// `0.0.0.0` or `::`.
    public var isWildcard: Bool {
        switch self {
        case .v4(let value): return value == 0
        case .v6(let value): return value == 0
        }
    }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for; otherwise self.
    public var unmapped: IPAddress {
        if case .v6(let value) = self, value >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: value))
        }
        return self
    }

    /// In 127.0.0.0/8 or ::1 (mapped addresses count as IPv4).
    public var isLoopback: Bool {
        switch unmapped {
        case .v4(let value): return value >> 24 == 127
        case .v6(let value): return value == 1
        }
    }

    /// Dotted quad, or RFC 5952 text for IPv6.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let value):
            var address = IPAddress.in6(value)
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
            return String(cBuffer: buffer)
        }
    }

    static func value(of address: in6_addr) -> UInt128 {
        var result: UInt128 = 0
        withUnsafeBytes(of: address) { bytes in
            for byte in bytes { result = result << 8 | UInt128(byte) }
        }
        return result
    }

    static func in6(_ value: UInt128) -> in6_addr {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { bytes in
            for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: value >> (8 * (15 - i))) }
        }
        return address
    }
}

/// An IP address and a TCP/UDP port, with the interface of a link-local IPv6 address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16
    /// IPv6 `sin6_scope_id`: which interface a link-local address (`fe80::/10`) is on; 0 for
    /// others. A reply to a link-local source must carry it, or it cannot be routed.
    public var scopeID: UInt32

    public init(ip: IPAddress, port: UInt16, scopeID: UInt32 = 0) {
        self.ip = ip
        self.port = port
        self.scopeID = scopeID
    }

    /// `127.0.0.1:80`, `[::1]:80`, or `[fe80::1%2]:80`; IPv4-mapped IPv6 prints as IPv4.
    public var description: String {
        switch ip.unmapped {
        case .v4: return "\(ip.unmapped):\(port)"
        case .v6: return scopeID == 0 ? "[\(ip)]:\(port)" : "[\(ip)%\(scopeID)]:\(port)"
        }
    }

    /// The same address and port, an IPv4-mapped IPv6 address counting as its IPv4 address.
    public func sameEndpoint(as other: SocketAddress) -> Bool { port == other.port && ip.unmapped == other.ip.unmapped }

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // bare IPv6 needs brackets
        }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let ip = IPAddress(parsing: String(host)),
              let port = UInt16(portText) else { return nil }
        self.init(ip: ip, port: port)
    }

    /// Calls `body` with this address as a sockaddr and its length.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemError) -> R) throws(SystemError) -> R {
        switch ip {
        case .v4(let value):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = value.bigEndian
            return try withUnsafeBytes(of: &address) { (raw) throws(SystemError) -> R in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        case .v6(let value):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = IPAddress.in6(value)
            address.sin6_scope_id = scopeID
            return try withUnsafeBytes(of: &address) { (raw) throws(SystemError) -> R in
                try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
    }

    /// Reads an address the kernel filled in (accept, getsockname); nil for other families.
    public init?(storage: UnsafeRawPointer) {
        let family = storage.load(as: sockaddr.self).sa_family
        switch Int32(family) {
        case AF_INET:
            let address = storage.load(as: sockaddr_in.self)
            self.init(ip: .v4(UInt32(bigEndian: address.sin_addr.s_addr)), port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = storage.load(as: sockaddr_in6.self)
            self.init(ip: .v6(IPAddress.value(of: address.sin6_addr)), port: UInt16(bigEndian: address.sin6_port),
                      scopeID: address.sin6_scope_id)
        default:
            return nil
        }
    }

    var family: Int32 { ip.isIPv4 ? AF_INET : AF_INET6 }
}
