// The connections of one loop: slots in memory the loop owns, with a free list. A slot's index
// and generation form the 64-bit epoll token, so an event for a closed-and-reused slot is
// recognised as stale. What a kind keeps per connection is the slot's `state`, a value the
// table stores without knowing what it means (echo keeps its byte budget, sentence its scanner,
// the status endpoint its request head).
//
// The slots live behind an unsafe pointer rather than in an Array property of a class: the
// loop reaches a connection through one pointer per event, with no runtime exclusivity check
// and no copy-on-write test per field. An idle echo connection costs one slot (under 136
// bytes) and no heap allocation: its output buffer exists only while bytes are pending.

/// What a connection is doing, as the engine sees it (not what its kind calls it).
enum ConnectionMode: UInt8 {
    /// The slot is free.
    case closed
    /// Reading input, writing what is pending.
    case reading
    /// Writing what the kind generates whenever the socket takes it; input read and dropped.
    case generating
    /// As `generating`, after the client's end of file: no more reading.
    case generatingOnly
    /// Writing what is pending, then closing.
    case finishing
    /// Writing what is pending, then lingering.
    case finishingThenLinger
    /// The response is out and the write side shut: reading to end of file, then closing.
    case lingering
    /// Waiting for its owner (the status endpoint gathering a snapshot); no I/O.
    case suspended
}

/// One connection's slot. `State` is the kind's per-connection value. Loop-thread only.
struct ConnectionSlot<State> {
    var peer = SocketAddress(ip: .v4(0), port: 0)
    var since = WallTime(seconds: 0)
    var openedAt: MonotonicNanos = 0
    var lastActivity: MonotonicNanos = 0
    /// Since when pending output has made no progress (meaningful while output is pending).
    var writeStalledSince: MonotonicNanos = 0
    var bytesIn = 0
    var bytesOut = 0
    var output: OutputBuffer?
    var fd: Int32 = -1
    var generation: UInt32 = 0
    /// The profile (settings) the connection was accepted under; reloads keep old ones alive.
    var profileID: Int32 = 0
    /// The events registered with epoll.
    var interest: IOEvents = []
    var mode: ConnectionMode = .closed
    var registered = false
    /// Counted in the engine's source table (released on close).
    var countedInSources = false
    var state: State

    var pendingCount: Int { output?.count ?? 0 }
}

/// The slot array. Loop-thread only. Its mutable scalars live in one header the table owns
/// (a `let` pointer), so reading them costs a load, not a runtime exclusivity check.
final class ConnectionTable<State> {
    private struct Header {
        /// Slot storage; its address changes only in `allocate` when the table grows.
        var base: UnsafeMutablePointer<ConnectionSlot<State>>
        var capacity: Int
        /// Slots ever used (initialised); the rest of `capacity` is raw memory.
        var used: Int
        var live: Int
    }

    private let header: UnsafeMutablePointer<Header>
    private var free: [Int32] = []
    private let empty: State

    /// `empty`: the state a free slot holds.
    init(empty: State, initialCapacity: Int = 16) {
        self.empty = empty
        let capacity = max(1, initialCapacity)
        header = .allocate(capacity: 1)
        header.initialize(to: Header(base: .allocate(capacity: capacity), capacity: capacity, used: 0, live: 0))
    }

    deinit {
        header.pointee.base.deinitialize(count: header.pointee.used)
        header.pointee.base.deallocate()
        header.deallocate()
    }

    /// Slots ever used (live or free).
    @inline(__always) var count: Int { header.pointee.used }
    /// Live connections.
    @inline(__always) var live: Int { header.pointee.live }

    /// A free slot, marked live. May move the slots: take pointers after this, not before.
    /// A slot for a new connection, its common fields set: `fd` and `peer`, opened at `since`
    /// (wall) and `now` (also its last activity and the start of any write stall), reading.
    @inline(__always)
    func open(_ fd: Int32, peer: SocketAddress, since: WallTime, now: MonotonicNanos, countedInSources: Bool) -> Int {
        let index = allocate()
        let c = self[index]
        c.pointee.fd = fd
        c.pointee.peer = peer
        c.pointee.since = since
        c.pointee.openedAt = now
        c.pointee.lastActivity = now
        c.pointee.writeStalledSince = now
        c.pointee.countedInSources = countedInSources
        c.pointee.mode = .reading
        return index
    }

    func allocate() -> Int {
        header.pointee.live += 1
        if let index = free.popLast() { return Int(index) }
        if header.pointee.used == header.pointee.capacity { grow() }
        let index = header.pointee.used
        (header.pointee.base + index).initialize(to: ConnectionSlot(state: empty))
        header.pointee.used += 1
        return index
    }

    private func grow() {
        let newCapacity = header.pointee.capacity * 2
        let newBase = UnsafeMutablePointer<ConnectionSlot<State>>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: header.pointee.base, count: header.pointee.used)
        header.pointee.base.deallocate()
        header.pointee.base = newBase
        header.pointee.capacity = newCapacity
    }

    /// Returns `index` to the free list; its generation moves on so stale tokens miss.
    func release(_ index: Int) {
        let slot = self[index]
        let generation = (slot.pointee.generation &+ 1) & Self.generationMask
        slot.pointee = ConnectionSlot(state: empty)
        slot.pointee.generation = generation
        free.append(Int32(index))
        header.pointee.live -= 1
    }

    /// The slot at `index` (valid until the next `allocate`).
    @inline(__always)
    subscript(index: Int) -> UnsafeMutablePointer<ConnectionSlot<State>> { header.pointee.base + index }

    /// Generations use 31 bits: tokens with the top bit set belong to listeners.
    static var generationMask: UInt32 { 0x7FFF_FFFF }
    /// Slot indices use 30 bits; the two above them say which descriptor of the slot an event is
    /// for (a proxy's upstream, an exec child's pidfd).
    static var indexMask: UInt64 { 0x3FFF_FFFF }

    /// The epoll token of slot `index` (`role` 0 for the connection's own socket).
    @inline(__always)
    func token(_ index: Int, role: UInt64 = 0) -> UInt64 {
        UInt64(self[index].pointee.generation) << 32 | role << 30 | UInt64(index)
    }

    /// The slot a token names, if it is still the same connection.
    @inline(__always)
    func slot(for token: UInt64) -> Int? {
        let index = Int(token & Self.indexMask)
        guard index < header.pointee.used else { return nil }
        let slot = self[index]
        guard slot.pointee.generation == UInt32(truncatingIfNeeded: token >> 32), slot.pointee.fd >= 0 else { return nil }
        return index
    }

    /// The descriptor role a token carries (0: the connection's socket).
    @inline(__always)
    static func role(of token: UInt64) -> UInt64 { (token >> 30) & 3 }

    /// Indices of live slots.
    var liveIndices: [Int] { (0..<count).filter { self[$0].pointee.fd >= 0 } }
}
