// A bench run's settings: target, mode, sizes and times, with the hard caps every run stays under.
import Portvisor

/// The target as the config declares it, when bench was given `--service`: its kind is checked
/// before the run, and its `maxConnections` explains connections refused during it.
public struct BenchService: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var isUDP: Bool
    public var maxConnections: Int

    public init(name: String, kind: String, isUDP: Bool = false, maxConnections: Int) {
        self.name = name
        self.kind = kind
        self.isUDP = isUDP
        self.maxConnections = maxConnections
    }
}

/// Everything a bench run needs; `check()` enforces the caps. Built by `portvisor bench` or a test.
public struct BenchOptions: Sendable {
    public static let durationRange = 0.1...600.0
    public static let warmupRange = 0.0...60.0
    public static let connectionsRange = 1...60_000
    public static let threadsRange = 1...64
    public static let sizeRange = 1...(1 << 20)
    public static let timeoutRange = 0.01...60.0
    /// How long rr, stream and idle may take to open and prove their connections.
    public static let setupLimit = 30.0
    /// Extra seconds past setup + warm-up + duration + final proof before the watchdog ends the process.
    public static let watchdogGrace = 30.0
    /// At most this many connects in progress at once while setting up (shared by the threads).
    public static let setupPace = 256
    /// stream: at most this many bytes sent and not yet echoed, per connection.
    public static let streamWindow = 1 << 20
    /// connect/sentence: a reply longer than this is invalid.
    public static let maxReplyBytes = 4096
    public static let maxAckBytes = 256

    public var mode: BenchMode
    public var address: SocketAddress
    /// rr/stream/idle: connections; connect/sentence: concurrent workers.
    public var connections: Int
    /// rr: message bytes; stream: bytes per write; idle: probe bytes.
    public var size: Int
    /// The measured window (idle: how long connections are held), seconds.
    public var duration: Double
    public var warmup: Double
    public var threads: Int
    /// An operation without progress for this long counts as a timeout, seconds.
    public var timeout: Double
    /// sentence: the acknowledgement sent after the line.
    public var ack: [UInt8]
    /// idle: the server whose resident memory is read before and during the hold.
    public var serverPID: Int32?
    /// The config's service at `address`, when the target was named with `--service`.
    public var service: BenchService?

    public init(mode: BenchMode, address: SocketAddress) {
        self.mode = mode
        self.address = address
        connections = mode.defaultConnections
        size = mode.defaultSize
        duration = 5
        warmup = mode.defaultWarmup
        threads = 1
        timeout = 5
        ack = Array("ACK\r\n".utf8)
        serverPID = nil
        service = nil
    }

    /// Throws the first setting outside its cap, naming the option.
    public func check() throws(UsageError) {
        func within<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ name: String) throws(UsageError) {
            if !range.contains(value) { throw UsageError("\(name): \(value) is outside \(range.lowerBound)...\(range.upperBound)") }
        }
        try within(connections, Self.connectionsRange, "--connections")
        try within(threads, Self.threadsRange, "--threads")
        try within(duration, Self.durationRange, "--duration")
        try within(warmup, Self.warmupRange, "--warmup")
        try within(timeout, Self.timeoutRange, "--timeout")
        if mode.expectsEcho { try within(size, Self.sizeRange, "--size") }
        if mode == .sentence && (ack.isEmpty || ack.count > Self.maxAckBytes) {
            throw UsageError("--ack: the acknowledgement must be 1...\(Self.maxAckBytes) bytes")
        }
        if address.port == 0 { throw UsageError("the target port must not be 0") }
        if let service, let refusal = mode.refusal(of: service) { throw UsageError(refusal) }
    }

    /// `--ack` text with the escapes \r, \n, \t and \\ turned into bytes.
    public static func unescape(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var escaped = false
        for byte in text.utf8 {
            if escaped {
                switch byte {
                case UInt8(ascii: "r"): bytes.append(13)
                case UInt8(ascii: "n"): bytes.append(10)
                case UInt8(ascii: "t"): bytes.append(9)
                default: bytes.append(byte)
                }
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else {
                bytes.append(byte)
            }
        }
        if escaped { bytes.append(UInt8(ascii: "\\")) }
        return bytes
    }

    /// The longest a run can last before the watchdog fires, seconds.
    var watchdogSeconds: Double {
        (mode.opensConnectionsFirst ? Self.setupLimit : 0) + warmup + duration + timeout + Self.watchdogGrace
    }
}
