// echo (RFC 862): every byte back, in order, until the client closes. At the client's
// half-close what is pending is sent, then the connection closes. Backpressure: at most
// `maxBufferedBytes` pending per connection; past it the engine stops reading until the client
// reads. Over UDP each datagram comes back unchanged.

extension KindName {
    public static let echo: KindName = "echo"
}

public struct EchoOptions: KindOptions, Equatable {
    public static let defaultMaxBufferedBytes = 65536
    /// Echo bytes pending for one connection before the server stops reading from it.
    public var maxBufferedBytes: Int
    public init(maxBufferedBytes: Int = EchoOptions.defaultMaxBufferedBytes) {
        self.maxBufferedBytes = maxBufferedBytes
    }
}

enum EchoKind: StreamKind, DatagramKind {
    static let name = KindName.echo
    typealias Runtime = EchoRuntime
    typealias UDPRuntime = EchoDatagramRuntime
    static let summary = "RFC 862: sends back every byte received, in order (maxBufferedBytes pending at most)"
    static let optionKeys = ["maxBufferedBytes"]
    static let transports: [TransportProtocol] = [.tcp, .udp]
    static var defaultOptions: any KindOptions { EchoOptions() }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        var options = EchoOptions()
        options.maxBufferedBytes = validator.integer(fields, "maxBufferedBytes", in: 1...(1 << 30)) ?? options.maxBufferedBytes
        return options
    }

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> EchoService {
        EchoService(maxBufferedBytes: (config.options as? EchoOptions)?.maxBufferedBytes ?? EchoOptions.defaultMaxBufferedBytes)
    }

    static func datagramService(_ config: ServiceConfig) -> EchoDatagrams { EchoDatagrams() }
}

/// What serves echo on its worker (concrete, so the engine is compiled for echo).
final class EchoRuntime: StreamRuntime {
    typealias Kind = EchoKind
    let engine: StreamEngine<EchoService>
    init(engine: StreamEngine<EchoService>) { self.engine = engine }
}

final class EchoDatagramRuntime: DatagramRuntime {
    typealias Kind = EchoKind
    let engine: DatagramEngine<EchoDatagrams>
    init(engine: DatagramEngine<EchoDatagrams>) { self.engine = engine }
}

public struct EchoService: StreamService {
    public let maxBufferedBytes: Int
    public init(maxBufferedBytes: Int) { self.maxBufferedBytes = maxBufferedBytes }

    public func open(wall: WallTime) -> (EchoConnection, Step) {
        (EchoConnection(limit: Int32(clamping: maxBufferedBytes)), .read)
    }
}

/// One echo connection: only its bound travels with it (4 bytes in the slot).
public struct EchoConnection: StreamConnection {
    let limit: Int32

    public var outputLimit: Int { Int(limit) }

    @inline(__always)
    public func received(_ input: UnsafeRawBufferPointer, now: MonotonicNanos) -> Step { Step(.input, then: .read) }

    /// The client shut its side: send what is pending, then close.
    public func endOfInput() -> Step { Step(then: .finish) }
}

public struct EchoDatagrams: DatagramService {
    public func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply { .input }
}
