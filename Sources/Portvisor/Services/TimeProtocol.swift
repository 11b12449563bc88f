// time (RFC 868): four bytes, the seconds since 1900-01-01T00:00:00Z as a big-endian 32-bit
// number (it wraps in 2036, as the RFC's clients expect), then close.

public enum TimeProtocol {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let epochOffset: Int64 = 2_208_988_800

    /// The four bytes for `seconds` since the Unix epoch.
    public static func bytes(unixSeconds seconds: Int64) -> [UInt8] {
        let value = UInt32(truncatingIfNeeded: seconds + epochOffset)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
