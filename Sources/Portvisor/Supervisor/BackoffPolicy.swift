// When to retry a failed listener: exponential backoff with jitter, as a pure value.

/// `initialDelay`, doubling per consecutive attempt, capped at `maxDelay`, with up to 20%
/// jitter *below* that value, so many services failing together spread out but a retry never
/// comes later than the nominal delay.
public struct BackoffPolicy: Sendable, Equatable {
    /// The fraction of the delay that jitter may remove.
    public static let jitter = 0.2

    public let restart: RestartPolicy

    public init(_ restart: RestartPolicy) { self.restart = restart }

    /// The nominal delay before the retry after `attempt` consecutive attempts (0: the first retry).
    public func nominalDelay(afterAttempt attempt: Int) -> Double {
        let doubled = restart.initialDelay * Double(1 << min(max(attempt, 0), 40))
        // Never below 1 ms, whatever a config built in code says: a timer that fires at once,
        // again and again, would be a busy loop (check rejects shorter delays in files).
        return max(min(doubled, restart.maxDelay), ConfigValidator.minRestartDelay)
    }

    /// The delay to wait, given `random` uniform in 0..<1: nominal × (1 − jitter × random).
    public func delay(afterAttempt attempt: Int, random: Double) -> Double {
        nominalDelay(afterAttempt: attempt) * (1 - Self.jitter * random)
    }

    /// Whether another attempt is allowed after `attempts` consecutive ones.
    public func allowsAttempt(after attempts: Int) -> Bool {
        guard let max = restart.maxRestarts else { return true }
        return attempts < max
    }
}
