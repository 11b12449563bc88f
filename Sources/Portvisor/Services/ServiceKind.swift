// What a kind of service is, as Portvisor sees it: a row of the registry (Kinds.swift) with its
// options, and the protocol it speaks as a value that takes bytes and events and says what to
// do next (the "sans-I/O" shape of h11 or swift-nio-http2's state machines). The engines in
// EventLoop/ and Supervisor/ do the I/O and carry the steps out; the kinds never touch a socket,
// so their logic is tested without one (Tests/PortvisorTests/Services).

/// A kind's name as services.json spells it (`"echo"`). Each kind file adds its constant
/// (`KindName.echo`), so code can say `.echo` without an enum that lists every kind.
public struct KindName: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
}

/// A kind's validated options. Each kind file defines its own type (`EchoOptions`, …).
public protocol KindOptions: Sendable {
    /// Whether `other` holds the same settings (reload keeps a service whose settings are equal).
    func isEqual(to other: any KindOptions) -> Bool
}

extension KindOptions where Self: Equatable {
    public func isEqual(to other: any KindOptions) -> Bool { (other as? Self) == self }
}

/// The options of a kind that has none.
public struct NoOptions: KindOptions, Equatable {
    public init() {}
}

/// One kind of service: the registry's row. Everything a kind adds to Portvisor is reached
/// from here — its config keys, their validation, the transports it serves, what serves it,
/// and what it adds to status.
protocol ServiceKind: Sendable {
    static var name: KindName { get }
    /// One line for `--help`, the man page and the docs.
    static var summary: String { get }
    /// The kind's own keys in a service entry (a key of another kind is reported as such).
    static var optionKeys: [String] { get }
    /// The transports it serves; TCP first.
    static var transports: [TransportProtocol] { get }
    /// Common keys that mean nothing for this kind, and what `check` says when one is set.
    static var inapplicableKeys: [InapplicableKey] { get }
    /// The options an entry that sets none gets (`ServiceConfig`'s initialiser uses them).
    static var defaultOptions: any KindOptions { get }
    /// Reads and validates the kind's options of one entry; every problem goes to `validator`.
    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions
    /// The counters the kind adds to status (sentence acknowledgements, …); nil when none.
    static func makeStats() -> (any KindStats)?
    /// What serves one service of this kind on its worker thread.
    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime
}

extension ServiceKind {
    static var transports: [TransportProtocol] { [.tcp] }
    static var inapplicableKeys: [InapplicableKey] { [] }
    static var defaultOptions: any KindOptions { NoOptions() }
    static var optionKeys: [String] { [] }
    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions { defaultOptions }
    static func makeStats() -> (any KindStats)? { nil }
}

/// A common key a kind cannot honour. An `error` is a key whose silent absence would be unsafe
/// (an access rule nobody enforces); a warning one that only has no effect.
struct InapplicableKey: Sendable {
    let key: String
    let reason: String
    let error: Bool
}

/// Counters a kind keeps beside the common ones, shared by its worker (the writer) and status
/// (a reader). Safe from any thread.
public protocol KindStats: AnyObject, Sendable {
    /// The values now, for `/status` and `/metrics`.
    func snapshot() -> any KindSnapshot
}

/// A kind's counters at one moment, as status shows them.
public protocol KindSnapshot: Sendable {
    /// Writes the kind's members of a service's `/status` object: `,\n      "key": value` each.
    func writeStatus(into out: JSONOutput)
    /// The kind's metric families; `service` is the label value.
    func metrics(service: String) -> [MetricFamily]
    /// Connections the kind's own deadline closed (status shows them as `timeouts.ack`:
    /// sentence's ackTimeout).
    var deadlineTimeouts: Int { get }
}

extension KindSnapshot {
    public var deadlineTimeouts: Int { 0 }
}

// MARK: Stream kinds (TCP)

/// What the engine writes for a step.
public enum StepOutput: Sendable {
    case none
    /// The bytes just received, unchanged (echo): written straight from the read buffer.
    case input
    case bytes([UInt8])
}

/// What a connection does after a step.
public enum StepNext: Sendable, Equatable {
    /// Read input (while its pending output stays under `outputLimit`); flush what is pending.
    case read
    /// Write what `generate()` offers whenever the socket takes it; read and drop input.
    case generate
    /// As `generate`, without reading: after the client's end of file a stream goes on until
    /// the client closes completely (RFC 864) or an error ends it.
    case generateOnly
    /// Write what is pending, then close.
    case finish
    /// Write what is pending, shut the write side, read to end of file (at most two seconds),
    /// then close: the answer is never cut short by a reset over unread request bytes (HTTP).
    case linger
    /// Close now, dropping pending output; the text says why (debug log).
    case close(String)
    /// Stop: the connection's owner supplies the next step later (the status endpoint waiting
    /// for every worker's snapshot).
    case suspend
}

