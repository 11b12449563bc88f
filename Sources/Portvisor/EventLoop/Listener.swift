// The one listener engine, for every service and the status endpoint: bind (or adopt a socket
// systemd passed), accept in batches, pause on EMFILE/ENFILE, and when the socket fails close it
// and rebind after the BackoffPolicy's delay (SPEC §4); give up at once on errors no retry can
// fix, or after maxRestarts consecutive attempts. Its owner decides what an accepted connection
// (or a readable datagram socket) means.

/// Where and how a listener binds.
struct ListenerSettings: Equatable {
    /// The name its log lines carry (`echo`, `status`).
    var name: String
    /// As written in the config, for messages.
    var host: String
    var address: IPAddress
    /// 0 lets the kernel choose (and a rebind then asks for the port it chose before).
    var port: Int
    var transport: TransportProtocol
    var restart: RestartPolicy
    var backlog: Int32 = Socket.defaultBacklog
    /// Connections accepted per wakeup before the loop serves others.
    var acceptsPerWakeup = 64
}

/// What the listener does with its socket.
enum ListenerMode: Equatable {
    /// Accepts connections (TCP) or reports datagrams (UDP).
    case accept
    /// Bound, and watched for one readable event (a connection waiting), then `hold`: a
    /// daemon started on demand.
    case watch
    /// Bound but never read: a program accepts on it (daemon). Only errors are watched.
    case hold
}

/// What a listener reports to its owner.
enum ListenerEvent {
    /// Bound and polled; `port` is the real one.
    case listening(fd: Int32, port: Int)
    /// A rebind attempt is about to happen (counted in `restarts`).
    case restarting
    /// Waiting `delay` seconds to rebind after `reason`.
    case backoff(reason: String)
    /// Given up: the service is `failed`.
    case failed(reason: String)
    /// The socket was closed (before a rebind, a stop, or a failure).
    case closed
}

protocol ListenerOwner: AnyObject {
    /// A connection was accepted (TCP): non-blocking, close-on-exec; the owner now owns `fd`.
    func accepted(_ fd: Int32, peer: SocketAddress)
    /// The socket is readable (UDP).
    func datagramsReady(_ fd: Int32)
    func listener(_ listener: Listener, reported event: ListenerEvent)
    /// `watch` mode: a connection is waiting to be accepted (the listener now holds).
    func connectionWaiting(_ fd: Int32)
}

extension ListenerOwner {
    func connectionWaiting(_ fd: Int32) {}
}

/// Loop-thread only.
final class Listener {
    /// bind(2) errors that no retry can fix: the owner fails at once. (EPROTOTYPE: a socket
    /// passed by systemd of the wrong kind, TCP for a UDP service or the other way round.)
    static let permanentBindErrors: Set<Int32> = [Errno.EACCES, Errno.EPERM, Errno.EADDRNOTAVAIL, Errno.EAFNOSUPPORT, Errno.EPROTOTYPE]
    /// accept4 errors that concern one connection only; accept(2) says to retry.
    static let transientAcceptErrors: Set<Int32> = [
        Errno.ECONNABORTED, Errno.EPROTO, Errno.EPERM, Errno.ENETDOWN, Errno.ENOPROTOOPT, Errno.EHOSTDOWN, Errno.ENONET,
        Errno.EHOSTUNREACH, Errno.ENETUNREACH, Errno.ETIMEDOUT,
    ]
    /// accept4 errors that mean "out of descriptors or memory": pause, do not fail.
    static let exhaustionErrors: Set<Int32> = [Errno.EMFILE, Errno.ENFILE, Errno.ENOBUFS, Errno.ENOMEM]

    static let firstAcceptPause: MonotonicNanos = 10_000_000
    static let maxAcceptPause: MonotonicNanos = 1_000_000_000
    /// Listener tokens have the top bit set; the rest is a generation, so an event that was
    /// queued for a socket closed in the same batch never reaches its replacement.
    static let tokenBit: UInt64 = 1 << 63

    enum Phase {
        /// Not bound (before the first bind, or closed for a rebind).
        case idle
        case listening(fd: Int32)
        /// Out of descriptors: out of epoll until the timer fires.
        case paused(fd: Int32)
        /// Waiting for the timer to rebind.
        case waiting
        case failed
        case stopped
    }

