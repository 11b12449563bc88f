// The control socket's server, on the supervisor's loop: accepts on the Unix socket, checks each
// client's SO_PEERCRED uid (root or the supervisor's own), reads one request line with a
// deadline, hands it to the supervisor loop, writes the one-line answer it gets back (now or
// later: a reload answers once it is done) and closes. Few connections, bounded in number,
// size and time: a client that connects and says nothing is closed after 5 s, and none can
// block the loop.
import Glibc

/// Sends the answer to one control request (on the loop's thread, at most once).
typealias ControlResponder = ([UInt8]) -> Void

/// Loop-thread only.
final class ControlServer {
    static let maxConnections = 16
    /// How long a client has to send its request line.
    static let requestNanos: MonotonicNanos = 5_000_000_000
    /// How long the answer may take to be read once it is ready.
    static let writeNanos: MonotonicNanos = 10_000_000_000
    /// How long the supervisor may take to carry a request out (a reload waits for binds).
    static let answerNanos: MonotonicNanos = 60_000_000_000
    /// Control tokens: this bit, then 0 for the listening socket or a connection's number.
    static let tokenBit: UInt64 = 1 << 62

    static func isControlToken(_ token: UInt64) -> Bool { token & tokenBit != 0 && token & Listener.tokenBit == 0 }

    private struct Connection {
        let fd: Int32
        let credentials: UnixSocket.Credentials?
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        /// The request is with the supervisor; the answer has not come yet.
        var waiting = false
        var deadline: MonotonicNanos
    }

    let path: String
    private let listenFD: Int32
    private let file: FileIdentity?
    private let loop: EventLoop
    private let logger: Logger
    private let timerOwner: Int
    private let handler: (ControlRequest, @escaping ControlResponder) -> Void
    private var connections: [UInt64: Connection] = [:]
    private var nextID: UInt64 = 1
    private var lastRefusalLog: MonotonicNanos = -(1 << 62)
    private var closed = false

    /// `socket`: bound and listening at `path` (ControlSocket.claim); `handler` gets each valid
    /// request from a permitted user, and the responder for its answer.
    init(socket: ClaimedControlSocket, loop: EventLoop, logger: Logger, timerOwner: Int,
         handler: @escaping (ControlRequest, @escaping ControlResponder) -> Void) throws(SystemError) {
        path = socket.path
        listenFD = socket.fd
        file = socket.file
        self.loop = loop
        self.logger = logger
        self.timerOwner = timerOwner
        self.handler = handler
        try loop.epoll.add(listenFD, .readable, token: Self.tokenBit)
    }

    var openConnections: Int { connections.count }

    // MARK: Events

    func handleEvent(token: UInt64, events: IOEvents) {
        guard !closed else { return }
        let id = token & ~Self.tokenBit
        if id == 0 {
            acceptAll()
            return
        }
        guard connections[id] != nil else { return }
        if connections[id]?.waiting == false && connections[id]?.output.isEmpty == true {
            read(id)
        } else if connections[id]?.output.isEmpty == false {
            flush(id)
        } else if events.contains(.hangup) || events.contains(.error) {
            finish(id)  // gone while its request is carried out: the answer is dropped
        }
    }

    private func acceptAll() {
        while true {
            let fd: Int32
            do {
                guard let accepted = try UnixSocket.accept(listenFD) else { return }
                fd = accepted
            } catch {
                // EMFILE and the like: the connection stays queued; the timer tries again.
                logger.warning("control", event: "accept-failed", "\(error); trying again in 100 ms")
                try? loop.epoll.modify(listenFD, [], token: Self.tokenBit)
                scheduleTimer(at: loop.now + 100_000_000)
                pausedAccepting = true
                return
            }
            let credentials = UnixSocket.peerCredentials(fd)
            if let refusal = refusal(credentials) {
                reject(fd, refusal)
                continue
            }
            if connections.count >= Self.maxConnections {
                reject(fd, ControlFailure(code: ExitCode.unavailable, message: "the supervisor is busy with \(Self.maxConnections) control connections; try again"))
                continue
            }
            let id = nextID
            nextID += 1
            do {
                try loop.epoll.add(fd, .readable, token: Self.tokenBit | id)
            } catch {
                Syscall.close(fd)
                continue
            }
            connections[id] = Connection(fd: fd, credentials: credentials, deadline: loop.now + Self.requestNanos)
            scheduleTimer(at: loop.now + Self.requestNanos)
        }
    }

    private var pausedAccepting = false

    /// Root and the supervisor's own user may control it; anyone else gets one error line.
    private func refusal(_ credentials: UnixSocket.Credentials?) -> ControlFailure? {
        let own = ProcessEnvironment.effectiveUserID
        guard let credentials else {
            return ControlFailure(code: ExitCode.permissionDenied, message: "permission denied: the control socket cannot tell who you are (SO_PEERCRED failed)")
        }
        if credentials.uid == 0 || credentials.uid == own { return nil }
        let now = loop.now
        if now - lastRefusalLog >= 1_000_000_000 {
            lastRefusalLog = now
            logger.warning("control", event: "control-refused", "refused a control connection from uid \(credentials.uid) (pid \(credentials.pid)): only root and uid \(own) may control this supervisor")
        }
        return ControlFailure(code: ExitCode.permissionDenied,
                              message: "permission denied: uid \(credentials.uid) may not control this supervisor (only root and uid \(own) may)")
    }

