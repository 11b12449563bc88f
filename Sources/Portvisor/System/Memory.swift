// Byte searches and comparisons over raw memory (memchr, memcmp), for pure code that scans
// what a socket read.
import Glibc

public enum Memory {
    /// The offset of the first `byte` in `count` bytes at `base`, or nil.
    @inline(__always)
    public static func firstIndex(of byte: UInt8, in base: UnsafeRawPointer, count: Int) -> Int? {
        guard count > 0, let found = memchr(base, Int32(byte), count) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Whether `count` bytes at `a` and `b` are equal.
    @inline(__always)
    public static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
        memcmp(a, b, count) == 0
    }
}
