// The three IANA port ranges of RFC 6335 §6.

/// Well-known 0–1023, registered 1024–49151, dynamic 49152–65535.
public enum PortRange: String, Sendable, CaseIterable {
    case wellKnown = "well-known"
    case registered
    case dynamic

    /// The range `port` falls in. Port 0 (the kernel chooses) is classified as dynamic,
    /// because the kernel will pick from its ephemeral range.
    public static func classify(_ port: Int) -> PortRange {
        switch port {
        case 0: return .dynamic
        case 1...1023: return .wellKnown
        case 1024...49151: return .registered
        default: return .dynamic
        }
    }

    /// The ports the range covers.
    public var ports: ClosedRange<Int> {
        switch self {
        case .wellKnown: return 0...1023
        case .registered: return 1024...49151
        case .dynamic: return 49152...65535
        }
    }
}