    /// Answers at once without reading and closes (the answer is small: it fits the socket buffer).
    private func reject(_ fd: Int32, _ failure: ControlFailure) {
        let bytes = ControlAnswer.failure(failure)
        bytes.withUnsafeBytes { raw in _ = Glibc.write(fd, raw.baseAddress, raw.count) }
        Syscall.close(fd)
    }

    private func read(_ id: UInt64) {
        guard var connection = connections[id] else { return }
        var buffer = [UInt8](repeating: 0, count: 1024)
        var ended = false
        while true {
            let fd = connection.fd
            let result = buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) in try Syscall.read(fd, raw.baseAddress!, raw.count) }
            }
            guard case .success(let outcome) = result else {
                finish(id)
                return
            }
            guard case .done(let count) = outcome else { break }
            if count == 0 {
                ended = true
                break
            }
            connection.input += buffer[0..<count]
            if connection.input.contains(UInt8(ascii: "\n")) || connection.input.count > ControlRequest.maxLineBytes { break }
        }
        let newline = connection.input.firstIndex(of: UInt8(ascii: "\n"))
        let lineEnd = newline ?? connection.input.count
        if newline == nil && connection.input.count > ControlRequest.maxLineBytes {
            connections[id] = connection
            answer(id, ControlAnswer.failure(.usage("the request line is longer than \(ControlRequest.maxLineBytes) bytes")))
            return
        }
        guard newline != nil || ended else {
            connections[id] = connection
            return
        }
        if newline == nil && connection.input.isEmpty {
            finish(id)  // connected and left without a word
            return
        }
        var line = Array(connection.input[0..<lineEnd])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        connection.waiting = true
        connection.deadline = loop.now + Self.answerNanos
        scheduleTimer(at: connection.deadline)
        connections[id] = connection
        try? loop.epoll.modify(connection.fd, [], token: Self.tokenBit | id)  // hang-ups still arrive
        guard let text = String(validating: line, as: UTF8.self) else {
            answer(id, ControlAnswer.failure(.usage("the request is not UTF-8")))
            return
        }
        switch ControlRequest.parse(text) {
        case .failure(let failure):
            answer(id, ControlAnswer.failure(failure))
        case .success(let request):
            handler(request) { [weak self] bytes in self?.answer(id, bytes) }
        }
    }

    /// The answer for connection `id`: written now as far as the socket takes it, the rest
    /// when it is writable; then the connection closes.
    private func answer(_ id: UInt64, _ bytes: [UInt8]) {
        guard var connection = connections[id], connection.output.isEmpty else { return }
        connection.waiting = false
        connection.output = bytes.isEmpty ? [UInt8(ascii: "\n")] : bytes
        connection.deadline = loop.now + Self.writeNanos
        connections[id] = connection
        scheduleTimer(at: connection.deadline)
        flush(id)
    }

    private func flush(_ id: UInt64) {
        guard var connection = connections[id] else { return }
        while connection.written < connection.output.count {
            let (fd, offset) = (connection.fd, connection.written)
            let result = connection.output.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try Syscall.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            }
            guard case .success(let outcome) = result else {
                finish(id)  // EPIPE, ECONNRESET: the client left
                return
            }
            guard case .done(let count) = outcome else {
                connections[id] = connection
                try? loop.epoll.modify(connection.fd, .writable, token: Self.tokenBit | id)
                return
            }
            connection.written += count
        }
        finish(id)
    }

    private func finish(_ id: UInt64) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        Syscall.close(connection.fd)
    }

    // MARK: Deadlines

    private func scheduleTimer(at deadline: MonotonicNanos) {
        if let current = loop.timers.deadline(of: timerOwner), current <= deadline { return }
        loop.timers.schedule(timerOwner, at: deadline)
    }

    func timerFired() {
        guard !closed else { return }
        let now = loop.now
        if pausedAccepting {
            pausedAccepting = false
            try? loop.epoll.modify(listenFD, .readable, token: Self.tokenBit)
        }
        for (id, connection) in connections where connection.deadline <= now {
            if connection.output.isEmpty && !connection.waiting {
                answer(id, ControlAnswer.failure(.usage("no complete request line within \(Self.requestNanos / 1_000_000_000) s")))
            } else if connection.waiting {
                answer(id, ControlAnswer.failure(ControlFailure(code: ExitCode.software, message: "the supervisor did not carry the request out within \(Self.answerNanos / 1_000_000_000) s")))
            } else {
                finish(id)
            }
        }
        if let next = connections.values.map(\.deadline).min() { loop.timers.schedule(timerOwner, at: next) }
    }

    /// Closes the socket and every connection, and removes the socket file when it is still ours.
    func close() {
        guard !closed else { return }
        closed = true
        for id in Array(connections.keys) { finish(id) }
        Syscall.close(listenFD)
        loop.timers.cancel(timerOwner)
        if let file, FileIdentity(path: path) == file { unlink(path) }
    }
}
