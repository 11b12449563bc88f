// The bytes a bench client sends and expects back: one fixed pseudo-random sequence, built once
// and shared read-only by every thread, so checking an echo is a memcmp against it.
import Portvisor

/// A pseudo-random byte sequence of `period` bytes, stored twice in a row so that a slice of up
/// to `period` bytes starting anywhere in the first copy is contiguous.
final class BenchPattern: @unchecked Sendable {
    /// Not a power of two, so successive 64 KiB writes never start at the same place.
    static let period = (1 << 20) + 13
    /// Immutable after init; threads only read it.
    let base: UnsafeMutablePointer<UInt8>

    init() {
        base = .allocate(capacity: 2 * Self.period)
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for i in 0..<Self.period {
            // xorshift64*: cheap, and no short cycles that could hide a misplaced echo.
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            base[i] = UInt8(truncatingIfNeeded: (state &* 0x2545_F491_4F6C_DD1D) >> 56)
        }
        (base + Self.period).update(from: base, count: Self.period)
    }

    deinit { base.deallocate() }

    /// Where message `iteration` of connection `connection` starts: different for every
    /// connection and every round, so a reply meant for another connection or round is caught.
    @inline(__always)
    static func messageOffset(connection: Int, iteration: UInt64) -> Int {
        Int((UInt64(connection) &* 40_503 &+ iteration &* 65_537) % UInt64(period))
    }

    /// The pattern from `offset` (taken modulo the period) on.
    @inline(__always)
    func bytes(at offset: Int) -> UnsafeMutablePointer<UInt8> { base + offset % Self.period }

    /// Whether `count` bytes at `buffer` equal the pattern from `offset` on.
    @inline(__always)
    func matches(_ buffer: UnsafeRawPointer, count: Int, at offset: Int) -> Bool {
        Memory.equal(buffer, bytes(at: offset), count: count)
    }
}
