// How the streaming targets split one input into reads: whole, byte by byte, and a few
// pseudo-random splits seeded from the input itself, so every split replays exactly.

/// Ways to cut `count` bytes into consecutive non-empty chunks, deterministic per input.
enum ChunkPlans {
    /// The whole input as one chunk, then one byte per chunk, then `random` seeded splits.
    /// Each plan's ranges are non-empty, in order, and cover `0..<count` exactly.
    static func plans(for input: [UInt8], random: Int = 4) -> [[Range<Int>]] {
        let count = input.count
        guard count > 0 else { return [[]] }
        var plans: [[Range<Int>]] = [[0..<count], (0..<count).map { $0..<($0 + 1) }]
        var generator = SplitMix64(seed: fnv1a(input))
        // Small chunks stress the boundaries; large ones resemble real reads.
        let widths = [2, 3, 16, 4096]
        for index in 0..<random {
            let widest = widths[index % widths.count]
            var plan: [Range<Int>] = []
            var start = 0
            while start < count {
                let length = 1 + Int(generator.next() % UInt64(widest))
                let end = min(count, start + length)
                plan.append(start..<end)
                start = end
            }
            plans.append(plan)
        }
        return plans
    }

    /// FNV-1a, 64 bits: a stable seed (Swift's `Hasher` is randomly seeded per process).
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }
}

/// Sebastiano Vigna's SplitMix64: small, fast, and the same sequence on every platform.
/// The tests use it too, so a failure can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
