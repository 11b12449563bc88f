// UDP services on a worker thread: one socket, each datagram answered by the kind's
// DatagramService (echo, daytime, time, qotd, chargen; discard answers nothing), behind the
// defences inetd learned the hard way, and those a reflector needs:
//   - never answer a privileged source port, a broadcast, multicast or unspecified source, or
//     one of our own UDP sockets on this machine (two services ping-ponging forever);
//   - at most `maxConnectionRatePerSource` answers per source per second (100 by default; IPv6
//     sources per /64), the excess dropped and logged at most once per source per second;
//   - at most `maxReplyBytesPerSecond` reply bytes per second for the whole service (256 KiB by
//     default), so a spoofed range of sources cannot turn it into a firehose;
//   - no reply larger than 8 times its request, headers counted (28 bytes each way): chargen
//     sends fewer lines to a short request, and a reply that cannot shrink (a long quote) is
//     dropped.

/// A datagram kind's runtime on a worker: a concrete class per kind (as for StreamRuntime).
protocol DatagramRuntime: ServiceRuntime {
    associatedtype Kind: DatagramKind
    var engine: DatagramEngine<Kind.Datagrams> { get }
    init(engine: DatagramEngine<Kind.Datagrams>)
}

extension DatagramRuntime {
    static func make(_ config: ServiceConfig, context: EngineContext) -> Self {
        Self(engine: DatagramEngine(config, context: context, service: Kind.datagramService(config)))
    }

    func accepted(_ fd: Int32, peer: SocketAddress) { Syscall.close(fd) }
    func handleEvent(token: UInt64, events: IOEvents) {}
    func handleTimer(owner: Int) { engine.handleTimer(owner: owner) }
    func reconfigure(_ config: ServiceConfig) { engine.reconfigure(config, service: Kind.datagramService(config)) }
    var liveCount: Int { 0 }
    func liveConnections() -> [LiveConnection] { [] }
    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> {
        .failure(.usage("a UDP service has no connections to close"))
    }
    func closeAll(reason: String) {}
    func listenerChanged(_ event: ListenerEvent) { engine.listenerChanged(event) }
    func datagramsReady(_ fd: Int32) { engine.datagramsReady(fd) }
}

/// One UDP socket's answers. Loop-thread only.
final class DatagramEngine<Service: DatagramService> {
    /// Answers per source per second when the config sets no rate.
    static var defaultRate: Double { 100 }
    /// Datagrams handled per wakeup before the loop serves others.
    static var datagramsPerWakeup: Int { 64 }

    /// Every UDP address this process listens on, so that its services never answer each other.
    static var ownEndpoints: Locked<Set<SocketAddress>> { DatagramEndpoints.shared }

    private let context: EngineContext
    private var service: Service
    private var config: ServiceConfig
    private var sources: SourceTable
    private var registered: SocketAddress?
    private var sweepScheduled = false
    /// The service's reply bytes: a token bucket of `maxReplyBytesPerSecond`, refilled continuously.
    private var replyBytes: Double
    private var replyBytesAt: MonotonicNanos
    private var lastBudgetLog: MonotonicNanos?

    /// Headers of a UDP/IPv4 datagram (20 + 8 bytes), counted on both sides of the size rule.
    static var headerBytes: Int { 28 }
    /// A reply may be at most this many times its request, headers included.
    static var amplification: Int { 8 }

    init(_ config: ServiceConfig, context: EngineContext, service: Service) {
        self.context = context
        self.config = config
        self.service = service
        sources = SourceTable(ipv6Prefix: config.ipv6SourcePrefix)
        replyBytes = Double(config.maxReplyBytesPerSecond)
        replyBytesAt = context.loop.now
    }

    /// The largest reply to a request of `count` bytes (UDP payloads; at most 65,507).
    static func maxReply(toRequestOf count: Int) -> Int {
        min(65_507, amplification * (count + headerBytes) - headerBytes)
    }

