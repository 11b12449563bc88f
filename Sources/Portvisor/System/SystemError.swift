// The one error type of the system layer: the call's name and errno, read at once.
import Glibc

/// A failed system call, e.g. `bind: Address already in use (errno: 98)`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call that failed (`bind`, `accept4`, …).
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// The C library's text for `errno` ("Address already in use").
    public var reason: String { SystemError.describe(errno: errno) }

    public var description: String { "\(call): \(reason) (errno: \(errno))" }

    public static func describe(errno: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        // Glibc's Swift module imports the XSI strerror_r, which fills `buffer`.
        guard strerror_r(errno, &buffer, buffer.count) == 0 else { return "errno \(errno)" }
        return String(cBuffer: buffer)
    }
}

extension String {
    /// The text of a NUL-terminated C character buffer.
    init(cBuffer buffer: [CChar]) {
        self.init(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
