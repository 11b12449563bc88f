// How addresses appear in every table and log line: `127.0.0.1:80`, `[::1]:80`, `echo/udp`.

/// Formatting `host:port` the way every table and log line shows it.
public enum Address {
    /// `127.0.0.1:80`, `[::1]:80`, `localhost:80`.
    public static func display(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// As `display(host:port:)`, with `/udp` after a UDP service's address.
    public static func display(host: String, port: Int, transport: TransportProtocol) -> String {
        display(host: host, port: port) + (transport == .udp ? "/udp" : "")
    }
}