    private var rate: Double { config.maxConnectionRatePerSource ?? Self.defaultRate }

    func handleTimer(owner: Int) {
        sweepScheduled = false
        if sources.sweep(now: context.loop.now, rate: rate) { scheduleSweep() }
    }

    private func scheduleSweep() {
        guard !sweepScheduled else { return }
        sweepScheduled = true
        context.loop.timers.schedule(context.firstTimer, at: context.loop.now + 1_000_000_000)
    }

    func reconfigure(_ config: ServiceConfig, service: Service) {
        self.config = config
        self.service = service
        sources.ipv6Prefix = config.ipv6SourcePrefix
        replyBytes = min(replyBytes, Double(config.maxReplyBytesPerSecond))
    }

    func listenerChanged(_ event: ListenerEvent) {
        switch event {
        case .listening(_, let port):
            let endpoint = SocketAddress(ip: config.address, port: UInt16(port))
            registered = endpoint
            _ = Self.ownEndpoints.withLock { $0.insert(endpoint) }
        case .closed:
            if let endpoint = registered {
                _ = Self.ownEndpoints.withLock { $0.remove(endpoint) }
                registered = nil
            }
        default:
            break
        }
    }

    func datagramsReady(_ fd: Int32) {
        let stats = context.stats
        let buffer = context.readBuffer
        for _ in 0..<Self.datagramsPerWakeup {
            let received: (count: Int, from: SocketAddress?)
            do {
                guard let datagram = try Socket.receive(fd, into: buffer, capacity: EngineContext.readBufferSize) else { return }
                received = datagram
            } catch {
                // ICMP errors from earlier replies surface here; they concern one peer only.
                if Listener.transientAcceptErrors.contains(error.errno) || error.errno == Errno.ECONNREFUSED { continue }
                return
            }
            ServiceStats.add(stats.datagramsIn, 1)
            ServiceStats.add(stats.bytesIn, received.count)
            guard let source = received.from, shouldAnswer(source) else {
                ServiceStats.add(stats.datagramsDropped, 1)
                continue
            }
            answer(fd, to: source, request: UnsafeRawBufferPointer(start: buffer, count: received.count))
        }
    }

    /// The defences: loops, refusals, and the per-source rate.
    private func shouldAnswer(_ source: SocketAddress) -> Bool {
        let own = Self.ownEndpoints.withLock { endpoints in DatagramDefence.isOwnEndpoint(source, among: endpoints) }
        if let risk = DatagramDefence.loopRisk(from: source, ownPort: own, boundTo: source.ip) {
            context.logger.debug(context.name, event: "datagram-dropped", "\(source): dropped: \(risk)")
            return false
        }
        let ip = source.ip.unmapped
        let now = context.loop.now
        if !config.access.allowsEverything && !config.access.permits(ip) {
            logDrop(source, "not allowed by allow/deny", now: now)
            return false
        }
        let allowed = sources.takeToken(ip, now: now, rate: rate)
        scheduleSweep()
        if !allowed {
            logDrop(source, "more than \(JSONNumber(rate).text) answer\(rate == 1 ? "" : "s") per second to this source (maxConnectionRatePerSource)", now: now)
        }
        return allowed
    }

    /// Logs a dropped datagram at most once per source per second.
    private func logDrop(_ source: SocketAddress, _ reason: String, now: MonotonicNanos) {
        guard sources.shouldLogRefusal(source.ip, now: now) else { return }
        context.logger.warning(context.name, event: "datagram-dropped", "\(source.ip.unmapped): dropped: \(reason)",
                               fields: [JSONMember("peer", .string(source.description))])
        scheduleSweep()
    }

