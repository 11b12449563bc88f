// time (RFC 868): four bytes, the seconds since 1900-01-01T00:00:00Z as a big-endian 32-bit
// number (it wraps in 2036, as the RFC's clients expect), then close. Over UDP the same four
// bytes answer each datagram.

extension KindName {
    public static let time: KindName = "time"
}

enum TimeKind: StreamKind, DatagramKind {
    static let name = KindName.time
    typealias Runtime = TimeRuntime
    typealias UDPRuntime = TimeDatagramRuntime
    static let summary = "RFC 868: the time as four bytes (seconds since 1900), then close"
    static let transports: [TransportProtocol] = [.tcp, .udp]

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> TimeService { TimeService() }
    static func datagramService(_ config: ServiceConfig) -> TimeService { TimeService() }
}

/// What serves time on its worker (concrete, so the engine is compiled for time).
final class TimeRuntime: StreamRuntime {
    typealias Kind = TimeKind
    let engine: StreamEngine<TimeService>
    init(engine: StreamEngine<TimeService>) { self.engine = engine }
}

final class TimeDatagramRuntime: DatagramRuntime {
    typealias Kind = TimeKind
    let engine: DatagramEngine<TimeService>
    init(engine: DatagramEngine<TimeService>) { self.engine = engine }
}

public enum TimeProtocol {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let epochOffset: Int64 = 2_208_988_800

    /// The four bytes for `seconds` since the Unix epoch.
    public static func bytes(unixSeconds seconds: Int64) -> [UInt8] {
        let value = UInt32(truncatingIfNeeded: seconds &+ epochOffset)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

public struct TimeService: StreamService, DatagramService {
    public init() {}

    public func open(wall: WallTime) -> (GreetingConnection, Step) {
        (GreetingConnection(), Step(.bytes(TimeProtocol.bytes(unixSeconds: wall.seconds)), then: .finish))
    }

    public func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply {
        .bytes(TimeProtocol.bytes(unixSeconds: wall.seconds))
    }
}

/// A connection that only receives its greeting (daytime, time, qotd): the engine writes it and
/// closes, usually without the connection ever taking a slot. Input is never read.
public struct GreetingConnection: StreamConnection {
    public init() {}
}
