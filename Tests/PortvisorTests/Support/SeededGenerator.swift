// The tests' seeded random number generator: the fuzz checks' SplitMix64, so a failing soak,
// mutation or histogram test can be replayed from its seed.
import FuzzChecks

typealias SeededGenerator = SplitMix64
