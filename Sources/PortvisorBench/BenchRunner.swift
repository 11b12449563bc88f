// Runs one bench: checks the target answers, splits the connections over worker threads, lets
// them set up, opens the measured window for all at once, joins them and adds up what they saw.
import Portvisor

/// Why a bench could not run; each case has its exit status.
public enum BenchRunError: Error, Sendable {
    /// A setting outside its cap, or an unusable --pid (exit 64).
    case usage(String)
    /// The first connection to the target failed (exit 69).
    case unreachable(SocketAddress, SystemError)
    /// A thread or epoll instance could not be created (exit 70).
    case system(SystemError)

    public var exitCode: Int32 {
        switch self {
        case .usage: return ExitCode.usage
        case .unreachable: return ExitCode.unavailable
        case .system: return ExitCode.software
        }
    }

    /// One line, without the "portvisor bench: " prefix.
    public var message: String {
        switch self {
        case .usage(let text): return text
        case .unreachable(let address, let error): return "cannot connect to \(address): \(error)"
        case .system(let error): return "\(error)"
        }
    }
}

public enum BenchRunner {
    /// Runs `options` to the end and returns what was measured. Ignores SIGPIPE and raises the
    /// descriptor limit for the process. With `watchdog`, a run that outlives its budget ends
    /// the process (the command line uses it; tests do not).
    public static func run(_ options: BenchOptions, watchdog: Bool = false) throws(BenchRunError) -> BenchResult {
        do { try options.check() } catch { throw .usage(error.message) }
        Syscall.ignoreSIGPIPE()
        var notes: [String] = []
        let limit = Syscall.raiseFileLimit().soft
        if UInt64(options.connections + 64) > limit {
            notes.append("the descriptor limit (\(limit)) is below \(options.connections) connections + 64; connects will fail (raise it with ulimit -n)")
        }
        if let pid = options.serverPID, ProcessUsage.residentKiB(pid: pid) == nil {
            throw .usage("--pid \(pid): /proc/\(pid)/status has no resident size (no such process?)")
        }
        // One plain connect first: a target that is not there is a clear error, not a run of retries.
        do {
            Syscall.close(try Socket.connect(to: options.address, timeout: options.timeout))
        } catch {
            throw .unreachable(options.address, error)
        }
        let threads = min(options.threads, options.connections)
        let pattern = BenchPattern()
        let pace = (BenchOptions.setupPace + threads - 1) / threads
        var workers: [BenchWorker] = []
        do {
            for t in 0..<threads {
                let first = options.connections * t / threads
                let end = options.connections * (t + 1) / threads
                workers.append(try BenchWorker(options: options, pattern: pattern, firstIndex: first, count: end - first, pace: pace))
            }
        } catch {
            throw .system(error)
        }
        let guardian: BenchWatchdog?
        do { guardian = watchdog ? try BenchWatchdog(seconds: options.watchdogSeconds) : nil } catch { throw .system(error) }
        defer { guardian?.cancel() }

        let rssBefore = options.serverPID.flatMap { ProcessUsage.residentKiB(pid: $0) }
        let cpuBefore = ProcessUsage.cpuSeconds()
        let wallBefore = Clock.monotonic()
        let phases = BenchPhases()
        var handles: [LoopThread.Handle] = []
        var startFailure: SystemError?
        for (t, worker) in workers.enumerated() {
            do {
                handles.append(try LoopThread.startJoinable(name: "pv-bench-\(t)") { worker.run(phases) })
            } catch {
                startFailure = error
                break
            }
        }
        phases.awaitSetup(workers: handles.count)
        if let startFailure {
            phases.start(.over, workers: handles.count)
            for handle in handles { handle.join() }
            throw .system(startFailure)
        }
        let measureFrom = Clock.monotonic() + Clock.nanos(options.warmup)
        phases.start(.init(measureFrom: measureFrom, measureUntil: measureFrom + Clock.nanos(options.duration)), workers: handles.count)
        var rssHeld: Int?
        if options.mode == .idle, let pid = options.serverPID {
            // Like the C harness: the server's memory about a second into the hold.
            sleep(until: measureFrom + Clock.nanos(min(1, options.duration / 2)))
            rssHeld = ProcessUsage.residentKiB(pid: pid)
        }
        for handle in handles { handle.join() }
        let wall = Double(Clock.monotonic() - wallBefore) / 1e9
        let cpu = ProcessUsage.cpuSeconds() - cpuBefore

        var counters = BenchCounters()
        var histogram = LatencyHistogram()
        for worker in workers {
            counters.add(worker.counters)
            histogram.merge(worker.histogram)
        }
        return BenchResult(options: options, threads: threads, counters: counters, histogram: histogram,
                           wallSeconds: wall, cpuSeconds: cpu, serverRSSBeforeKiB: rssBefore, serverRSSHeldKiB: rssHeld,
                           firstError: workers.lazy.compactMap(\.firstError).first, notes: notes)
    }

    /// Sleeps until the monotonic clock reaches `deadline` (a timed sample, not synchronisation).
    private static func sleep(until deadline: Int64) {
        Clock.sleep(until: deadline)
    }
}
