// proxy on a worker: each admitted connection gets a non-blocking connect to the upstream (its
// socket is the slot's second descriptor, epoll role 1); then two flows, client → upstream and
// upstream → client, each read into the thread's buffer and written straight on, with only what
// the destination does not take kept (at most maxBufferedBytes: past it the source is not read).
// A source's end of file becomes shutdown(SHUT_WR) of the other side once its flow is written;
// the pair closes when both flows have ended, or at the first error. idleTimeout (no byte either
// way) and writeTimeout (a flow's pending bytes make no progress) apply, connectTimeout while
// connecting.
//
// A flow whose reads keep filling the whole buffer is a stream: it moves to splice(2) through a
// pipe of its own (at most 32 KiB, within maxBufferedBytes), so its bytes no longer pass
// through user space. Round trips of small messages stay on read/write, which is faster for
// them (refproxy measured both: splice wins a stream, read/write wins 512 connections of
// 64-byte round trips).
import Synchronization

/// One direction of a proxied connection.
struct ProxyFlow {
    /// Read from the source, not yet written to the destination.
    var pending: OutputBuffer?
    /// The source has sent its end of file.
    var sourceClosed = false
    /// The destination's write side is shut (after the source's end of file).
    var shutDown = false
    /// Bytes written to the destination.
    var bytes = 0
    /// Since when pending bytes made no progress.
    var stalledSince: MonotonicNanos = 0
    /// splice: the flow's pipe, and the bytes in it not yet spliced to the destination.
    var pipeRead: Int32 = -1
    var pipeWrite: Int32 = -1
    var inPipe: Int32 = 0
    var pipeCapacity: Int32 = 0
    /// Reads in a row that filled the whole buffer (a stream, when it reaches `spliceAfter`).
    var fullReads: UInt8 = 0

    var spliced: Bool { pipeRead >= 0 }
    var pendingCount: Int { (pending?.count ?? 0) + Int(inPipe) }
    var hasPending: Bool { pending != nil || inPipe > 0 }
    var isDone: Bool { sourceClosed && !hasPending && shutDown }
}

/// One proxied connection: the upstream side and both flows. Loop-thread only.
struct ProxyConnection {
    var upstream: Int32 = -1
    var connecting = true
    var upstreamInterest: IOEvents = []
    var upstreamRegistered = false
    var toUpstream = ProxyFlow()
    var toClient = ProxyFlow()
    var target = SocketAddress(ip: .v4(0), port: 0)
    var limit: Int32 = 65536
    var connectDeadline: MonotonicNanos = 0
}

final class ProxyRuntime: ServiceRuntime {
    static let upstreamRole: UInt64 = 1
    static let readsPerWakeup = 4
    /// Full reads in a row after which a flow moves to splice.
    static let spliceAfter: UInt8 = 2
    /// The pipe of a spliced flow (refproxy: 32 KiB beat 8, 16, 64 and 256 KiB for a stream).
    static let pipeBytes = 32 * 1024

    private let context: EngineContext
    private let table = ConnectionTable(empty: ProxyConnection())
    private let loop: EventLoop
    private let stats: ServiceStats
    private let readBuffer: UnsafeMutableRawPointer
    private let kindStats: ProxyStats?
    private let firstConnectionTimer: Int
    private var config: ServiceConfig
    private var options: ProxyOptions
    private var policy: AdmissionPolicy
    private var idleNanos: MonotonicNanos
    private var writeNanos: MonotonicNanos
    private var admission = Admission()
    private var lastFailureLog: MonotonicNanos?

    typealias Slot = UnsafeMutablePointer<ConnectionSlot<ProxyConnection>>

    init(_ config: ServiceConfig, context: EngineContext) {
        self.context = context
        loop = context.loop
        stats = context.stats
        readBuffer = context.readBuffer
        kindStats = context.stats.kind as? ProxyStats
        firstConnectionTimer = context.firstTimer + 1
        self.config = config
        options = config.options as? ProxyOptions ?? ProxyOptions(upstream: SocketAddress(ip: .loopbackV4, port: 1))
        policy = AdmissionPolicy(config)
        idleNanos = Clock.nanos(config.idleTimeout)
        writeNanos = Clock.nanos(config.writeTimeout)
    }

    var liveCount: Int { table.live }

    func reconfigure(_ config: ServiceConfig) {
        self.config = config
        options = config.options as? ProxyOptions ?? options
        policy = AdmissionPolicy(config)
        idleNanos = Clock.nanos(config.idleTimeout)
        writeNanos = Clock.nanos(config.writeTimeout)
    }

