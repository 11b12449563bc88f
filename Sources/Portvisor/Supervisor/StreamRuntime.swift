// A stream kind on a service's worker: the StreamEngine with the kind's service, rebuilt from
// the config on reload (live connections keep the settings they started with).
//
// Each kind names a small concrete class for this (`final class EchoRuntime: StreamRuntime` in
// Echo.swift). The worker reaches its runtime through an existential, and a generic class
// reached that way runs its generic code unspecialised, with a metadata lookup per call (it
// doubled the instructions per echo round trip). A concrete class's witnesses are specialised
// copies of the defaults below, so the whole read-echo path is compiled for its kind.

protocol StreamRuntime: ServiceRuntime {
    associatedtype Kind: StreamKind
    var engine: StreamEngine<Kind.Service> { get }
    init(engine: StreamEngine<Kind.Service>)
}

extension StreamRuntime {
    static func make(_ config: ServiceConfig, context: EngineContext) -> Self {
        let service = Kind.service(config, stats: context.stats.kind)
        // The engine resets freed slots to a connection's state; any opened one serves (a copy
        // of the service opens it, so the service itself is untouched).
        var sample = service
        let (empty, _) = sample.open(wall: WallTime(seconds: 0))
        let profile = StreamProfile(id: 0, policy: AdmissionPolicy(config), idleTimeout: config.idleTimeout,
                                    writeTimeout: config.writeTimeout, service: service)
        return Self(engine: StreamEngine(context: context, profile: profile, empty: empty))
    }

    @inline(__always)
    func accepted(_ fd: Int32, peer: SocketAddress) { engine.accepted(fd, peer: peer) }

    @inline(__always)
    func handleEvent(token: UInt64, events: IOEvents) { engine.handleEvent(token: token, events: events) }

    func handleTimer(owner: Int) { engine.handleTimer(owner: owner) }

    func reconfigure(_ config: ServiceConfig) {
        engine.reconfigure(policy: AdmissionPolicy(config), idleTimeout: config.idleTimeout, writeTimeout: config.writeTimeout,
                           service: Kind.service(config, stats: engine.context.stats.kind))
    }

    var liveCount: Int { engine.live }
    func liveConnections() -> [LiveConnection] { engine.liveConnections() }
    func closeAll(reason: String) { engine.closeAll(reason: reason) }
    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> { .success(engine.kill(from: peer)) }
}
