// The connections of one worker: a slot array with a free list. A slot's index and generation
// form the 64-bit epoll token, so an event for a closed-and-reused slot is recognised as stale.
// An idle connection costs one slot (about 130 bytes) and no heap allocation: the output buffer
// exists only while bytes are pending.

/// What a connection is doing.
enum ConnectionPhase: UInt8 {
    /// The slot is free.
    case closed
    /// echo: reading and echoing.
    case echoing
    /// sentence: the sentence is (being) sent; waiting for the acknowledgement line.
    case awaitingAck
    /// Writing what is pending, then closing (daytime, time, qotd, echo after half-close,
    /// sentence after ack).
    case closingAfterFlush
    /// discard: reading and dropping.
    case discarding
    /// chargen: writing the pattern whenever writable; input is dropped.
    case generating
}

/// Bytes written to a socket only in part, kept until it is writable again.
struct OutputBuffer {
    private(set) var bytes: [UInt8]
    private(set) var offset = 0

    init(_ pointer: UnsafeRawPointer, count: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    var count: Int { bytes.count - offset }
    var isEmpty: Bool { offset == bytes.count }

    mutating func append(_ pointer: UnsafeRawPointer, count: Int) {
        if offset > 0 && offset >= bytes.count / 2 {
            bytes.removeFirst(offset)
            offset = 0
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
    }

    mutating func consume(_ count: Int) { offset += count }

    /// Calls `body` with the pending bytes.
    func withPending<R>(_ body: (UnsafeRawBufferPointer) throws(SystemError) -> R) throws(SystemError) -> R {
        let result: Result<R, SystemError> = bytes.withUnsafeBytes { all in
            do throws(SystemError) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: all[offset...])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// One connection's state. Loop-thread only.
struct Connection {
    // Ordered large to small, small counters as Int32, so a slot packs into 136 bytes (was 176).
    var peer = SocketAddress(ip: .v4(0), port: 0)
    var since = WallTime(seconds: 0)
    var openedAt: MonotonicNanos = 0
    var lastActivity: MonotonicNanos = 0
    /// Since when pending output has made no progress (meaningful while `output` is set).
    var writeStalledSince: MonotonicNanos = 0
    var bytesIn = 0
    var bytesOut = 0
    var output: OutputBuffer?
    var fd: Int32 = -1
    var generation: UInt32 = 0
    // Four small counters stored as Int32 (all bounded well below 2^31), used as Int below.
    private var storedProfileID: Int32 = 0
    private var storedMaxBufferedBytes: Int32 = 0
    private var storedAckConsumed: Int32 = 0
    private var storedChargenOffset: Int32 = 0
    /// The events registered with epoll (empty: not registered).
    var interest: IOEvents = []
    var phase: ConnectionPhase = .closed
    var registered = false
    /// sentence: the acknowledgement arrived (the sentence may still be flushing).
    var acknowledged = false
    /// Counted in the worker's SourceTable (released on close).
    var countedInSources = false

    var pendingCount: Int { output?.count ?? 0 }

    /// The ServiceProfile the connection was accepted under (reloads keep old ones alive).
    var profileID: Int {
        get { Int(storedProfileID) }
        set { storedProfileID = Int32(truncatingIfNeeded: newValue) }
    }
    /// echo: the profile's maxBufferedBytes (at most 1 GiB), copied here so the read path needs
    /// no profile lookup.
    var maxBufferedBytes: Int {
        get { Int(storedMaxBufferedBytes) }
        set { storedMaxBufferedBytes = Int32(newValue) }
    }
    /// sentence: bytes of the acknowledgement line seen so far (at most maxAckBytes, 1 MiB).
    var ackConsumed: Int {
        get { Int(storedAckConsumed) }
        set { storedAckConsumed = Int32(newValue) }
    }
    /// chargen: the offset in the character stream (below one cycle, 7,030 bytes).
    var chargenOffset: Int {
        get { Int(storedChargenOffset) }
        set { storedChargenOffset = Int32(newValue) }
    }
}

/// The slot array. Loop-thread only.
struct ConnectionTable {
    var slots: [Connection] = []
    private var free: [Int32] = []
    private(set) var live = 0

    /// A free slot, marked live.
    mutating func allocate() -> Int {
        live += 1
        if let index = free.popLast() { return Int(index) }
        slots.append(Connection())
        return slots.count - 1
    }

    /// Returns `index` to the free list; its generation moves on so stale tokens miss.
    mutating func release(_ index: Int) {
        let generation = slots[index].generation &+ 1
        slots[index] = Connection()
        slots[index].generation = generation
        free.append(Int32(index))
        live -= 1
    }

    /// The epoll token of slot `index`.
    func token(_ index: Int) -> UInt64 {
        UInt64(slots[index].generation) << 32 | UInt64(index)
    }

    /// The slot a token names, if it is still the same connection.
    func slot(for token: UInt64) -> Int? {
        let index = Int(token & 0xFFFF_FFFF)
        guard index < slots.count, slots[index].generation == UInt32(token >> 32), slots[index].fd >= 0 else { return nil }
        return index
    }

    /// Indices of live slots.
    var liveIndices: [Int] { slots.indices.filter { slots[$0].fd >= 0 } }
}
