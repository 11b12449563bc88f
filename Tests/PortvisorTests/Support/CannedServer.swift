// A loopback server that answers every connection with the same bytes and closes it: a stand-in
// for a broken service (two lines where daytime sends one), or, reading the request head first,
// for a hostile HTTP endpoint. Stopped and joined on deinit.
import Glibc
import Synchronization
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

final class CannedServer {
    private final class Flag: Sendable { let stop = Atomic<Bool>(false) }

    let port: Int
    private let listener: Int32
    private let flag = Flag()
    private var thread: LoopThread.Handle?

    /// With `readsRequestHead`, each connection's request is read up to its blank line (at most
    /// 2 s, 64 KiB) before the reply, so the client never gets a reset for unread bytes.
    convenience init(reply: String, readsRequestHead: Bool = false) throws {
        try self.init(replyBytes: Array(reply.utf8), readsRequestHead: readsRequestHead)
    }

    init(replyBytes bytes: [UInt8], readsRequestHead: Bool = false) throws {
        listener = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        port = Int(try Socket.localAddress(listener).port)
        let (listener, flag) = (listener, flag)
        thread = try LoopThread.startJoinable(name: "canned-server") {
            while !flag.stop.load(ordering: .acquiring) {
                var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 20) > 0 else { continue }  // 20 ms: look at the stop flag again
                var peer: SocketAddress?
                while let fd = try? Socket.accept(listener, peer: &peer) {
                    if readsRequestHead { CannedServer.readHead(fd) }
                    _ = bytes.withUnsafeBytes { try? Syscall.write(fd, $0.baseAddress!, $0.count) }
                    Syscall.close(fd)
                }
            }
        }
    }

    /// Reads from `fd` until a blank line ends the head, the peer closes, 64 KiB or 2 s.
    private static func readHead(_ fd: Int32) {
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Clock.monotonic() + 2_000_000_000
        while head.count < 65536, HTTPRequestHead.endOfHead(in: head, from: 0) == nil {
            let left = (deadline - Clock.monotonic()) / 1_000_000
            guard left > 0 else { return }
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(left)) > 0 else { return }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            head += buffer[0..<n]
        }
    }

    deinit {
        flag.stop.store(true, ordering: .releasing)
        thread?.join()
        Syscall.close(listener)
    }
}
