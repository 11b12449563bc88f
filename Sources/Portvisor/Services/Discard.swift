// discard (RFC 863): read and drop everything until the client closes. Over UDP nothing is
// ever sent back.

extension KindName {
    public static let discard: KindName = "discard"
}

enum DiscardKind: StreamKind, DatagramKind {
    static let name = KindName.discard
    typealias Runtime = DiscardRuntime
    typealias UDPRuntime = DiscardDatagramRuntime
    static let summary = "RFC 863: reads and drops everything"
    static let transports: [TransportProtocol] = [.tcp, .udp]

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> DiscardService { DiscardService() }
    static func datagramService(_ config: ServiceConfig) -> DiscardDatagrams { DiscardDatagrams() }
}

/// What serves discard on its worker (concrete, so the engine is compiled for discard).
final class DiscardRuntime: StreamRuntime {
    typealias Kind = DiscardKind
    let engine: StreamEngine<DiscardService>
    init(engine: StreamEngine<DiscardService>) { self.engine = engine }
}

final class DiscardDatagramRuntime: DatagramRuntime {
    typealias Kind = DiscardKind
    let engine: DatagramEngine<DiscardDatagrams>
    init(engine: DatagramEngine<DiscardDatagrams>) { self.engine = engine }
}

public struct DiscardService: StreamService {
    public init() {}
    public func open(wall: WallTime) -> (DiscardConnection, Step) { (DiscardConnection(), .read) }
}

public struct DiscardConnection: StreamConnection {
    public func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step { .read }
    /// The client's end of file ends the session.
    public func endOfInput() -> Step { Step(then: .close("client closed")) }
}

public struct DiscardDatagrams: DatagramService {
    public func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply { .none }
}
