// discard (RFC 863): read and drop everything until the client closes. Over UDP nothing is
// ever sent back.

extension KindName {
    public static let discard: KindName = "discard"
}

enum DiscardKind: StreamKind, DatagramKind {
    static let name = KindName.discard
    static let summary = "RFC 863: reads and drops everything"
    static let transports: [TransportProtocol] = [.tcp, .udp]

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> DiscardService { DiscardService() }
    static func datagramService(_ config: ServiceConfig) -> DiscardDatagrams { DiscardDatagrams() }
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
