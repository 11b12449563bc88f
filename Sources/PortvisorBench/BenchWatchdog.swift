// The last guard of `portvisor bench`: if a run outlives its budget (a bug, never a slow
// server, since every wait is bounded), it says so on stderr and ends the process.
import Portvisor

/// Ends the process with exit status 70 unless cancelled within `seconds`.
final class BenchWatchdog: Sendable {
    private let finished = Semaphore()

    init(seconds: Double) throws(SystemError) {
        let finished = finished
        try LoopThread.start(name: "pv-bench-watch") {
            if !finished.wait(timeout: seconds) {
                Output.err("portvisor bench: watchdog: the run did not end within \(Int(seconds)) s; exiting")
                ProcessEnvironment.exitImmediately(ExitCode.software)
            }
        }
    }

    /// The run ended in time.
    func cancel() { finished.signal() }
}
