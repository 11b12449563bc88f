// proxy (xinetd `redirect`, systemd-socket-proxyd): each accepted connection is connected to
// `upstream` without blocking the loop (within connectTimeout); bytes are copied both ways in
// order, a half-close is passed on in each direction, and each direction holds at most
// maxBufferedBytes before it stops reading its source. `proxyProtocol` v1 or v2 prefixes the
// upstream stream with HAProxy's PROXY header carrying the client's address. The I/O is
// Supervisor/ProxyRuntime.swift; the header is a pure function here.
import Synchronization

extension KindName {
    public static let proxy: KindName = "proxy"
}

/// Which PROXY protocol header opens the upstream stream.
public enum ProxyProtocol: String, Sendable, Equatable {
    case v1, v2
}

public struct ProxyOptions: KindOptions, Equatable {
    public static let defaultConnectTimeout = 5.0
    public var upstream: SocketAddress
    /// As written (`localhost:5432`, `[::1]:80`), for messages and status.
    public var upstreamText: String
    public var connectTimeout: Double
    public var maxBufferedBytes: Int
    public var proxyProtocol: ProxyProtocol?

    public init(upstream: SocketAddress, upstreamText: String? = nil, connectTimeout: Double = ProxyOptions.defaultConnectTimeout,
                maxBufferedBytes: Int = EchoOptions.defaultMaxBufferedBytes, proxyProtocol: ProxyProtocol? = nil) {
        self.upstream = upstream
        self.upstreamText = upstreamText ?? upstream.description
        self.connectTimeout = connectTimeout
        self.maxBufferedBytes = maxBufferedBytes
        self.proxyProtocol = proxyProtocol
    }
}

enum ProxyKind: ServiceKind {
    static let name = KindName.proxy
    static let summary = "forwards each connection to `upstream`, both ways, half-closes included (optionally with a PROXY header)"
    static let optionKeys = ["upstream", "connectTimeout", "maxBufferedBytes", "proxyProtocol"]
    static var defaultOptions: any KindOptions { ProxyOptions(upstream: SocketAddress(ip: .loopbackV4, port: 1)) }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        var options = ProxyOptions(upstream: SocketAddress(ip: .loopbackV4, port: 1))
        if fields.value("upstream") == nil {
            validator.add(fields.prefix, "missing required key \"upstream\"")
        } else if let text = validator.string(fields, "upstream") {
            if let address = SocketAddress(parsing: text), address.port != 0 {
                options.upstream = address
                options.upstreamText = text
            } else {
                validator.add(fields.path("upstream"), "\(ConfigValidator.quoted(text)) is not HOST:PORT with a port 1...65535 (an IPv4 literal, [IPv6]:PORT or localhost)")
            }
        }
        options.connectTimeout = validator.seconds(fields, "connectTimeout") ?? options.connectTimeout
        options.maxBufferedBytes = validator.integer(fields, "maxBufferedBytes", in: 1...(1 << 30)) ?? options.maxBufferedBytes
        if let value = fields.value("proxyProtocol") {
            switch value {
            case .bool(false): options.proxyProtocol = nil
            case .string(let text) where ProxyProtocol(rawValue: text) != nil: options.proxyProtocol = ProxyProtocol(rawValue: text)
            default:
                validator.add(fields.path("proxyProtocol"), "\(validator.describe(value)) is not false, \"v1\" or \"v2\"")
            }
        }
        return options
    }

    static func makeStats() -> (any KindStats)? { ProxyStats() }

    static func makeRuntime(_ config: ServiceConfig, context: EngineContext) -> any ServiceRuntime {
        ProxyRuntime(config, context: context)
    }

    /// The PROXY protocol header for a connection from `client` to `local` (HAProxy's
    /// specification, version 1 text or version 2 binary). IPv4-mapped addresses count as IPv4;
    /// when the two ends are of different families, v1 says UNKNOWN and v2 LOCAL.
    static func proxyHeader(_ version: ProxyProtocol, client: SocketAddress, local: SocketAddress) -> [UInt8] {
        let source = client.ip.unmapped, destination = local.ip.unmapped
        switch version {
        case .v1:
            switch (source, destination) {
            case (.v4, .v4):
                return Array("PROXY TCP4 \(source) \(destination) \(client.port) \(local.port)\r\n".utf8)
            case (.v6, .v6):
                return Array("PROXY TCP6 \(source) \(destination) \(client.port) \(local.port)\r\n".utf8)
            default:
                return Array("PROXY UNKNOWN\r\n".utf8)
            }
        case .v2:
            var header: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
            func port(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
            switch (source, destination) {
            case (.v4(let from), .v4(let to)):
                header += [0x21, 0x11, 0x00, 12]
                for value in [from, to] { header += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
                header += port(client.port) + port(local.port)
            case (.v6(let from), .v6(let to)):
                header += [0x21, 0x21, 0x00, 36]
                for value in [from, to] {
                    for i in 0..<16 { header.append(UInt8(truncatingIfNeeded: value >> (8 * (15 - i)))) }
                }
                header += port(client.port) + port(local.port)
            default:
                header += [0x20, 0x00, 0x00, 0x00]  // LOCAL: no address block
            }
            return header
        }
    }
}

/// A proxy service's counters. Safe from any thread.
public final class ProxyStats: KindStats {
    /// Upstream connections refused, timed out or failed.
    public let upstreamFailures = Atomic<Int>(0)

    public init() {}

    public func snapshot() -> any KindSnapshot { ProxySnapshot(upstreamFailures: upstreamFailures.load(ordering: .relaxed)) }
}

/// `"upstreamFailures": n` in status.
public struct ProxySnapshot: KindSnapshot, Equatable {
    public var upstreamFailures: Int

    public func writeStatus(into out: JSONOutput) {
        out.raw(",\n      "); out.key("upstreamFailures"); out.int(upstreamFailures)
    }

    public func metrics(service: String) -> [MetricFamily] {
        [MetricFamily("portvisor_proxy_upstream_failures_total", .counter, "Upstream connections refused, timed out or failed.",
                      [MetricSample(["service": service], upstreamFailures)])]
    }
}

extension ServiceSnapshot {
    /// proxy: upstream connections that failed (0 for other kinds).
    public var upstreamFailures: Int { (kind as? ProxySnapshot)?.upstreamFailures ?? 0 }
}
