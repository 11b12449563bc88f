// A stream kind on a service's worker: the StreamEngine with the kind's service, rebuilt from
// the config on reload (live connections keep the settings they started with).

final class StreamRuntime<Kind: StreamKind>: ServiceRuntime {
    let engine: StreamEngine<Kind.Service>

    init(_ config: ServiceConfig, context: EngineContext) {
        let service = Kind.service(config, stats: context.stats.kind)
        var sample = service
        let (empty, _) = sample.open(wall: WallTime(seconds: 0))
        let profile = StreamProfile(id: 0, policy: AdmissionPolicy(config), idleTimeout: config.idleTimeout,
                                    writeTimeout: config.writeTimeout, service: service)
        engine = StreamEngine(context: context, profile: profile, empty: empty)
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
}
