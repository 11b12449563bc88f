// The bench histogram against a sorted model: every percentile within 1/128 of the exact value.
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct LatencyHistogramTests {
    static let quantiles = [0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0]

    /// The value of rank ⌈q·n⌉ (at least 1) in the sorted samples: the histogram's definition.
    static func exact(_ sorted: [Int64], _ q: Double) -> Int64 {
        let rank = min(max(Int((q * Double(sorted.count)).rounded(.up)), 1), sorted.count)
        return sorted[rank - 1]
    }

    enum Distribution: String, CaseIterable, Sendable {
        case uniformSmall, logUniformUpTo10s, latencyWithTail

        func draw(_ r: inout SeededGenerator) -> Int64 {
            switch self {
            case .uniformSmall: return Int64.random(in: 0..<200, using: &r)
            case .logUniformUpTo10s: return Int64(exp(Double.random(in: 0..<log(1e10), using: &r)))
            case .latencyWithTail:
                // Around 50 µs, one in a thousand 200 times slower.
                return Int64.random(in: 40_000..<60_000, using: &r) * (Int.random(in: 0..<1000, using: &r) == 0 ? 200 : 1)
            }
        }
    }

    @Test(arguments: Distribution.allCases)
    func percentilesMatchTheSortedModel(_ distribution: Distribution) {
        var generator = SeededGenerator(seed: 42)
        var histogram = LatencyHistogram()
        var samples: [Int64] = []
        for _ in 0..<50_000 {
            let value = distribution.draw(&generator)
            samples.append(value)
            histogram.record(value)
        }
        samples.sort()
        #expect(histogram.count == UInt64(samples.count))
        #expect(histogram.max == samples.last)
        #expect(histogram.min == samples.first)
        for q in Self.quantiles {
            let want = Self.exact(samples, q)
            let got = histogram.percentile(q)
            #expect(abs(got - want) <= want / 128 + 1, "\(distribution): q=\(q): \(got) vs exact \(want)")
        }
    }

    @Test func smallValuesAreExactAndExtremesAreKept() {
        var histogram = LatencyHistogram()
        for value in [5, 7, 7, 100, 127] as [Int64] { histogram.record(value) }
        #expect(histogram.percentile(0.2) == 5)
        #expect(histogram.percentile(0.5) == 7)
        #expect(histogram.percentile(1) == 127)
        histogram.record(.max)
        histogram.record(-3)  // counts as 0
        #expect(histogram.percentile(1) == .max)
        #expect(histogram.percentile(0) == 0)
        #expect(LatencyHistogram().percentile(0.5) == 0)
    }

    @Test func mergingEqualsRecordingEverything() {
        var generator = SeededGenerator(seed: 7)
        var all = LatencyHistogram(), left = LatencyHistogram(), right = LatencyHistogram()
        for i in 0..<10_000 {
            let value = Int64.random(in: 0..<5_000_000, using: &generator)
            all.record(value)
            if i % 3 == 0 { left.record(value) } else { right.record(value) }
        }
        left.merge(right)
        #expect(left == all)
    }

    @Test func bucketsAreContiguousAndMidpointsLieInside() {
        // Every bucket's midpoint maps back to it, and bucket indexes grow with the value.
        var previous = -1
        for shift in 0..<63 {
            for value in [Int64(1) << shift, (Int64(1) << shift) + (Int64(1) << shift) / 3] {
                let index = LatencyHistogram.index(of: value)
                #expect(index >= previous && index < LatencyHistogram.bucketCount)
                #expect(LatencyHistogram.index(of: LatencyHistogram.midpoint(of: index)) == index)
                previous = index
            }
        }
        #expect(LatencyHistogram.index(of: .max) == LatencyHistogram.bucketCount - 1)
    }
}