    private(set) var settings: ListenerSettings
    private(set) var phase = Phase.idle
    /// accept, watch or hold (see ListenerMode); kept across rebinds.
    private(set) var mode = ListenerMode.accept
    private unowned let owner: any ListenerOwner
    private let loop: EventLoop
    private let logger: Logger
    private let timerOwner: Int
    private var generation: UInt64 = 0
    private var backoff: BackoffPolicy
    /// Consecutive rebind attempts not separated by `resetAfter` seconds of listening.
    private var consecutiveAttempts = 0
    private var listeningSince: MonotonicNanos?
    /// The port the kernel chose, asked for again on rebind when the config says 0.
    private var lastBoundPort: Int?
    /// EMFILE/ENFILE pause, doubling from 10 ms to 1 s; nil when not paused.
    private var acceptPause: MonotonicNanos?
    /// A socket passed by systemd. It wins over the configured address and is not closed while
    /// it works: after a failure it is adopted again rather than replaced. Only when it is
    /// destroyed (no longer listening, e.g. `ss -K`) is a new socket bound at its address.
    private var adopted: Int32?
    private var adoptedAddress: SocketAddress?
    private var warnedAboutAdoptedAddress = false

    init(_ settings: ListenerSettings, owner: any ListenerOwner, loop: EventLoop, logger: Logger, timerOwner: Int, adopted: Int32?) {
        self.settings = settings
        self.owner = owner
        self.loop = loop
        self.logger = logger
        self.timerOwner = timerOwner
        self.adopted = adopted
        backoff = BackoffPolicy(settings.restart)
    }

    var name: String { settings.name }

    /// The epoll token of the current socket.
    var token: UInt64 { Self.tokenBit | generation }

    /// Whether `token` is this listener's current socket.
    func owns(_ token: UInt64) -> Bool { token == Self.token(generation) }

    static func token(_ generation: UInt64) -> UInt64 { tokenBit | generation }

    static func isListenerToken(_ token: UInt64) -> Bool { token & tokenBit != 0 && token != EventLoop.wakeupToken }

    /// The bound port, while bound.
    var boundPort: Int? {
        switch phase {
        case .listening, .paused: return lastBoundPort
        default: return nil
        }
    }

    var isStopped: Bool {
        if case .stopped = phase { return true }
        return false
    }

    // MARK: Binding

    /// Binds now; on failure retries after the backoff or fails.
    func start() { bind(isRestart: false) }

    /// New settings (reload): closes the socket and binds again with a fresh backoff.
    func reconfigure(_ next: ListenerSettings) {
        guard !isStopped else { return }
        close()
        loop.timers.cancel(timerOwner)
        if next.port != 0 || next.address != settings.address { lastBoundPort = nil }
        settings = next
        backoff = BackoffPolicy(next.restart)
        consecutiveAttempts = 0
        bind(isRestart: false)
    }

    /// Closes the socket (if bound) and binds again at once with a fresh backoff (control's
    /// `restart` and `start`). Counted as a restart.
    func rebindNow() {
        guard !isStopped else { return }
        close()
        loop.timers.cancel(timerOwner)
        backoff = BackoffPolicy(settings.restart)
        consecutiveAttempts = 0
        bind(isRestart: true)
    }

    /// The restart policy changes without a rebind (a daemon keeps its socket across reloads).
    func update(restart: RestartPolicy) {
        settings.restart = restart
        backoff = BackoffPolicy(restart)
    }

    /// Switches what the listener does with its socket (see ListenerMode).
    func set(mode next: ListenerMode) {
        guard next != mode else { return }
        mode = next
        guard case .listening(let fd) = phase else { return }
        try? loop.epoll.modify(fd, interest(for: next), token: token)
    }

    private func interest(for mode: ListenerMode) -> IOEvents {
        mode == .hold ? [] : .readable  // errors and hang-ups are reported whatever the interest
    }

    /// The listening socket, while bound.
    var descriptor: Int32? {
        switch phase {
        case .listening(let fd), .paused(let fd): return fd
        default: return nil
        }
    }

    /// Closes for good (stop, removal). An adopted socket is closed too.
    func stop() {
        close()
        loop.timers.cancel(timerOwner)
        phase = .stopped
        if let adopted {
            Syscall.close(adopted)
            self.adopted = nil
        }
    }

