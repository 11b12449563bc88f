// Address blocks for `allow` / `deny`: `10.0.0.0/8`, `2001:db8::/32`, or a bare address
// (`127.0.0.1` = /32, `::1` = /128). IPv4-mapped IPv6 blocks become IPv4 blocks.

/// A network prefix. Host bits are cleared (`10.1.2.3/8` means `10.0.0.0/8`).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, first != "localhost", let address = IPAddress(parsing: String(first)) else { return nil }
        var length: Int
        switch address {
        case .v4: length = 32
        case .v6: length = 128
        }
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...length).contains(given), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = given
        }
        // ::ffff:a.b.c.d/96+n is the IPv4 block a.b.c.d/n.
        if case .v6(let value) = address, length >= 96, value >> 32 == 0xFFFF {
            self.init(network: .v4(UInt32(truncatingIfNeeded: value)), prefixLength: length - 96)
        } else {
            self.init(network: address, prefixLength: length)
        }
    }

    public init(network: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        switch network {
        case .v4(let value):
            self.network = .v4(prefixLength == 0 ? 0 : value & (UInt32.max << (32 - prefixLength)))
        case .v6(let value):
            self.network = .v6(prefixLength == 0 ? 0 : value & (UInt128.max << (128 - prefixLength)))
        }
    }

    /// Whether `address` (IPv4-mapped IPv6 counts as IPv4) lies in this block.
    public func contains(_ address: IPAddress) -> Bool {
        switch (network, address.unmapped) {
        case (.v4(let net), .v4(let value)):
            return prefixLength == 0 || value & (UInt32.max << (32 - prefixLength)) == net
        case (.v6(let net), .v6(let value)):
            return prefixLength == 0 || value & (UInt128.max << (128 - prefixLength)) == net
        default:
            return false
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }
}

/// `allow` and `deny` together: the longest matching prefix decides, deny on a tie; with no
/// `allow` list every source is allowed unless denied.
public struct AccessPolicy: Sendable, Equatable {
    public var allow: [CIDR]?
    public var deny: [CIDR]

    public init(allow: [CIDR]? = nil, deny: [CIDR] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// True when nothing is restricted (the common case, checked once per accept).
    public var allowsEverything: Bool { allow == nil && deny.isEmpty }

    public func permits(_ address: IPAddress) -> Bool {
        let denied = deny.filter { $0.contains(address) }.map(\.prefixLength).max()
        guard let allow else { return denied == nil }
        guard let allowed = allow.filter({ $0.contains(address) }).map(\.prefixLength).max() else { return false }
        guard let denied else { return true }
        return allowed > denied
    }
}
