// Writing JSON straight into bytes, for documents too big to build as JSONValue trees first
// (`/status` with ten thousand live connections). No per-value allocation.
import Glibc

/// An append-only JSON byte buffer. The caller writes the structure; this escapes strings and
/// formats numbers.
public struct JSONOutput {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    /// Appends ASCII text as is (structure, indentation, keys known to need no escaping).
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `"key": ` (the key must need no escaping).
    @inline(__always)
    public mutating func key(_ key: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":"), 0x20])
    }

    /// A JSON string, escaped.
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func optionalString(_ text: String?) {
        if let text { string(text) } else { raw("null") }
    }

    /// A decimal integer.
    @inline(__always)
    public mutating func int(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            unsigned(UInt(value.magnitude))
        } else {
            unsigned(UInt(value))
        }
    }

    @inline(__always)
    mutating func unsigned(_ value: UInt) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }

    public mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// A number written as JSONNumber would.
    public mutating func double(_ value: Double) {
        bytes.append(contentsOf: JSONNumber(value).text.utf8)
    }

    /// `2026-11-25T13:02:05.120Z`. `cache` keeps the date-and-time part of the last second seen,
    /// since thousands of connections share a handful of seconds.
    public mutating func timestamp(_ time: WallTime, cache: inout (second: Int64, prefix: [UInt8])) {
        if cache.second != time.seconds {
            cache = (time.seconds, Array(time.rfc3339().utf8.dropLast()))  // without the Z
        }
        bytes.append(UInt8(ascii: "\""))
        bytes += cache.prefix
        let millis = Int(time.nanoseconds / 1_000_000)
        bytes += [UInt8(ascii: "."), UInt8(ascii: "0") + UInt8(millis / 100), UInt8(ascii: "0") + UInt8(millis / 10 % 10),
                  UInt8(ascii: "0") + UInt8(millis % 10), UInt8(ascii: "Z"), UInt8(ascii: "\"")]
    }

    /// A socket address as status shows it (`"127.0.0.1:51234"`, `"[::1]:51234"`).
    public mutating func address(_ address: SocketAddress) {
        if case .v4(let value) = address.ip.unmapped {
            bytes.append(UInt8(ascii: "\""))
            unsigned(UInt(value >> 24))
            bytes.append(UInt8(ascii: "."))
            unsigned(UInt(value >> 16 & 0xFF))
            bytes.append(UInt8(ascii: "."))
            unsigned(UInt(value >> 8 & 0xFF))
            bytes.append(UInt8(ascii: "."))
            unsigned(UInt(value & 0xFF))
            bytes.append(UInt8(ascii: ":"))
            unsigned(UInt(address.port))
            bytes.append(UInt8(ascii: "\""))
        } else {
            string(address.description)
        }
    }
}
