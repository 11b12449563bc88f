// A loopback server that answers every connection with the same bytes and closes it: a stand-in
// for a broken service (two lines where daytime sends one). Stopped and joined on deinit.
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

    init(reply: String) throws {
        listener = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        port = Int(try Socket.localAddress(listener).port)
        let bytes = Array(reply.utf8)
        let (listener, flag) = (listener, flag)
        thread = try LoopThread.startJoinable(name: "canned-server") {
            while !flag.stop.load(ordering: .acquiring) {
                var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 20) > 0 else { continue }  // 20 ms: look at the stop flag again
                var peer: SocketAddress?
                while let fd = try? Socket.accept(listener, peer: &peer) {
                    _ = bytes.withUnsafeBytes { try? Syscall.write(fd, $0.baseAddress!, $0.count) }
                    Syscall.close(fd)
                }
            }
        }
    }

    deinit {
        flag.stop.store(true, ordering: .releasing)
        thread?.join()
        Syscall.close(listener)
    }
}
