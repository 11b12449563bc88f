// A loopback TCP client for tests: every blocking call has a deadline, the descriptor is
// closed on deinit, and bulk exchanges use poll so a test can never deadlock on full buffers.
import CPortvisor
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

final class TestClient {
    let fd: Int32
    /// This end's address, as status shows the peer ("127.0.0.1:PORT").
    let localAddress: String
    private(set) var closed = false

    /// Connects to 127.0.0.1:`port` (or `host`) within `timeout` seconds, from `source` when
    /// given (e.g. "127.0.0.2": any 127/8 address works on loopback).
    init(port: Int, host: String = "127.0.0.1", source: String? = nil, timeout: Double = 5) throws {
        guard let ip = IPAddress(parsing: host) else { throw TestFailure("bad host \(host)") }
        let local = try source.map { text -> SocketAddress in
            guard let address = IPAddress(parsing: text) else { throw TestFailure("bad source \(text)") }
            return SocketAddress(ip: address, port: 0)
        }
        fd = try Socket.connect(to: SocketAddress(ip: ip, port: UInt16(port)), timeout: timeout, from: local)
        localAddress = (try? Socket.localAddress(fd))?.description ?? ""
    }

    deinit { close() }

    func close() {
        if !closed {
            closed = true
            Glibc.close(fd)
        }
    }

    /// Closes with an RST (SO_LINGER 0) instead of a FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Sends all of `bytes` within `timeout` seconds.
    func send(_ bytes: [UInt8], timeout: Double = 5) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw TestFailure("write: errno \(errno)") }
            try waitFor(POLLOUT, until: deadline)
        }
    }

    func send(_ text: String, timeout: Double = 5) throws { try send(Array(text.utf8), timeout: timeout) }

    /// Reads until the server closes (or `limit` bytes); throws after `timeout` seconds.
    /// A reset after data counts as the end.
    func readToEnd(limit: Int = 64 << 20, timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n > 0 { result += buffer[0..<n]; continue }
            if n == 0 { return result }
            if errno == ECONNRESET { return result }
            if errno != EAGAIN && errno != EINTR { throw TestFailure("read: errno \(errno)") }
            try waitFor(POLLIN, until: deadline)
        }
        return result
    }

    func readToEndText(timeout: Double = 5) throws -> String {
        String(decoding: try readToEnd(timeout: timeout), as: UTF8.self)
    }

    /// Reads exactly `count` bytes.
    func read(count: Int, timeout: Double = 5) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let n = Glibc.read(fd, &buffer, min(buffer.count, count - result.count))
            if n > 0 { result += buffer[0..<n]; continue }
            if n == 0 { throw TestFailure("end of stream after \(result.count) of \(count) bytes") }
            if errno != EAGAIN && errno != EINTR { throw TestFailure("read: errno \(errno)") }
            try waitFor(POLLIN, until: deadline)
        }
        return result
    }

    /// Reads one line (through LF).
    func readLine(timeout: Double = 5) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var result: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n == 1 {
                result.append(byte)
                if byte == 0x0A { return String(decoding: result, as: UTF8.self) }
                continue
            }
            if n == 0 { throw TestFailure("end of stream inside a line: \(String(decoding: result, as: UTF8.self))") }
            if errno != EAGAIN && errno != EINTR { throw TestFailure("read: errno \(errno)") }
            try waitFor(POLLIN, until: deadline)
        }
    }

    /// Whether the server has closed (EOF or reset) within `timeout` seconds; data is discarded.
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EINTR { return true }
            if n > 0 { continue }
            try? waitFor(POLLIN, until: deadline)
        }
        return false
    }

    /// Sends `payload` in chunks of random sizes while reading the echo, half-closes after the
    /// last byte, and returns everything received until the server closes.
    func exchange(_ payload: [UInt8], chunkSizes: ClosedRange<Int> = 1...65536, halfClose: Bool = true,
                  timeout: Double = 20) throws -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let deadline = Date().addingTimeInterval(timeout)
        var sent = 0
        var received: [UInt8] = []
        received.reserveCapacity(payload.count)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var writeClosed = false
        while true {
            if sent == payload.count && halfClose && !writeClosed {
                shutdownWrite()
                writeClosed = true
            }
            if !halfClose && received.count >= payload.count { return received }
            var poller = pollfd(fd: fd, events: Int16(POLLIN) | (sent < payload.count ? Int16(POLLOUT) : 0), revents: 0)
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw TestFailure("exchange timed out: sent \(sent), received \(received.count) of \(payload.count)") }
            _ = poll(&poller, 1, Int32(min(left, 1) * 1000))
            if poller.revents & Int16(POLLOUT) != 0 && sent < payload.count {
                let size = min(Int.random(in: chunkSizes, using: &generator), payload.count - sent)
                let n = payload[sent..<(sent + size)].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n > 0 { sent += n }
            }
            if poller.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = Glibc.read(fd, &buffer, buffer.count)
                if n > 0 { received += buffer[0..<n] }
                else if n == 0 { return received }
                else if errno != EAGAIN && errno != EINTR { throw TestFailure("read: errno \(errno) after \(received.count) bytes") }
            }
        }
    }

    private func waitFor(_ event: Int32, until deadline: Date) throws {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { throw TestFailure("timed out waiting for the socket") }
        var poller = pollfd(fd: fd, events: Int16(event), revents: 0)
        _ = poll(&poller, 1, Int32(max(1, min(left, 1) * 1000)))
    }
}

/// Random bytes from a seeded generator, so a failure can be reproduced.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var bytes = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        var word = state ^ (state >> 29)
        for _ in 0..<8 where i < count {
            bytes[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return bytes
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes. For state that has no
/// event to wait on (a counter in a snapshot); returns whether it held.
@discardableResult
func eventually(timeout: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        var none = pollfd(fd: -1, events: 0, revents: 0)
        _ = poll(&none, 0, 10)
    }
    return try condition()
}

/// Whether two byte sequences are equal. A failed `#expect(a == b)` prints both operands, which
/// for megabytes of payload drowns the report; this prints only where they first differ.
func sameBytes(_ a: [UInt8], _ b: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    if a == b { return true }
    let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
    Issue.record("byte sequences differ: \(a.count) vs \(b.count) bytes, first difference at offset \(first)", sourceLocation: sourceLocation)
    return false
}
