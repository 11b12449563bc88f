// The last guard of `portvisor bench`: if a run outlives its budget (a bug, never a slow
// server, since every wait is bounded), it says so on stderr and ends the process.
import Dispatch
import Glibc

/// Ends the process with exit status 70 unless cancelled within `seconds`.
final class BenchWatchdog: Sendable {
    private let finished = DispatchSemaphore(value: 0)

    init(seconds: Double) throws(SystemError) {
        let finished = finished
        try LoopThread.start(name: "pv-bench-watch") {
            if finished.wait(timeout: .now() + seconds) == .timedOut {
                Output.err("portvisor bench: watchdog: the run did not end within \(Int(seconds)) s; exiting")
                _exit(ExitCode.software)
            }
        }
    }

    /// The run ended in time.
    func cancel() { finished.signal() }
}