    // MARK: Accept and connect

    func accepted(_ fd: Int32, peer: SocketAddress) {
        let now = loop.now
        let counted: Bool
        switch admission.judge(peer, live: table.live, policy: policy, now: now) {
        case .admit(let tracked):
            counted = tracked
        case .refuse(let refusal):
            Syscall.close(fd)
            ServiceStats.add(stats.refused, 1)
            admission.logRefusal(peer, refusal, now: now, name: context.name, logger: context.logger)
            return
        case .full(let tracked):
            if tracked { admission.release(peer) }
            Syscall.close(fd)
            ServiceStats.add(stats.rejected, 1)
            admission.logFull(peer, live: table.live, limit: policy.maxConnections, now: now, name: context.name, logger: context.logger)
            return
        }
        let upstream: (fd: Int32, connected: Bool)
        do {
            upstream = try Socket.startConnect(to: options.upstream, noDelay: true)
        } catch {
            if counted { admission.release(peer) }
            Syscall.close(fd)
            upstreamFailed(peer, "\(error)")
            return
        }
        Socket.setNoDelay(fd)
        ServiceStats.add(stats.total, 1)
        ServiceStats.add(stats.live, 1)
        let index = table.open(fd, peer: peer, since: Clock.wall(), now: now, countedInSources: counted)
        let c = table[index]
        c.pointee.state.upstream = upstream.fd
        c.pointee.state.target = options.upstream
        c.pointee.state.limit = Int32(clamping: options.maxBufferedBytes)
        c.pointee.state.connectDeadline = now + Clock.nanos(options.connectTimeout)
        context.logger.debug(context.name, event: "connection-opened", "\(peer): connected; connecting to \(options.upstreamText)")
        if upstream.connected {
            connected(c, index)
        } else {
            c.pointee.state.connecting = true
            updateInterest(c, index)
            armTimer(c, index)
        }
    }

    /// The upstream connection is up: the PROXY header first, then both flows.
    private func connected(_ c: Slot, _ index: Int) {
        c.pointee.state.connecting = false
        if let version = options.proxyProtocol {
            let local = (try? Socket.localAddress(c.pointee.fd)) ?? SocketAddress(ip: config.address, port: UInt16(clamping: config.port))
            let header = ProxyKind.proxyHeader(version, client: c.pointee.peer, local: local)
            header.withUnsafeBytes { raw in
                c.pointee.state.toUpstream.pending = OutputBuffer(raw.baseAddress!, count: raw.count)
            }
            c.pointee.state.toUpstream.stalledSince = loop.now
            guard flush(&c.pointee.state.toUpstream, to: c.pointee.state.upstream, c, index, counts: false) else { return }
        }
        updateInterest(c, index)
        armTimer(c, index)
    }

    private func upstreamFailed(_ peer: SocketAddress, _ reason: String) {
        kindStats?.upstreamFailures.wrappingAdd(1, ordering: .relaxed)
        let now = loop.now
        if lastFailureLog.map({ now - $0 >= 1_000_000_000 }) ?? true {
            lastFailureLog = now
            context.logger.warning(context.name, event: "upstream-failed", "\(peer): cannot reach the upstream \(options.upstreamText): \(reason)")
        }
    }

    // MARK: Events

    @inline(__always)
    func handleEvent(token: UInt64, events: IOEvents) {
        guard let index = table.slot(for: token) else { return }
        let c = table[index]
        let failing = events.contains(.error) || events.contains(.hangup)
        if ConnectionTable<ProxyConnection>.role(of: token) == Self.upstreamRole {
            if c.pointee.state.connecting {
                let code = Socket.pendingError(c.pointee.state.upstream)
                if code != 0 {
                    upstreamFailed(c.pointee.peer, SystemError("connect", errno: code).description)
                    close(index, reason: "the upstream refused or failed")
                    return
                }
                guard events.contains(.writable) || failing else { return }
                connected(c, index)
                return
            }
            if events.contains(.writable) || failing {
                guard flush(&c.pointee.state.toUpstream, to: c.pointee.state.upstream, c, index, counts: true) else { return }
            }
            if events.contains(.readable) || failing {
                guard pump(&c.pointee.state.toClient, from: c.pointee.state.upstream, to: c.pointee.fd, c, index, downstream: true) else { return }
            }
        } else {
            if events.contains(.writable) || failing {
                guard flush(&c.pointee.state.toClient, to: c.pointee.fd, c, index, counts: true) else { return }
            }
            if events.contains(.readable) || failing {
                guard pump(&c.pointee.state.toUpstream, from: c.pointee.fd, to: c.pointee.state.upstream, c, index, downstream: false) else { return }
            }
        }
        finishIfDone(c, index)
    }

