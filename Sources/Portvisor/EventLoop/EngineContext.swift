// What an engine (stream, datagram, …) needs from the thread it runs on: the loop, the
// service's counters, the logger, one shared read buffer, and the timer owners it may use.

/// Loop-thread only (built before the engine, so the engine can hold it as a `let`).
final class EngineContext {
    static let readBufferSize = 65536

    let name: String
    let loop: EventLoop
    let stats: ServiceStats
    let logger: Logger
    /// One 64 KiB buffer per thread: every read lands here first.
    let readBuffer: UnsafeMutableRawPointer
    /// The engine's timer owners start here; below are the thread's own (listener, drain).
    let firstTimer: Int
    /// Called after any connection closes (a draining worker ends when none is left).
    var connectionClosed: () -> Void = {}

    init(name: String, loop: EventLoop, stats: ServiceStats, logger: Logger, firstTimer: Int) {
        self.name = name
        self.loop = loop
        self.stats = stats
        self.logger = logger
        self.firstTimer = firstTimer
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
    }

    deinit { readBuffer.deallocate() }
}
