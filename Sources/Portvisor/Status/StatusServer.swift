// The status endpoint's thread: one event loop serving HTTP/1.x, one request per connection,
// hardened like an admin port: at most 16 connections, an 8 KiB head (431), a 5 s head
// deadline from the first byte (408), and a lingering close so a response is never cut by RST.
import Dispatch
import Glibc

/// Commands to the status thread.
enum StatusServerCommand: Sendable {
    /// Move the endpoint (reload); nil turns it off. `done` is signalled after the bind attempt.
    case rebind(StatusEndpointConfig?, done: DispatchSemaphore?)
    /// Close everything and end the thread.
    case stop
}

final class StatusServer: EventHandler, @unchecked Sendable {
    // @unchecked Sendable: after `start`, other threads only use `mailbox` (Sendable).

    static let maxConnections = 16
    static let headDeadline: MonotonicNanos = 5_000_000_000
    static let lingerDeadline: MonotonicNanos = 2_000_000_000
    static let listenerToken = UInt64.max - 1
    static let listenerTimer = 0

    let mailbox: Mailbox<StatusServerCommand>
    private let loop: EventLoop
    private let router: StatusRouter
    private let logger: Logger
    private let onStarted: @Sendable () -> Void
    private let onExit: @Sendable () -> Void
    /// Told the bound port after each bind (nil when not listening).
    private let onBound: @Sendable (Int?) -> Void

    /// A listening socket passed by systemd under the name `status`; it wins over the config.
    private var adopted: Int32?

    // Loop-thread state.
    private var config: StatusEndpointConfig?
    private var listenerFD: Int32 = -1
    private var retryDelay = 0.1
    /// At most `maxConnections` slots; the epoll token is generation << 32 | slot and the timer
    /// owner is slot + 1 (owner 0 is the listener's retry timer).
    private var connections = [StatusConnection?](repeating: nil, count: StatusServer.maxConnections)
    private var generations = [UInt32](repeating: 0, count: StatusServer.maxConnections)
    private var readBuffer = [UInt8](repeating: 0, count: 8192)

    private struct StatusConnection {
        var fd: Int32
        var firstByteAt: MonotonicNanos?
        var head = HTTPRequestHead()
        var output: [UInt8] = []
        var written = 0
        /// The response is out and the write side shut; reading until the client closes.
        var lingering = false
    }

    init(config: StatusEndpointConfig, router: StatusRouter, logger: Logger,
         onStarted: @escaping @Sendable () -> Void, onExit: @escaping @Sendable () -> Void,
         onBound: @escaping @Sendable (Int?) -> Void, adopted: Int32? = nil) throws(SystemError) {
        self.onBound = onBound
        self.adopted = adopted
        self.config = config
        self.router = router
        self.logger = logger
        self.onStarted = onStarted
        self.onExit = onExit
        loop = try EventLoop()
        mailbox = Mailbox(waking: loop.waker)
    }

    func start() throws(SystemError) {
        try LoopThread.start(name: "pv-status") { self.run() }
    }

    private func run() {
        bind()
        onStarted()
        do {
            try loop.run(self)
        } catch {
            logger.error("status", event: "loop-failed", "event loop failed: \(error)")
        }
        closeListener(final: true)
        if let adopted { Syscall.close(adopted) }
        for slot in connections.indices where connections[slot] != nil { close(slot) }
        onExit()
    }

    // MARK: Listener

    private func bind() {
        guard let config else { return }
        do throws(SystemError) {
            if let passed = adopted, !Socket.isListeningStream(passed) {
                // Destroyed (e.g. `ss -K`): from now on bind our own socket.
                logger.warning("status", event: "adopted-destroyed", "the socket passed by systemd no longer listens; binding anew")
                Syscall.close(passed)
                adopted = nil
            }
            if let adopted {
                Socket.setNonBlocking(adopted, true)
                listenerFD = adopted
                if let local = try? Socket.localAddress(adopted),
                   (config.port != 0 && Int(local.port) != config.port) || local.ip.unmapped != config.address.unmapped {
                    logger.warning("status", event: "adopted-address", "the socket passed by systemd is on \(local), not \(Address.display(host: config.host, port: config.port)) as configured; using the passed socket")
                }
            } else {
                listenerFD = try Socket.listen(on: SocketAddress(ip: config.address, port: UInt16(config.port)), backlog: 64)
            }
            try loop.epoll.add(listenerFD, .readable, token: Self.listenerToken)
        } catch {
            closeListener()
            let address = Address.display(host: config.host, port: config.port)
            if ServiceWorker.permanentBindErrors.contains(error.errno) {
                logger.error("status", event: "failed", "cannot listen on \(address): \(error); the endpoint stays off until a reload")
            } else {
                logger.warning("status", event: "listener-failed", "cannot listen on \(address): \(error); retrying in \(formatSeconds(retryDelay))")
                loop.timers.schedule(Self.listenerTimer, at: loop.now + Clock.nanos(retryDelay))
                retryDelay = min(retryDelay * 2, 5)
            }
            return
        }
        retryDelay = 0.1
        let port = (try? Socket.localAddress(listenerFD).port).map(Int.init) ?? config.port
        onBound(port)
        logger.info("status", event: "listening", "status endpoint on http://\(Address.display(host: config.host, port: port))/status",
                    fields: [JSONMember("port", .int(port))])
    }

    /// Closes the listener; an adopted one is only taken out of the loop unless `final`.
    private func closeListener(final: Bool = false) {
        if listenerFD >= 0 {
            if listenerFD == adopted && !final {
                loop.epoll.remove(listenerFD)
            } else {
                Syscall.close(listenerFD)
                if listenerFD == adopted { adopted = nil }
            }
            listenerFD = -1
            onBound(nil)
        }
    }