    /// Reads what the source has and writes it on; keeps what the destination does not take.
    /// Returns false when the pair was closed.
    @inline(__always)
    private func pump(_ flow: inout ProxyFlow, from source: Int32, to destination: Int32, _ c: Slot, _ index: Int,
                      downstream: Bool) -> Bool {
        if flow.spliced { return splice(&flow, from: source, to: destination, c, index, downstream: downstream) }
        let limit = Int(c.pointee.state.limit)
        for _ in 0..<Self.readsPerWakeup {
            guard !flow.sourceClosed else { break }
            let room = limit - flow.pendingCount
            guard room > 0 else { break }
            let wanted = min(EngineContext.readBufferSize, room)
            let count: Int
            do {
                switch try Syscall.read(source, readBuffer, wanted) {
                case .wouldBlock: return updateAndKeep(c, index)
                case .done(let n): count = n
                }
            } catch {
                close(index, reason: error.reason)
                return false
            }
            if count == 0 {
                flow.sourceClosed = true
                break
            }
            c.pointee.lastActivity = loop.now
            if flow.pending != nil {
                flow.pending!.append(readBuffer, count: count)
                break
            }
            var written = 0
            do {
                if case .done(let n) = try Syscall.write(destination, readBuffer, count) { written = n }
            } catch {
                close(index, reason: error.reason)
                return false
            }
            if written > 0 { account(c, downstream, written, &flow) }
            if written < count {
                flow.pending = OutputBuffer(readBuffer + written, count: count - written)
                flow.stalledSince = loop.now
                armTimer(c, index)
                break
            }
            if count < wanted {
                flow.fullReads = 0
                break
            }
            if wanted == EngineContext.readBufferSize && flow.fullReads < Self.spliceAfter {
                flow.fullReads += 1
                if flow.fullReads == Self.spliceAfter && startSplicing(&flow, limit: limit) {
                    return splice(&flow, from: source, to: destination, c, index, downstream: downstream)
                }
            }
        }
        if flow.sourceClosed && flow.pending == nil && !flow.shutDown {
            flow.shutDown = true
            Socket.shutdownWrite(destination)
        }
        return updateAndKeep(c, index)
    }

    /// A streaming flow gets a pipe (when nothing is pending in user space, so order holds).
    private func startSplicing(_ flow: inout ProxyFlow, limit: Int) -> Bool {
        guard flow.pending == nil, let pipe = try? Syscall.splicePipe(size: min(Self.pipeBytes, limit)) else { return false }
        flow.pipeRead = pipe.read
        flow.pipeWrite = pipe.write
        flow.pipeCapacity = Int32(clamping: min(pipe.capacity, max(limit, 4096)))
        return true
    }

    /// The spliced flow: what is in the pipe to the destination, then the source into the pipe,
    /// up to `readsPerWakeup` rounds (`source` -1: only drain the pipe). Returns false when the
    /// pair was closed.
    private func splice(_ flow: inout ProxyFlow, from source: Int32, to destination: Int32, _ c: Slot, _ index: Int,
                        downstream: Bool) -> Bool {
        for _ in 0..<Self.readsPerWakeup {
            if flow.inPipe > 0 {
                let moved: IOResult
                do {
                    moved = try Syscall.splice(from: flow.pipeRead, to: destination, count: Int(flow.inPipe))
                } catch {
                    close(index, reason: error.reason)
                    return false
                }
                if case .done(let n) = moved, n > 0 {
                    flow.inPipe -= Int32(n)
                    account(c, downstream, n, &flow)
                    c.pointee.lastActivity = loop.now
                    flow.stalledSince = loop.now
                }
                if flow.inPipe > 0 {
                    armTimer(c, index)
                    break  // the destination is full: wait until it is writable
                }
            }
            guard !flow.sourceClosed, source >= 0 else { break }
            let read: IOResult
            do {
                read = try Syscall.splice(from: source, to: flow.pipeWrite, count: Int(flow.pipeCapacity))
            } catch {
                close(index, reason: error.reason)
                return false
            }
            guard case .done(let n) = read else { break }
            if n == 0 {
                flow.sourceClosed = true
                break
            }
            flow.inPipe += Int32(n)
            c.pointee.lastActivity = loop.now
        }
        if flow.sourceClosed && !flow.hasPending && !flow.shutDown {
            flow.shutDown = true
            Socket.shutdownWrite(destination)
        }
        return updateAndKeep(c, index)
    }