    private func bind(isRestart: Bool) {
        guard !isStopped else { return }
        if isRestart { owner.listener(self, reported: .restarting) }
        let port = settings.port == 0 ? (lastBoundPort ?? 0) : settings.port
        let fd: Int32
        generation &+= 1
        do throws(SystemError) {
            if let adopted, let usable = try adopt(adopted) {
                fd = usable
            } else if let address = adoptedAddress {
                fd = try open(address)
            } else {
                fd = try listenOrFallBack(port: port)
            }
            do {
                try loop.epoll.add(fd, interest(for: mode), token: token)
            } catch {
                if fd != adopted { Syscall.close(fd) }
                throw error
            }
        } catch {
            bindFailed(error)
            return
        }
        let bound = (try? Socket.localAddress(fd).port).map(Int.init) ?? port
        lastBoundPort = bound
        phase = .listening(fd: fd)
        listeningSince = loop.now
        acceptPause = nil
        owner.listener(self, reported: .listening(fd: fd, port: bound))
    }

    private func open(_ address: SocketAddress) throws(SystemError) -> Int32 {
        settings.transport == .udp ? try Socket.bindDatagram(on: address) : try Socket.listen(on: address, backlog: settings.backlog)
    }

    /// Checks the systemd-passed socket and makes it non-blocking. Returns nil when it has been
    /// destroyed (a TCP socket no longer listening): it is closed, and a new socket is bound at
    /// its address.
    private func adopt(_ fd: Int32) throws(SystemError) -> Int32? {
        let wanted = settings.transport == .udp ? Socket.datagramType : Socket.streamType
        guard Socket.socketType(fd) == wanted else {
            throw SystemError("adopt(\(settings.transport.rawValue) socket)", errno: Errno.EPROTOTYPE)
        }
        let local = try? Socket.localAddress(fd)
        if adoptedAddress == nil { adoptedAddress = local }
        if settings.transport == .tcp && !Socket.isListeningStream(fd) {
            logger.warning(name, event: "adopted-destroyed", "the socket passed by systemd no longer listens; binding \(local.map(\.description) ?? "its address") anew")
            Syscall.close(fd)
            adopted = nil
            return nil
        }
        Socket.setNonBlocking(fd, true)
        if !warnedAboutAdoptedAddress, let local,
           (settings.port != 0 && Int(local.port) != settings.port) || local.ip.unmapped != settings.address.unmapped {
            warnedAboutAdoptedAddress = true
            logger.warning(name, event: "adopted-address", "the socket passed by systemd is on \(local), not \(Address.display(host: settings.host, port: settings.port)) as configured; using the passed socket")
        }
        return fd
    }

    /// Binds `port`; for a port-0 listener whose old port is now taken, lets the kernel choose again.
    private func listenOrFallBack(port: Int) throws(SystemError) -> Int32 {
        let address = SocketAddress(ip: settings.address, port: UInt16(port))
        do {
            return try open(address)
        } catch where settings.port == 0 && port != 0 && error.errno == Errno.EADDRINUSE {
            lastBoundPort = nil
            return try open(SocketAddress(ip: settings.address, port: 0))
        }
    }

    private func bindFailed(_ error: SystemError) {
        let address = Address.display(host: settings.host, port: settings.port)
        if Self.permanentBindErrors.contains(error.errno) {
            var reason = "\(error) on \(address)"
            if error.errno == Errno.EACCES || error.errno == Errno.EPERM {
                reason += "; port \(settings.port) needs root or CAP_NET_BIND_SERVICE"
            } else if error.errno == Errno.EADDRNOTAVAIL {
                reason += "; no interface of this machine has that address"
            } else if error.errno == Errno.EPROTOTYPE {
                reason = "the socket passed by systemd is not a \(settings.transport.rawValue) socket"
            }
            fail(reason)
        } else {
            scheduleRebind(reason: "\(error) on \(address)")
        }
    }

    /// The socket failed (an error or hang-up on it, an unexpected accept error, or the test
    /// hook): close it and rebind after the backoff.
    func failed(_ reason: String) {
        switch phase {
        case .listening, .paused: break
        default: return
        }
        close()
        scheduleRebind(reason: reason)
    }

