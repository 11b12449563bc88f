// The listener's lifecycle on its worker thread: bind, accept in batches, fail and rebind with
// backoff (SPEC §4), give up on errors retrying cannot fix, and pause on EMFILE/ENFILE.
import CPortvisor
import Glibc

extension ServiceWorker {
    /// Errors from bind that no retry can fix: the service fails at once.
    /// (EPROTOTYPE: a socket passed by systemd of the wrong kind, TCP for a UDP service or the
    /// other way round.)
    static let permanentBindErrors: Set<Int32> = [EACCES, EPERM, EADDRNOTAVAIL, EAFNOSUPPORT, EPROTOTYPE]
    /// accept4 errors that concern one connection only; accept(2) says to retry.
    static let transientAcceptErrors: Set<Int32> = [
        ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT,
    ]
    /// accept4 errors that mean "out of descriptors or memory": pause, do not fail.
    static let exhaustionErrors: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    static let firstAcceptPause: MonotonicNanos = 10_000_000
    static let maxAcceptPause: MonotonicNanos = 1_000_000_000

    /// Binds the listener; on failure schedules a retry or fails the service.
    func bindListener(isRestart: Bool) {
        guard !stopping else { return }
        let config = profile.config
        if isRestart { ServiceStats.add(stats.restarts, 1) }
        let port = config.port == 0 ? (lastBoundPort ?? 0) : config.port
        let fd: Int32
        do throws(SystemError) {
            if let adopted, let usable = try adopt(adopted, config: config) {
                fd = usable
            } else if let address = adoptedAddress {
                fd = config.transport == .udp ? try Socket.bindDatagram(on: address) : try Socket.listen(on: address)
            } else {
                fd = try listenOrFallBack(config: config, port: port)
            }
            try loop.epoll.add(fd, .readable, token: Self.listenerToken)
        } catch {
            bindFailed(error, config: config)
            return
        }
        let bound = (try? Socket.localAddress(fd).port).map(Int.init) ?? port
        lastBoundPort = bound
        if config.transport == .udp {
            registeredDatagramPort = UInt16(bound)
            Self.ownDatagramPorts.withLock { _ = $0.insert(UInt16(bound)) }
        }
        listener = .listening(fd: fd)
        listeningSince = loop.now
        acceptPause = nil
        stats.update {
            $0.state = .running
            $0.boundPort = bound
        }
        let range = PortRange.classify(bound).rawValue
        let udp = config.transport == .udp ? "/udp" : ""
        logger.info(name, event: "listening", "listening on \(Address.display(host: config.host, port: bound))\(udp) (\(range))",
                    fields: [JSONMember("port", .int(bound))])
        reportStarted()
    }

    /// Checks the systemd-passed socket and makes it non-blocking. Returns nil when it has been
    /// destroyed (a TCP socket no longer listening): it is closed, and the caller binds a new
    /// socket at its address.
    private func adopt(_ fd: Int32, config: ServiceConfig) throws(SystemError) -> Int32? {
        let wanted = config.transport == .udp ? CP_SOCK_DGRAM : CP_SOCK_STREAM
        guard Socket.socketType(fd) == wanted else {
            throw SystemError("adopt(\(config.transport.rawValue) socket)", errno: EPROTOTYPE)
        }
        let local = try? Socket.localAddress(fd)
        if adoptedAddress == nil { adoptedAddress = local }
        if config.transport == .tcp && !Socket.isListeningStream(fd) {
            logger.warning(name, event: "adopted-destroyed", "the socket passed by systemd no longer listens; binding \(local.map(\.description) ?? "its address") anew")
            Syscall.close(fd)
            adopted = nil
            return nil
        }
        Socket.setNonBlocking(fd, true)
        if !warnedAboutAdoptedAddress, let local,
           (config.port != 0 && Int(local.port) != config.port) || local.ip.unmapped != config.address.unmapped {
            warnedAboutAdoptedAddress = true
            logger.warning(name, event: "adopted-address", "the socket passed by systemd is on \(local), not \(Address.display(host: config.host, port: config.port)) as configured; using the passed socket")
        }
        return fd
    }

    /// Binds `port`; for a port-0 service whose old port is now taken, lets the kernel choose again.
    private func listenOrFallBack(config: ServiceConfig, port: Int) throws(SystemError) -> Int32 {
        func bind(_ port: Int) throws(SystemError) -> Int32 {
            let address = SocketAddress(ip: config.address, port: UInt16(port))
            return config.transport == .udp ? try Socket.bindDatagram(on: address) : try Socket.listen(on: address)
        }
        do {
            return try bind(port)
        } catch where config.port == 0 && port != 0 && error.errno == EADDRINUSE {
            lastBoundPort = nil
            return try bind(0)
        }
    }