    /// Writes a flow's pending bytes. Returns false when the pair was closed.
    private func flush(_ flow: inout ProxyFlow, to destination: Int32, _ c: Slot, _ index: Int, counts: Bool) -> Bool {
        if flow.spliced && flow.pending == nil {
            return flow.inPipe > 0 ? splice(&flow, from: -1, to: destination, c, index, downstream: destination == c.pointee.fd) : true
        }
        guard let pending = flow.pending else { return true }
        let result: IOResult
        do {
            result = try pending.withPending { (bytes) throws(SystemError) -> IOResult in
                try Syscall.write(destination, bytes.baseAddress!, bytes.count)
            }
        } catch {
            close(index, reason: error.reason)
            return false
        }
        if case .done(let n) = result, n > 0 {
            if counts { account(c, destination == c.pointee.fd, n, &flow) }
            c.pointee.lastActivity = loop.now
            flow.stalledSince = loop.now
            flow.pending!.consume(n)
            if flow.pending!.isEmpty { flow.pending = nil }
        }
        if flow.pending == nil && flow.sourceClosed && !flow.shutDown {
            flow.shutDown = true
            Socket.shutdownWrite(destination)
        }
        return updateAndKeep(c, index)
    }

    @inline(__always)
    /// Counts bytes written: upstream → client (`downstream`) as bytesOut, the other way bytesIn.
    private func account(_ c: Slot, _ downstream: Bool, _ count: Int, _ flow: inout ProxyFlow) {
        flow.bytes &+= count
        if downstream {
            c.pointee.bytesOut &+= count
            ServiceStats.add(stats.bytesOut, count)
        } else {
            c.pointee.bytesIn &+= count
            ServiceStats.add(stats.bytesIn, count)
        }
    }

    @inline(__always)
    private func updateAndKeep(_ c: Slot, _ index: Int) -> Bool {
        updateInterest(c, index)
        return c.pointee.fd >= 0
    }

    /// Both flows ended: close the pair.
    private func finishIfDone(_ c: Slot, _ index: Int) {
        guard c.pointee.fd >= 0, c.pointee.state.toUpstream.isDone, c.pointee.state.toClient.isDone else { return }
        close(index, reason: "both sides closed")
    }

    // MARK: Interest

    @inline(__always)
    private func updateInterest(_ c: Slot, _ index: Int) {
        guard c.pointee.fd >= 0 else { return }
        let limit = Int(c.pointee.state.limit)
        let up = c.pointee.state.toUpstream, down = c.pointee.state.toClient
        var client: IOEvents = [], upstream: IOEvents = []
        if c.pointee.state.connecting {
            upstream = .writable
        } else {
            if !up.sourceClosed && up.pendingCount < (up.spliced ? Int(up.pipeCapacity) : limit) { client.insert(.readable) }
            if down.hasPending { client.insert(.writable) }
            if !down.sourceClosed && down.pendingCount < (down.spliced ? Int(down.pipeCapacity) : limit) { upstream.insert(.readable) }
            if up.hasPending { upstream.insert(.writable) }
        }
        do {
            if !c.pointee.registered || c.pointee.interest != client {
                if c.pointee.registered {
                    try loop.epoll.modify(c.pointee.fd, client, token: table.token(index))
                } else {
                    try loop.epoll.add(c.pointee.fd, client, token: table.token(index))
                    c.pointee.registered = true
                }
                c.pointee.interest = client
            }
            if !c.pointee.state.upstreamRegistered || c.pointee.state.upstreamInterest != upstream {
                if c.pointee.state.upstreamRegistered {
                    try loop.epoll.modify(c.pointee.state.upstream, upstream, token: table.token(index, role: Self.upstreamRole))
                } else {
                    try loop.epoll.add(c.pointee.state.upstream, upstream, token: table.token(index, role: Self.upstreamRole))
                    c.pointee.state.upstreamRegistered = true
                }
                c.pointee.state.upstreamInterest = upstream
            }
        } catch {
            close(index, reason: "\(error)")
        }
    }

    // MARK: Deadlines

