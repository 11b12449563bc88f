// Fuzz properties of the sentence service's acknowledgement scanner: for several limits, the
// outcome does not depend on how the line is split into reads (nor on whether the scanner is
// kept or rebuilt from `consumed` per read, as the worker does), and `consumed` stays in bounds.
import Portvisor

/// Checks `AckScanner` on arbitrary client bytes.
public enum AckLineCheck: FuzzCheck {
    public static let name = "ack-line"

    public static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let plans = ChunkPlans.plans(for: input)
        for (maxBytes, consumed) in limits(for: input) {
            let expected = expectedOutcome(input, maxBytes: maxBytes, consumed: consumed)
            for plan in plans {
                for rebuild in [false, true] {
                    let outcome = try feed(input, plan: plan, maxBytes: maxBytes, consumed: consumed, rebuild: rebuild)
                    try expect(outcome == expected,
                               "maxBytes \(maxBytes), consumed \(consumed), \(plan.count) reads\(rebuild ? " (rebuilt per read)" : ""): "
                                   + "\(outcome), expected \(expected): \(preview(input))")
                }
            }
        }
    }

    /// (maxBytes, initial consumed) pairs around this input's interesting lengths: its size and
    /// the position of its first LF, plus the default limit of 1024.
    static func limits(for input: [UInt8]) -> [(Int, Int)] {
        let newline = input.firstIndex(of: 0x0A) ?? input.count
        var sizes = Set([1, 2, 3, 1024, input.count, input.count + 1, newline, newline + 1, newline + 2].filter { $0 >= 1 })
        sizes.formUnion([newline - 1].filter { $0 >= 1 })
        var pairs: [(Int, Int)] = []
        for maxBytes in sizes.sorted() {
            for consumed in Set([0, maxBytes / 2, maxBytes - 1]).sorted() { pairs.append((maxBytes, consumed)) }
        }
        return pairs
    }

    /// An LF within the `maxBytes - consumed` bytes still allowed acknowledges; that many bytes
    /// without one are too long; fewer need more.
    static func expectedOutcome(_ input: [UInt8], maxBytes: Int, consumed: Int) -> AckScanner.Outcome {
        let room = maxBytes - consumed
        if input.prefix(room).contains(0x0A) { return .acknowledged }
        return input.count >= room ? .tooLong : .needMore
    }

    /// Scans the chunks of `plan` until an outcome other than `.needMore`, checking `consumed`
    /// after every read: it grows by the bytes scanned, never past `maxBytes`.
    static func feed(_ input: [UInt8], plan: [Range<Int>], maxBytes: Int, consumed: Int, rebuild: Bool) throws(FuzzFailure) -> AckScanner.Outcome {
        var scanner = AckScanner(maxBytes: maxBytes, consumed: consumed)
        for range in plan {
            if rebuild { scanner = AckScanner(maxBytes: maxBytes, consumed: scanner.consumed) }
            let before = scanner.consumed
            let outcome = input[range].withUnsafeBytes { scanner.scan($0) }
            try expect(scanner.consumed <= maxBytes, "consumed \(scanner.consumed) exceeds maxBytes \(maxBytes)")
            try expect(scanner.consumed == min(maxBytes, before + range.count),
                       "consumed went from \(before) to \(scanner.consumed) after \(range.count) bytes (maxBytes \(maxBytes))")
            try expect(outcome != .tooLong || scanner.consumed == maxBytes, "too long with only \(scanner.consumed) of \(maxBytes) bytes")
            if outcome != .needMore { return outcome }
        }
        return .needMore
    }
}
