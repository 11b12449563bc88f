// Latencies in a log-linear histogram: fixed memory whatever the run's length, percentiles
// within 1/128 of the true value. Recording is a few integer operations and no allocation.
import Portvisor

/// Nanosecond latencies: exact below 128 ns, then 64 equal buckets per power of two.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBucketBits = 6
    static let subBuckets = 1 << subBucketBits          // 64 per power of two
    static let exactLimit = 2 * subBuckets              // 0..<128 have a bucket each
    /// Enough buckets for every non-negative Int64 (the top power of two is 2^62).
    static let bucketCount = exactLimit + (62 - subBucketBits) * subBuckets

    private var buckets: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0
    public private(set) var min: Int64 = .max
    public private(set) var max: Int64 = 0

    public init() {
        buckets = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    /// Adds one latency (negative values count as 0).
    @inline(__always)
    public mutating func record(_ nanos: Int64) {
        let value = Swift.max(nanos, 0)
        buckets[Self.index(of: value)] &+= 1
        count &+= 1
        sum &+= UInt64(value)
        if value > max { max = value }
        if value < min { min = value }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<Self.bucketCount { buckets[i] &+= other.buckets[i] }
        count &+= other.count
        sum &+= other.sum
        max = Swift.max(max, other.max)
        min = Swift.min(min, other.min)
    }

    /// The latency at quantile `q` (0...1): the value of rank ⌈q·count⌉ among the sorted samples,
    /// as its bucket's midpoint kept within the smallest and largest sample (the top rank is the
    /// largest sample itself); 0 when empty.
    public func percentile(_ q: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = Swift.min(Swift.max(UInt64((q * Double(count)).rounded(.up)), 1), count)
        if rank == count { return max }
        var seen: UInt64 = 0
        for i in 0..<Self.bucketCount {
            seen &+= buckets[i]
            if seen >= rank { return Swift.min(Swift.max(Self.midpoint(of: i), min), max) }
        }
        return max
    }

    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    @inline(__always)
    static func index(of value: Int64) -> Int {
        if value < exactLimit { return Int(value) }
        let shift = (63 - value.leadingZeroBitCount) - subBucketBits   // ≥ 1
        return exactLimit + (shift - 1) * subBuckets + Int(value >> shift) - subBuckets
    }

    /// The middle of the values that land in bucket `index`.
    static func midpoint(of index: Int) -> Int64 {
        if index < exactLimit { return Int64(index) }
        let shift = (index - exactLimit) / subBuckets + 1
        let mantissa = UInt64((index - exactLimit) % subBuckets + subBuckets)
        return Int64(clamping: mantissa << shift + (UInt64(1) << shift) / 2)
    }
}
