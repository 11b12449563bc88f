// UDP services on a worker thread: one socket, each datagram answered by the kind (echo,
// daytime, time, qotd, chargen; discard answers nothing), with the defences inetd learned the
// hard way: never answer a privileged source port, a broadcast, multicast or unspecified
// source, or one of our own UDP ports on this machine (two services ping-ponging forever);
// and at most `maxConnectionRatePerSource` answers per source per second (100 by default).

import Glibc

extension ServiceWorker {
    /// Answers per source per second when the config sets no rate.
    static let defaultDatagramRate = 100.0
    /// Every UDP port this process listens on, so services never answer each other.
    static let ownDatagramPorts = Locked<Set<UInt16>>([])
    /// chargen over UDP: one datagram of this many bytes of the pattern.
    static let chargenDatagramBytes = 512

    func datagramsReady(_ fd: Int32) {
        for _ in 0..<Self.acceptsPerWakeup {
            let received: (count: Int, from: SocketAddress?)
            do {
                guard let datagram = try Socket.receive(fd, into: readBuffer, capacity: Self.readBufferSize) else { return }
                received = datagram
            } catch {
                if Self.transientAcceptErrors.contains(error.errno) || error.errno == ECONNREFUSED { continue }
                listenerFailed("\(error)")
                return
            }
            ServiceStats.add(stats.datagramsIn, 1)
            ServiceStats.add(stats.bytesIn, received.count)
            guard let source = received.from, shouldAnswer(source) else {
                ServiceStats.add(stats.datagramsDropped, 1)
                continue
            }
            answer(fd, to: source, count: received.count)
        }
    }

    /// The defences: refusals, loops, and the per-source rate.
    private func shouldAnswer(_ source: SocketAddress) -> Bool {
        let config = profile.config
        let ownPort = Self.ownDatagramPorts.withLock { $0.contains(source.port) }
        if DatagramDefence.loopRisk(from: source, ownPort: ownPort, boundTo: config.address) != nil { return false }
        let ip = source.ip.unmapped
        if !config.access.allowsEverything && !config.access.permits(ip) { return false }
        let rate = config.maxConnectionRatePerSource ?? Self.defaultDatagramRate
        let allowed = sources.takeToken(ip, now: loop.now, rate: rate)
        scheduleSourceSweep()
        return allowed
    }

    private func answer(_ fd: Int32, to destination: SocketAddress, count: Int) {
        let result: Result<IOResult, SystemError>
        switch profile.config.kind {
        case .discard:
            return
        case .echo:
            result = Result { () throws(SystemError) -> IOResult in try Socket.send(fd, readBuffer, count: count, to: destination) }
        case .chargen:
            let start = chargenDatagramLine * (ChargenPattern.lineLength + 2)
            chargenDatagramLine = (chargenDatagramLine + 1) % ChargenPattern.printable
            result = ChargenPattern.shared.bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> IOResult in
                    try Socket.send(fd, raw.baseAddress! + start, count: Self.chargenDatagramBytes, to: destination)
                }
            }
        case .daytime, .time, .qotd, .sentence:
            let reply = profile.greeting(at: Clock.wall()) ?? []
            result = reply.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> IOResult in try Socket.send(fd, raw.baseAddress!, count: raw.count, to: destination) }
            }
        }
        if case .success(.done(let sent)) = result {
            ServiceStats.add(stats.datagramsOut, 1)
            ServiceStats.add(stats.bytesOut, sent)
        } else {
            ServiceStats.add(stats.datagramsDropped, 1)
        }
    }
}

/// Which datagram sources must never be answered, as a pure function.
public enum DatagramDefence {
    /// Why a datagram from `source` must not be answered, or nil. `ownPort`: the source port is
    /// one of this process's UDP ports; `bound`: the answering service's address.
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
}