    private func scheduleRebind(reason: String) {
        if let since = listeningSince, loop.now - since >= Clock.nanos(settings.restart.resetAfter) {
            consecutiveAttempts = 0
        }
        listeningSince = nil
        guard backoff.allowsAttempt(after: consecutiveAttempts) else {
            let limit = settings.restart.maxRestarts ?? 0
            fail("gave up after \(limit) restart\(limit == 1 ? "" : "s"): \(reason)")
            return
        }
        let delay = backoff.delay(afterAttempt: consecutiveAttempts, random: Double.random(in: 0..<1))
        consecutiveAttempts += 1
        phase = .waiting
        owner.listener(self, reported: .backoff(reason: reason))
        logger.warning(name, event: "listener-failed", "\(reason); rebinding in \(formatSeconds(delay)) (attempt \(consecutiveAttempts))")
        loop.timers.schedule(timerOwner, at: loop.now + Clock.nanos(delay))
    }

    private func fail(_ reason: String) {
        close()
        phase = .failed
        listeningSince = nil
        logger.error(name, event: "failed", "failed: \(reason)")
        owner.listener(self, reported: .failed(reason: reason))
    }

    /// Closes the socket (an adopted one only leaves the loop: it is adopted again next time).
    private func close() {
        switch phase {
        case .listening(let fd), .paused(let fd):
            if fd == adopted {
                loop.epoll.remove(fd)
            } else {
                Syscall.close(fd)  // closing also removes it from epoll
            }
            phase = .idle
            owner.listener(self, reported: .closed)
        default:
            break
        }
    }

    /// The retry timer (after a failure) or the resume timer (after EMFILE).
    func timerFired() {
        switch phase {
        case .waiting:
            bind(isRestart: true)
        case .paused(let fd):
            phase = .listening(fd: fd)
            do {
                try loop.epoll.add(fd, interest(for: mode), token: token)
            } catch {
                failed("\(error)")
            }
        default:
            break
        }
    }

    // MARK: Accepting

    /// An event for the listener's token.
    func ready(_ events: IOEvents) {
        guard case .listening(let fd) = phase else { return }
        if settings.transport == .udp {
            owner.datagramsReady(fd)
            return
        }
        if events.contains(.error) || events.contains(.hangup) {
            let code = Socket.pendingError(fd)
            failed(code != 0 ? "listening socket: \(SystemError.describe(errno: code)) (errno: \(code))" : "listening socket hung up")
            return
        }
        switch mode {
        case .accept: break
        case .hold: return
        case .watch:
            set(mode: .hold)
            owner.connectionWaiting(fd)
            return
        }
        var peer: SocketAddress?
        for _ in 0..<settings.acceptsPerWakeup {
            let connection: Int32
            do {
                guard let accepted = try Socket.accept(fd, peer: &peer) else { return }
                connection = accepted
            } catch {
                if Self.transientAcceptErrors.contains(error.errno) { continue }
                if Self.exhaustionErrors.contains(error.errno) {
                    pauseAccepting(fd: fd, error: error)
                } else {
                    failed("\(error)")
                }
                return
            }
            if let paused = acceptPause {
                acceptPause = nil
                logger.info(name, event: "accepting", "accepting again (paused up to \(paused / 1_000_000) ms for descriptors)")
            }
            owner.accepted(connection, peer: peer ?? SocketAddress(ip: .v4(0), port: 0))
            // The owner may have stopped or failed the listener (a drain, a test hook).
            guard case .listening = phase else { return }
        }
    }

    /// EMFILE/ENFILE: take the socket out of epoll (so not even a hang-up can spin the loop)
    /// and try again after a doubling pause (10 ms to 1 s). Pending clients wait in the backlog.
    private func pauseAccepting(fd: Int32, error: SystemError) {
        let pause = acceptPause.map { min($0 * 2, Self.maxAcceptPause) } ?? Self.firstAcceptPause
        if acceptPause == nil {
            logger.warning(name, event: "accept-paused", "out of descriptors (\(error)); pausing accepts, retrying from \(pause / 1_000_000) ms up to 1 s")
        }
        acceptPause = pause
        loop.epoll.remove(fd)
        phase = .paused(fd: fd)
        loop.timers.schedule(timerOwner, at: loop.now + pause)
    }
}
