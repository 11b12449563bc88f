// One client connection of a bench worker: plain values in one preallocated block per worker,
// so the hot path touches no reference counts and allocates nothing.
import Portvisor

/// The state of one connection slot.
struct BenchConnection {
    enum State: UInt8 {
        /// No socket yet.
        case free
        /// Waiting for `retryAt`, then connecting again.
        case retry
        /// Non-blocking connect in progress.
        case connecting
        /// Connected (and proven), waiting for the measured run to start.
        case ready
        /// rr, or an idle proof: a message is out and its echo is due.
        case roundTrip
        /// stream: sending and reading the echo.
        case streaming
        /// connect/sentence: reading the line (connect: to end of file).
        case readingLine
        /// sentence: the acknowledgement is partly written.
        case writingAck
        /// sentence: acknowledged, reading to end of file.
        case draining
        /// idle: held open, nothing due.
        case holding
        /// Finished: the run is over for this slot, or an idle connection was lost.
        case done
    }

    var fd: Int32 = -1
    /// Bumped for every new socket; with the slot index it forms the epoll token, so an event
    /// for the slot's previous socket is recognised as stale.
    var generation: UInt32 = 0
    var state = State.free
    /// Whether epoll is asked for writability too.
    var pollingWrites = false
    /// The last connect of this slot was refused (so the next success is a reconnect).
    var wasRefused = false
    /// Completed round trips (picks the next message) or connect attempts after the first.
    var iteration: UInt64 = 0
    /// When the current operation started, when it last moved, when to retry (monotonic ns).
    var startedAt: Int64 = 0
    var lastProgress: Int64 = 0
    var retryAt: Int64 = 0
    /// rr: bytes of the message sent and received; stream: bytes of the stream.
    var sent = 0
    var received = 0
    /// rr: where the current message starts in the pattern.
    var messageOffset = 0
    /// connect/sentence: the reply so far, and how much of the acknowledgement went out.
    var reply = BenchReplyShape()
    var ackSent = 0

    @inline(__always)
    var isOpen: Bool { fd >= 0 }
}