    // MARK: EventHandler

    func handleEvent(token: UInt64, events: IOEvents) {
        if token == Self.listenerToken {
            acceptAll(events)
        } else {
            let slot = Int(token & 0xFFFF_FFFF)
            guard slot < connections.count, generations[slot] == UInt32(token >> 32) else { return }
            connectionReady(slot, events)
        }
    }

    func handleTimer(owner: Int) {
        if owner == Self.listenerTimer {
            if listenerFD < 0 { bind() } else { resumeAccepting() }
            return
        }
        let slot = owner - 1
        guard let connection = connections[slot] else { return }
        if connection.lingering || connection.firstByteAt == nil || !connection.output.isEmpty {
            close(slot)  // silent: nothing was asked, or the answer is already out
        } else {
            respond(slot, HTTPResponse.error(408, "the request head did not arrive within 5 s").serialized())
        }
    }

    func handleWakeup() {
        for command in mailbox.takeAll() {
            switch command {
            case .rebind(let next, let done):
                if next != config {
                    closeListener(final: next == nil)
                    loop.timers.cancel(Self.listenerTimer)
                    config = next
                    retryDelay = 0.1
                    if next == nil { logger.info("status", event: "off", "status endpoint turned off") }
                    bind()
                }
                done?.signal()
            case .stop:
                loop.stop()
            }
        }
    }

    // MARK: Connections

    private func acceptAll(_ events: IOEvents) {
        guard listenerFD >= 0 else { return }
        if events.contains(.error) || events.contains(.hangup) {
            logger.warning("status", event: "listener-failed", "status listener failed; rebinding in \(formatSeconds(retryDelay))")
            closeListener()
            loop.timers.schedule(Self.listenerTimer, at: loop.now + Clock.nanos(retryDelay))
            return
        }
        var peer: SocketAddress?
        for _ in 0..<16 {
            let fd: Int32
            do {
                guard let accepted = try Socket.accept(listenerFD, peer: &peer) else { return }
                fd = accepted
            } catch {
                if ServiceWorker.exhaustionErrors.contains(error.errno) {
                    // Out of descriptors: stop polling the listener for a moment.
                    try? loop.epoll.modify(listenerFD, [], token: Self.listenerToken)
                    loop.timers.schedule(Self.listenerTimer, at: loop.now + 100_000_000)
                }
                return
            }
            guard let slot = connections.firstIndex(where: { $0 == nil }) else {
                var busy = HTTPResponse.error(503, "too many status connections").serialized()
                _ = busy.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                Syscall.close(fd)
                continue
            }
            connections[slot] = StatusConnection(fd: fd)
            do {
                try loop.epoll.add(fd, .readable, token: token(slot))
            } catch {
                close(slot)
                continue
            }
            loop.timers.schedule(slot + 1, at: loop.now + Self.headDeadline)
        }
    }

    private func token(_ slot: Int) -> UInt64 { UInt64(generations[slot]) << 32 | UInt64(slot) }

    private func resumeAccepting() {
        if listenerFD >= 0 { try? loop.epoll.modify(listenerFD, .readable, token: Self.listenerToken) }
    }

    private func connectionReady(_ slot: Int, _ events: IOEvents) {
        guard let connection = connections[slot] else { return }
        if !connection.output.isEmpty && !connection.lingering {
            flush(slot)
            return
        }
        let count = readBuffer.withUnsafeMutableBytes { Glibc.read(connection.fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            close(slot)
            return
        }
        if count == 0 {
            close(slot)  // the client closed (or finished lingering)
            return
        }
        if connection.lingering { return }  // discard what follows the request
        if connection.firstByteAt == nil {
            connections[slot]?.firstByteAt = loop.now
            loop.timers.schedule(slot + 1, at: loop.now + Self.headDeadline)
        }
        let chunk = readBuffer[0..<count]
        do throws(HTTPRequestError) {
            let request = try connections[slot]!.head.append(Array(chunk))
            if let request { respond(slot, router.respond(to: request)) }
        } catch {
            switch error {
            case .headTooLarge: respond(slot, HTTPResponse.error(431, "the request head is over 8 KiB").serialized())
            case .malformed(let reason): respond(slot, HTTPResponse.error(400, reason).serialized())
            }
        }
    }

    private func respond(_ slot: Int, _ bytes: [UInt8]) {
        connections[slot]?.output = bytes
        connections[slot]?.written = 0
        flush(slot)
    }

    /// Writes the response; once it is all out, shuts the write side and lingers briefly so
    /// unread request bytes cannot turn the close into a reset that destroys the response.
    private func flush(_ slot: Int) {
        guard let connection = connections[slot] else { return }
        let remaining = connection.output.count - connection.written
        let count = connection.output.withUnsafeBytes { Glibc.write(connection.fd, $0.baseAddress! + connection.written, remaining) }
        if count < 0 {
            if errno == EAGAIN || errno == EINTR {
                try? loop.epoll.modify(connection.fd, .writable, token: token(slot))
                return
            }
            close(slot)
            return
        }
        connections[slot]?.written += count
        if count < remaining {
            try? loop.epoll.modify(connection.fd, .writable, token: token(slot))
            return
        }
        Socket.shutdownWrite(connection.fd)
        connections[slot]?.lingering = true
        try? loop.epoll.modify(connection.fd, .readable, token: token(slot))
        loop.timers.schedule(slot + 1, at: loop.now + Self.lingerDeadline)
    }

    private func close(_ slot: Int) {
        guard let connection = connections[slot] else { return }
        connections[slot] = nil
        generations[slot] &+= 1
        Syscall.close(connection.fd)
        loop.timers.cancel(slot + 1)
    }
}
