// Writing JSON straight into bytes, for documents too big to build as JSONValue trees first
// (`/status` with ten thousand live connections). No per-value allocation.

/// An append-only JSON byte buffer. The caller writes the structure; this escapes strings and
/// formats numbers. Bytes go into raw memory (no per-byte Array bookkeeping): ten thousand
/// live connections encode in about a millisecond.
public final class JSONOutput {
    private var storage: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// Everything written so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: storage, count: count)) }

    @inline(__always)
    private func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    @inline(__always)
    func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    @inline(__always)
    func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        reserve(buffer.count)
        (storage + count).update(from: buffer.baseAddress!, count: buffer.count)
        count += buffer.count
    }

    func append(_ array: [UInt8]) {
        array.withUnsafeBufferPointer { if !$0.isEmpty { append($0) } }
    }

    /// Appends ASCII text as is (structure, indentation, keys known to need no escaping).
    @inline(__always)
    public func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// `"key": ` (the key must need no escaping).
    @inline(__always)
    public func key(_ key: StaticString) {
        append(UInt8(ascii: "\""))
        raw(key)
        raw("\": ")
    }

    /// A JSON string, escaped.
    public func string(_ text: String) {
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20, 0x7F:
                raw("\\u00")
                append(Self.hexDigit(byte >> 4))
                append(Self.hexDigit(byte & 0xF))
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    public func optionalString(_ text: String?) {
        if let text { string(text) } else { raw("null") }
    }

    /// A decimal integer.
    @inline(__always)
    public func int(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            unsigned(UInt(value.magnitude))
        } else {
            unsigned(UInt(value))
        }
    }

    /// Digits written straight into the buffer, most significant first.
    @inline(__always)
    func unsigned(_ value: UInt) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        reserve(digits)
        var position = count + digits - 1
        rest = value
        repeat {
            storage[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            position -= 1
        } while rest > 0
        count += digits
    }

    public func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// A number written as JSONNumber would.
    public func double(_ value: Double) {
        append(Array(JSONNumber(value).text.utf8))
    }

    /// `2026-11-25T13:02:05.120Z`. `cache` keeps the date-and-time part of the last second seen,
    /// since thousands of connections share a handful of seconds.
    public func timestamp(_ time: WallTime, cache: inout (second: Int64, prefix: [UInt8])) {
        if cache.second != time.seconds {
            cache = (time.seconds, Array(time.rfc3339().utf8.dropLast()))  // without the Z
        }
        append(UInt8(ascii: "\""))
        append(cache.prefix)
        let millis = Int(time.nanoseconds / 1_000_000)
        reserve(6)
        storage[count] = UInt8(ascii: ".")
        storage[count + 1] = UInt8(ascii: "0") + UInt8(millis / 100)
        storage[count + 2] = UInt8(ascii: "0") + UInt8(millis / 10 % 10)
        storage[count + 3] = UInt8(ascii: "0") + UInt8(millis % 10)
        storage[count + 4] = UInt8(ascii: "Z")
        storage[count + 5] = UInt8(ascii: "\"")
        count += 6
    }

    /// A socket address as status shows it (`"127.0.0.1:51234"`, `"[::1]:51234"`).
    public func address(_ address: SocketAddress) {
        if case .v4(let value) = address.ip.unmapped {
            append(UInt8(ascii: "\""))
            unsigned(UInt(value >> 24))
            append(UInt8(ascii: "."))
            unsigned(UInt(value >> 16 & 0xFF))
            append(UInt8(ascii: "."))
            unsigned(UInt(value >> 8 & 0xFF))
            append(UInt8(ascii: "."))
            unsigned(UInt(value & 0xFF))
            append(UInt8(ascii: ":"))
            unsigned(UInt(address.port))
            append(UInt8(ascii: "\""))
        } else {
            string(address.description)
        }
    }
}