/// One step's actions.
public struct Step: Sendable {
    public var output: StepOutput
    public var next: StepNext

    public init(_ output: StepOutput = .none, then next: StepNext) {
        self.output = output
        self.next = next
    }

    public static let read = Step(then: .read)
    public static let generate = Step(then: .generate)
}

/// One connection's protocol, as a value. Every method is a pure step: bytes or an event in,
/// a `Step` out. The engine owns the socket, the output buffer and the common deadlines
/// (idleTimeout, writeTimeout); the connection owns what its protocol needs.
public protocol StreamConnection {
    /// Most bytes of output that may be pending before the engine stops reading
    /// (backpressure: echo's `maxBufferedBytes`).
    var outputLimit: Int { get }
    /// Whether idleTimeout applies (sentence and the status endpoint have deadlines of their own).
    static var idleTimeoutApplies: Bool { get }
    /// Bytes arrived.
    mutating func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step
    /// The client shut down its side (read returned end of file).
    mutating func endOfInput() -> Step
    /// generate: the bytes to offer now (memory that stays valid; only what the socket takes is
    /// consumed, and `generated` says how much).
    mutating func generate() -> UnsafeRawBufferPointer
    mutating func generated(_ count: Int)
    /// The kind's own deadline (sentence: ackTimeout from accept), nil for none.
    func deadline(openedAt: MonotonicNanos) -> MonotonicNanos?
    /// That deadline passed.
    mutating func deadlinePassed(now: MonotonicNanos) -> Step
    /// The engine is closing the connection for a reason of its own (a timeout, an I/O error,
    /// the drain deadline): the kind counts what it must.
    mutating func abandoned()
}

extension StreamConnection {
    public var outputLimit: Int { 1 << 30 }
    public static var idleTimeoutApplies: Bool { true }
    public mutating func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step { .read }
    public mutating func endOfInput() -> Step { Step(then: .finish) }
    public mutating func generate() -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
    public mutating func generated(_ count: Int) {}
    public func deadline(openedAt: MonotonicNanos) -> MonotonicNanos? { nil }
    public mutating func deadlinePassed(now: MonotonicNanos) -> Step { Step(then: .close("deadline passed")) }
    public mutating func abandoned() {}
}

/// A stream kind's settings for one service, compiled from its options: what every new
/// connection starts with. Reloads build a new one; connections keep the one they began under.
public protocol StreamService {
    associatedtype Connection: StreamConnection
    /// A connection was accepted: its state and first step (a greeting, or wait for input).
    mutating func open(wall: WallTime) -> (Connection, Step)
}

/// A stream kind: its TCP form is a `StreamService`, served by its `Runtime` (a one-line
/// concrete class, see StreamRuntime.swift).
protocol StreamKind: ServiceKind {
    associatedtype Service: StreamService
    associatedtype Runtime: StreamRuntime where Runtime.Kind == Self
    /// The service for `config`; `stats` is what `makeStats` made for it.
    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> Service
}

// MARK: Datagram kinds (UDP)

/// A datagram kind's answer to one datagram.
public enum DatagramReply {
    case none
    /// The datagram unchanged (echo).
    case input
    case bytes([UInt8])
    /// Bytes in memory that stays valid (chargen's pattern), which may be cut short to whole
    /// `unit`s when the reply would be too large for its request.
    case stream(UnsafeRawBufferPointer, unit: Int)
}

/// A kind's UDP form: one answer per datagram (or none).
public protocol DatagramService {
    mutating func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply
}

/// A kind with a UDP form, served by its `DatagramRuntime` (a one-line concrete class).
protocol DatagramKind: ServiceKind {
    associatedtype Datagrams: DatagramService
    associatedtype UDPRuntime: DatagramRuntime where UDPRuntime.Kind == Self
    static func datagramService(_ config: ServiceConfig) -> Datagrams
}

extension StreamKind {
    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime {
        Runtime.make(config, context: context)
    }
}

extension StreamKind where Self: DatagramKind {
    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime {
        if config.transport == .udp { return UDPRuntime.make(config, context: context) }
        return Runtime.make(config, context: context)
    }
}
