// proxy on real sockets (SPEC §8): bytes both ways and in order, half-closes passed on, a
// refused or silent upstream, status, and the PROXY protocol read by a real HAProxy.
import Foundation
import Glibc
import Testing
@testable import Portvisor

/// An upstream for proxy tests: accepts on 127.0.0.1:0 and runs `serve` per connection on its
/// own thread (a test server, not Portvisor code). Closed on deinit.
final class TestUpstream: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let serve: @Sendable (Int32) -> Void
    private let stopped = Locked(false)

    init(backlog: Int32 = 128, serve: @escaping @Sendable (Int32) -> Void) throws {
        fd = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0), backlog: backlog)
        port = Int(try Socket.localAddress(fd).port)
        self.serve = serve
    }

    /// Starts accepting (not for the silent upstream, which never accepts).
    func start() throws {
        try LoopThread.start(name: "test-upstream") { [self] in
            while !stopped.withLock({ $0 }) {
                guard Poll.wait(fd, for: .readable, timeoutMillis: 100) else { continue }
                var peer: SocketAddress?
                guard let client = try? Socket.accept(fd, peer: &peer) else { continue }
                Socket.setNonBlocking(client, false)
                let serve = self.serve
                try? LoopThread.start(name: "test-upstream-conn") { serve(client); Glibc.close(client) }
            }
        }
    }

    deinit {
        stopped.withLock { $0 = true }
        Glibc.close(fd)
    }

    /// Echoes until end of file.
    static func echo(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            var sent = 0
            while sent < n {
                let m = buffer[sent..<n].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if m <= 0 { return }
                sent += m
            }
        }
    }
}

@Suite(.serialized) struct ProxyTests {
    func proxy(_ upstream: Int, _ extra: String = "") -> String {
        #"{ "name": "p", "kind": "proxy", "port": 0, "upstream": "127.0.0.1:\#(upstream)"\#(extra) }"#
    }

    @Test func bytesBothWaysInOrderThroughAHalfClose() throws {
        let upstream = try TestUpstream(serve: TestUpstream.echo)
        try upstream.start()
        let server = try TestSupervisor(proxy(upstream.port, #", "maxBufferedBytes": 4096"#))
        for (size, seed) in [(1, 1), (64, 2), (300_000, 3), (4_000_000, 4)] {
            let payload = randomBytes(size, seed: UInt64(seed))
            let client = try server.connect("p")
            #expect(sameBytes(try client.exchange(payload, halfClose: true), payload))
        }
        let snapshot = try server.waitFor("p") { $0.live == 0 }
        #expect(snapshot.bytesIn == 4_300_065 && snapshot.bytesOut == 4_300_065 && snapshot.total == 4)
    }

    @Test func theUpstreamsHalfCloseReachesTheClientAndTheClientCanStillSend() throws {
        // The upstream sends a banner, shuts its write side, then reads to end of file.
        let received = Locked<[UInt8]>([])
        let upstream = try TestUpstream { fd in
            _ = Array("banner\n".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            shutdown(fd, Int32(SHUT_WR))
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                received.withLock { $0 += buffer[0..<n] }
            }
        }
        try upstream.start()
        let server = try TestSupervisor(proxy(upstream.port))
        let client = try server.connect("p")
        #expect(try client.readToEndText(timeout: 5) == "banner\n")  // its FIN came through
        let late = randomBytes(1_000_000, seed: 9)
        try client.send(late)
        client.shutdownWrite()
        #expect(eventually { received.withLock { $0.count } == late.count })
        #expect(received.withLock { $0 } == late)
        _ = try server.waitFor("p") { $0.live == 0 }
    }

    @Test func aRefusedUpstreamClosesTheClientAndIsCounted() throws {
        let holder = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let port = Int(try Socket.localAddress(holder).port)
        Syscall.close(holder)  // nothing listens there now
        let server = try TestSupervisor(proxy(port))
        for _ in 0..<3 { #expect(try server.connect("p").waitForClose(timeout: 3)) }
        let snapshot = try server.waitFor("p") { $0.upstreamFailures == 3 }
        #expect(snapshot.state == .running && snapshot.live == 0)
        #expect(server.logs.lines.filter { $0.contains("cannot reach the upstream 127.0.0.1:\(port)") }.count == 1)  // once a second
    }

    @Test func aSilentUpstreamTimesOutAfterConnectTimeout() throws {
        // A listener that never accepts, its one-place backlog full: further SYNs are dropped,
        // so a connect to it hangs.
        let silent = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0), backlog: 0)
        defer { Syscall.close(silent) }
        let port = Int(try Socket.localAddress(silent).port)
        let fillers = (0..<3).compactMap { _ in try? Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(port)), timeout: 0.3) }
        defer { fillers.forEach { Syscall.close($0) } }
        let server = try TestSupervisor(proxy(port, #", "connectTimeout": 0.5"#))
        let start = Date()
        #expect(try server.connect("p").waitForClose(timeout: 5))
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.4 && elapsed < 3, "\(elapsed) s")
        #expect(try server.snapshot("p").upstreamFailures == 1)
    }

