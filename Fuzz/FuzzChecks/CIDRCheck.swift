// Fuzz properties of `allow`/`deny` blocks: an accepted text is an address literal with an
// optional decimal prefix length, the block is normalised (host bits clear, length in range),
// contains its own network, and its description parses back to the same block.
import Portvisor

/// Checks `CIDR(parsing:)` on arbitrary text (invalid UTF-8 is decoded with replacements).
public enum CIDRCheck: FuzzCheck {
    public static let name = "cidr"

    public static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let text = String(decoding: input, as: UTF8.self)
        guard let block = CIDR(parsing: text) else { return }
        let shown = HTTPRequestCheck.quoted(text)
        let grammar = text.utf8.allSatisfy { $0.isHexDigit || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") }
        try expect(grammar, "accepted \(shown), which is not an address literal with a prefix length")
        let width: Int
        switch block.network {
        case .v4: width = 32
        case .v6: width = 128
        }
        try expect((0...width).contains(block.prefixLength), "\(shown) gave prefix length \(block.prefixLength)")
        try expect(CIDR(network: block.network, prefixLength: block.prefixLength) == block, "\(shown) gave \(block) with host bits set")
        try expect(block.contains(block.network), "\(block) does not contain its own network")
        try expect(CIDR(parsing: block.description) == block, "\(shown) gave \(block), which does not parse back to itself")
    }
}
