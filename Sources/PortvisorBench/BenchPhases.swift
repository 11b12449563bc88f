// How the runner and its worker threads agree on time: every worker reports when its setup is
// done, then waits for the runner to publish the measured window and let everyone go at once.
import Portvisor

/// The start line of a bench run, shared by the runner and its workers.
final class BenchPhases: Sendable {
    /// The measured window on the monotonic clock: operations completing in
    /// `measureFrom..<measureUntil` count; at `measureUntil` every worker stops.
    struct Window: Sendable {
        var measureFrom: Int64
        var measureUntil: Int64
        /// A window that has already ended: workers stop at once (used when a run is abandoned).
        static let over = Window(measureFrom: 0, measureUntil: 0)
    }

    private let setupDone = Semaphore()
    private let go = Semaphore()
    private let window = Locked(Window.over)

    /// Worker: my connections are set up (or given up on).
    func finishedSetup() { setupDone.signal() }

    /// Worker: waits for the runner's go and returns the window.
    func awaitStart() -> Window {
        go.wait()
        return window.withLock { $0 }
    }

    /// Runner: waits until `workers` workers have finished their setup. Each one's setup is
    /// bounded by BenchOptions.setupLimit, so this returns.
    func awaitSetup(workers: Int) {
        for _ in 0..<workers { setupDone.wait() }
    }

    /// Runner: publishes `window` and releases `workers` workers.
    func start(_ value: Window, workers: Int) {
        window.withLock { $0 = value }
        for _ in 0..<workers { go.signal() }
    }
}