    @Test func liveEntriesNameTheUpstreamAndCountEachDirection() throws {
        let upstream = try TestUpstream { fd in
            var buffer = [UInt8](repeating: 0, count: 16)
            _ = read(fd, &buffer, 3)
            _ = Array("four".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            _ = read(fd, &buffer, 1)  // hold the connection until the client closes
        }
        try upstream.start()
        let server = try TestSupervisor(proxy(upstream.port))
        let client = try server.connect("p")
        try client.send("abc")
        #expect(try client.read(count: 4) == Array("four".utf8))
        let live = try #require(try server.waitFor("p") { $0.connections?.first?.bytesOut == 4 }.connections?.first)
        #expect(live.bytesIn == 3 && live.upstream == SocketAddress(ip: .loopbackV4, port: UInt16(upstream.port)))
    }

    @Test func proxyHeadersFollowTheSpecification() {
        let client = SocketAddress(ip: .v4(192, 0, 2, 7), port: 51234), local = SocketAddress(ip: .v4(127, 0, 0, 1), port: 8080)
        #expect(ProxyKind.proxyHeader(.v1, client: client, local: local) == Array("PROXY TCP4 192.0.2.7 127.0.0.1 51234 8080\r\n".utf8))
        let v6 = SocketAddress(ip: IPAddress(parsing: "2001:db8::1")!, port: 1), local6 = SocketAddress(ip: .loopbackV6, port: 2)
        #expect(ProxyKind.proxyHeader(.v1, client: v6, local: local6) == Array("PROXY TCP6 2001:db8::1 ::1 1 2\r\n".utf8))
        #expect(ProxyKind.proxyHeader(.v1, client: v6, local: local) == Array("PROXY UNKNOWN\r\n".utf8))
        let v2 = ProxyKind.proxyHeader(.v2, client: client, local: local)
        #expect(v2 == [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
                       192, 0, 2, 7, 127, 0, 0, 1, 0xC8, 0x22, 0x1F, 0x90])
        #expect(ProxyKind.proxyHeader(.v2, client: v6, local: local6).count == 16 + 36)
        let mapped = SocketAddress(ip: IPAddress(parsing: "::ffff:10.1.2.3")!, port: 5)
        #expect(ProxyKind.proxyHeader(.v1, client: mapped, local: SocketAddress(ip: IPAddress(parsing: "::ffff:127.0.0.1")!, port: 6))
                == Array("PROXY TCP4 10.1.2.3 127.0.0.1 5 6\r\n".utf8))
    }

    /// A real HAProxy with `accept-proxy` as the upstream answers with the client address it
    /// read from the PROXY header: the client's, not Portvisor's.
    @Test(.enabled(if: Repository.hasTool("haproxy")), arguments: ["v1", "v2"])
    func haproxyReadsTheClientsAddressFromTheHeader(version: String) throws {
        let directory = try TempDirectory()
        let probe = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        let haproxyPort = Int(try Socket.localAddress(probe).port)
        Syscall.close(probe)
        let configuration = try directory.write("haproxy.cfg", """
            global
              maxconn 100
            defaults
              mode http
              timeout connect 5s
              timeout client 10s
              timeout server 10s
            frontend proxied
              bind 127.0.0.1:\(haproxyPort) accept-proxy
              http-request return status 200 content-type text/plain lf-string "client %ci:%cp\\n"

            """)
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", configuration])
        defer {
            haproxy.signal(SIGTERM)
            _ = try? haproxy.waitForExit(timeout: 5)
        }
        let up = eventually(timeout: 5) { (try? Socket.connect(to: SocketAddress(ip: .loopbackV4, port: UInt16(haproxyPort)), timeout: 0.2)).map { Syscall.close($0); return true } ?? false }
        for _ in 0..<5 { _ = haproxy.pump(timeout: 0.2) }
        #expect(up, "haproxy did not listen: \(haproxy.stderrText)")
        let server = try TestSupervisor(proxy(haproxyPort, #", "proxyProtocol": "\#(version)""#))
        let client = try TestClient(port: try server.port("p"), source: "127.0.0.9")
        let local = try Socket.localAddress(client.fd)
        try client.send("GET / HTTP/1.0\r\n\r\n")
        let answer = try client.readToEndText(timeout: 5)
        #expect(answer.hasPrefix("HTTP/1.0 200") || answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.hasSuffix("client 127.0.0.9:\(local.port)\n"), "\(answer)")
    }
}