    private func deadline(of c: Slot) -> MonotonicNanos {
        if c.pointee.state.connecting { return c.pointee.state.connectDeadline }
        let stall = loop.lastStall
        var deadline = max(c.pointee.lastActivity, stall) + idleNanos
        if c.pointee.state.toUpstream.hasPending {
            deadline = min(deadline, max(c.pointee.state.toUpstream.stalledSince, stall) + writeNanos)
        }
        if c.pointee.state.toClient.hasPending {
            deadline = min(deadline, max(c.pointee.state.toClient.stalledSince, stall) + writeNanos)
        }
        return deadline
    }

    private func armTimer(_ c: Slot, _ index: Int) {
        loop.timers.schedule(firstConnectionTimer + index, at: deadline(of: c))
    }

    func handleTimer(owner: Int) {
        if owner == context.firstTimer {
            if admission.sweep(now: loop.now, rate: policy.rate) { loop.timers.schedule(context.firstTimer, at: loop.now + 1_000_000_000) }
            return
        }
        let index = owner - firstConnectionTimer
        guard index >= 0, index < table.count, table[index].pointee.fd >= 0 else { return }
        let c = table[index]
        let now = loop.now
        if c.pointee.state.connecting {
            if now >= c.pointee.state.connectDeadline {
                upstreamFailed(c.pointee.peer, "no connection within \(formatSeconds(options.connectTimeout)) (connectTimeout)")
                close(index, reason: "connectTimeout")
            } else {
                armTimer(c, index)
            }
            return
        }
        let stall = loop.lastStall
        for flow in [c.pointee.state.toUpstream, c.pointee.state.toClient] where flow.hasPending && now >= max(flow.stalledSince, stall) + writeNanos {
            ServiceStats.add(stats.writeTimeouts, 1)
            close(index, reason: "pending bytes made no progress for \(formatSeconds(config.writeTimeout)) (writeTimeout)")
            return
        }
        if now >= max(c.pointee.lastActivity, stall) + idleNanos {
            ServiceStats.add(stats.idleTimeouts, 1)
            close(index, reason: "idle for \(formatSeconds(config.idleTimeout)) (idleTimeout)")
            return
        }
        armTimer(c, index)
    }

    // MARK: Closing

    private func close(_ index: Int, reason: String) {
        let c = table[index]
        guard c.pointee.fd >= 0 else { return }
        Syscall.close(c.pointee.fd)
        if c.pointee.state.upstream >= 0 { Syscall.close(c.pointee.state.upstream) }
        for pipe in [c.pointee.state.toUpstream.pipeRead, c.pointee.state.toUpstream.pipeWrite,
                     c.pointee.state.toClient.pipeRead, c.pointee.state.toClient.pipeWrite] where pipe >= 0 { Syscall.close(pipe) }
        loop.timers.cancel(firstConnectionTimer + index)
        ServiceStats.add(stats.live, -1)
        if context.logger.enabled(.debug) {
            let duration = loop.now - c.pointee.openedAt
            context.logger.debug(context.name, event: "connection-closed",
                                 "\(c.pointee.peer): closed after \(duration / 1_000_000) ms (in \(c.pointee.bytesIn) B, out \(c.pointee.bytesOut) B): \(reason)",
                                 fields: StreamEngine<EchoService>.closeFields(peer: c.pointee.peer, duration: duration,
                                                                              bytesIn: c.pointee.bytesIn, bytesOut: c.pointee.bytesOut)
                                     + [JSONMember("upstream", .string(c.pointee.state.target.description))])
        }
        if c.pointee.countedInSources { admission.release(c.pointee.peer) }
        table.release(index)
        context.connectionClosed()
    }

    func closeAll(reason: String) {
        for index in table.liveIndices { close(index, reason: reason) }
    }

    func kill(from peer: SocketAddress?) -> Result<[SocketAddress], ControlFailure> {
        var closed: [SocketAddress] = []
        for index in table.liveIndices {
            let from = table[index].pointee.peer
            guard peer.map({ $0.sameEndpoint(as: from) }) ?? true else { continue }
            closed.append(from)
            close(index, reason: "closed by control (kill)")
        }
        return .success(closed)
    }

    func liveConnections() -> [LiveConnection] {
        table.liveIndices.map { index in
            let c = table[index]
            return LiveConnection(peer: c.pointee.peer, since: c.pointee.since, bytesIn: c.pointee.bytesIn, bytesOut: c.pointee.bytesOut,
                                  upstream: c.pointee.state.target)
        }
    }
}