    private func bindFailed(_ error: SystemError, config: ServiceConfig) {
        let address = Address.display(host: config.host, port: config.port)
        if Self.permanentBindErrors.contains(error.errno) {
            var reason = "\(error) on \(address)"
            if error.errno == EACCES || error.errno == EPERM {
                reason += "; port \(config.port) needs root or CAP_NET_BIND_SERVICE"
            } else if error.errno == EADDRNOTAVAIL {
                reason += "; no interface of this machine has that address"
            } else if error.errno == EPROTOTYPE {
                reason = "the socket passed by systemd is not a \(config.transport.rawValue) socket"
            }
            fail(reason)
        } else {
            scheduleRebind(reason: "\(error) on \(address)")
        }
    }

    /// The listening socket failed (error or hang-up on it, an unexpected accept error, or the
    /// test hook): close it and rebind after the backoff.
    func listenerFailed(_ reason: String) {
        guard !stopping else { return }
        switch listener {
        case .listening, .paused: break
        default: return
        }
        closeListener()
        scheduleRebind(reason: reason)
    }

    private func scheduleRebind(reason: String) {
        if let since = listeningSince, loop.now - since >= Clock.nanos(profile.config.restart.resetAfter) {
            consecutiveAttempts = 0
        }
        listeningSince = nil
        guard backoff.allowsAttempt(after: consecutiveAttempts) else {
            let limit = profile.config.restart.maxRestarts ?? 0
            fail("gave up after \(limit) restart\(limit == 1 ? "" : "s"): \(reason)")
            return
        }
        let delay = backoff.delay(afterAttempt: consecutiveAttempts, random: Double.random(in: 0..<1))
        consecutiveAttempts += 1
        listener = .waiting
        stats.update {
            $0.state = .backoff
            $0.lastError = reason
        }
        logger.warning(name, event: "listener-failed", "\(reason); rebinding in \(formatSeconds(delay)) (attempt \(consecutiveAttempts))")
        loop.timers.schedule(Self.listenerTimer, at: loop.now + Clock.nanos(delay))
        reportStarted()
    }

    private func fail(_ reason: String) {
        closeListener()
        listener = .failed
        listeningSince = nil
        stats.update {
            $0.state = .failed
            $0.lastError = reason
        }
        logger.error(name, event: "failed", "failed: \(reason)")
        reportStarted()
    }

    func closeListener() {
        if let port = registeredDatagramPort {
            Self.ownDatagramPorts.withLock { _ = $0.remove(port) }
            registeredDatagramPort = nil
        }
        switch listener {
        case .listening(let fd), .paused(let fd):
            if fd == adopted {
                loop.epoll.remove(fd)  // kept: re-adopted on the next attempt, closed at exit
            } else {
                Syscall.close(fd)  // closing also removes it from epoll
            }
            listener = .idle
        default:
            break
        }
    }

    /// The retry timer (after a failure) or the resume timer (after EMFILE).
    func listenerTimerFired() {
        switch listener {
        case .waiting:
            bindListener(isRestart: true)
        case .paused(let fd):
            listener = .listening(fd: fd)
            do {
                try loop.epoll.modify(fd, .readable, token: Self.listenerToken)
            } catch {
                listenerFailed("\(error)")
            }
        default:
            break
        }
    }

    // MARK: Accepting

    func listenerReady(_ events: IOEvents) {
        guard case .listening(let fd) = listener else { return }
        if profile.config.transport == .udp {
            datagramsReady(fd)
            return
        }
        if events.contains(.error) || events.contains(.hangup) {
            let code = Socket.pendingError(fd)
            let reason = code != 0 ? "listening socket: \(SystemError.describe(errno: code)) (errno: \(code))" : "listening socket hung up"
            listenerFailed(reason)
            return
        }
        var peer: SocketAddress?
        for _ in 0..<Self.acceptsPerWakeup {
            let connectionFD: Int32
            do {
                guard let accepted = try Socket.accept(fd, peer: &peer) else { return }
                connectionFD = accepted
            } catch {
                if Self.transientAcceptErrors.contains(error.errno) { continue }
                if Self.exhaustionErrors.contains(error.errno) {
                    pauseAccepting(fd: fd, error: error)
                } else {
                    listenerFailed("\(error)")
                }
                return
            }
            if let paused = acceptPause {
                acceptPause = nil
                logger.info(name, event: "accepting", "accepting again (paused up to \(paused / 1_000_000) ms for descriptors)")
            }
            accepted(connectionFD, peer: peer ?? SocketAddress(ip: .v4(0), port: 0))
        }
    }

    /// EMFILE/ENFILE: stop polling the listener and try again after a doubling pause (10 ms to
    /// 1 s). Pending clients wait in the backlog; nothing spins.
    private func pauseAccepting(fd: Int32, error: SystemError) {
        let pause = acceptPause.map { min($0 * 2, Self.maxAcceptPause) } ?? Self.firstAcceptPause
        if acceptPause == nil {
            logger.warning(name, event: "accept-paused", "out of descriptors (\(error)); pausing accepts, retrying from \(pause / 1_000_000) ms up to 1 s")
        }
        acceptPause = pause
        do {
            try loop.epoll.modify(fd, [], token: Self.listenerToken)
        } catch {
            listenerFailed("\(error)")
            return
        }
        listener = .paused(fd: fd)
        loop.timers.schedule(Self.listenerTimer, at: loop.now + pause)
    }
}
