// What every fuzz target shares: the FuzzCheck protocol (one deterministic property check per
// input), the failure it reports, and `expect`, which turns a broken property into that failure.

/// A property check over one fuzz input. The same input must always give the same result, so a
/// failure found by libFuzzer replays anywhere, including in `swift test`.
public protocol FuzzCheck {
    /// The target's folder name under `Fuzz/corpus/` and `Fuzz/regressions/`.
    static var name: String { get }
    /// Checks every property on `input`; throws the first one that does not hold.
    static func check(_ input: [UInt8]) throws(FuzzFailure)
}

/// A property that did not hold, with what was expected and what happened.
public struct FuzzFailure: Error, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Throws `message` unless `condition` holds.
@inline(__always)
func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
    if !condition { throw FuzzFailure(message()) }
}

/// Bytes shown in a failure message: printable ASCII as is, everything else escaped, cut at `limit`.
func preview(_ bytes: some Collection<UInt8>, limit: Int = 120) -> String {
    var out = ""
    for byte in bytes.prefix(limit) {
        switch byte {
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x5C: out += "\\\\"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
        default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return bytes.count > limit ? out + "… (\(bytes.count) bytes)" : out
}

/// Every target, in the order scripts/fuzz.sh runs them.
public enum FuzzTargets {
    public static var all: [any FuzzCheck.Type] {
        [ConfigCheck.self, HTTPRequestCheck.self, AckLineCheck.self, CIDRCheck.self, ZoneRulesCheck.self]
    }

    /// The targets' folder names.
    public static var names: [String] { all.map { $0.name } }

    public static func named(_ name: String) -> (any FuzzCheck.Type)? {
        all.first { $0.name == name }
    }
}