    /// Takes `count` bytes from the service's reply budget; false (logged once a second) when
    /// the budget is spent.
    private func takeReplyBudget(_ count: Int) -> Bool {
        let now = context.loop.now
        let capacity = Double(config.maxReplyBytesPerSecond)
        replyBytes = min(capacity, replyBytes + Double(max(0, now - replyBytesAt)) / 1e9 * capacity)
        replyBytesAt = now
        guard replyBytes >= Double(count) else {
            if lastBudgetLog.map({ now - $0 >= 1_000_000_000 }) ?? true {
                lastBudgetLog = now
                context.logger.warning(context.name, event: "reply-budget", "maxReplyBytesPerSecond (\(config.maxReplyBytesPerSecond)) reached; dropping datagrams")
            }
            return false
        }
        replyBytes -= Double(count)
        return true
    }

    private func answer(_ fd: Int32, to destination: SocketAddress, request: UnsafeRawBufferPointer) {
        let limit = Self.maxReply(toRequestOf: request.count)
        let result: Result<IOResult, SystemError>
        switch service.reply(to: request, wall: Clock.wall()) {
        case .none:
            return
        case .input:
            guard takeReplyBudget(request.count) else { return dropped() }
            result = Result { () throws(SystemError) -> IOResult in
                try Socket.send(fd, request.baseAddress ?? UnsafeRawPointer(context.readBuffer), count: request.count, to: destination)
            }
        case .bytes(let bytes):
            guard bytes.count <= limit else {
                context.logger.debug(context.name, event: "datagram-dropped", "\(destination): dropped: a \(bytes.count)-byte reply to a \(request.count)-byte request is over 8 times its size")
                return dropped()
            }
            guard takeReplyBudget(bytes.count) else { return dropped() }
            result = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> IOResult in try Socket.send(fd, raw.baseAddress!, count: raw.count, to: destination) }
            }
        case .stream(let window, let unit):
            // A stream shrinks to whole units within the limit (at least part of one).
            let whole = limit / max(unit, 1) * max(unit, 1)
            let count = window.count <= limit ? window.count : (whole > 0 ? whole : limit)
            guard takeReplyBudget(count) else { return dropped() }
            result = Result { () throws(SystemError) -> IOResult in try Socket.send(fd, window.baseAddress!, count: count, to: destination) }
        }
        if case .success(.done(let sent)) = result {
            ServiceStats.add(context.stats.datagramsOut, 1)
            ServiceStats.add(context.stats.bytesOut, sent)
        } else {
            dropped()
        }
    }

    private func dropped() {
        ServiceStats.add(context.stats.datagramsDropped, 1)
    }
}

/// The process-wide set of bound UDP addresses.
enum DatagramEndpoints {
    static let shared = Locked<Set<SocketAddress>>([])
}

/// Which datagram sources must never be answered, as pure functions.
public enum DatagramDefence {
    /// Why a datagram from `source` must not be answered, or nil. `ownPort`: the source is one
    /// of this process's UDP sockets; `bound`: the answering service's address.
    public static func loopRisk(from source: SocketAddress, ownPort: Bool, boundTo bound: IPAddress) -> String? {
        let ip = source.ip.unmapped
        if source.port < 1024 { return "privileged source port \(source.port)" }
        if ip.isWildcard { return "unspecified source address" }
        switch ip {
        case .v4(let value) where value == UInt32.max || value >> 28 == 0xE: return "broadcast or multicast source"
        case .v6(let value) where value >> 120 == 0xFF: return "multicast source"
        default: break
        }
        if ownPort && (ip.isLoopback || ip == bound.unmapped || bound.isWildcard) { return "one of our own UDP ports" }
        return nil
    }

    /// Whether `source` is one of `endpoints`: the same port, and the same address or a
    /// wildcard that covers it (a socket on `0.0.0.0` sends from whichever address routes).
    public static func isOwnEndpoint(_ source: SocketAddress, among endpoints: Set<SocketAddress>) -> Bool {
        let ip = source.ip.unmapped
        for endpoint in endpoints where endpoint.port == source.port {
            let bound = endpoint.ip.unmapped
            if bound == ip || bound == .anyV6 || (bound.isWildcard && bound.isIPv4 == ip.isIPv4) { return true }
        }
        return false
    }
}
