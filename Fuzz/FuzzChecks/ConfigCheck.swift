// Fuzz properties of services.json loading: the result is deterministic; a rejected file gives
// at least one issue line, each naming the file and fitting on one line; an accepted one keeps
// the documented invariants (unique valid names, ports in 0...65535, values in their ranges).
import Portvisor

/// Checks `ConfigLoader.parse(_:path:)` on arbitrary bytes (and the JSON round trip, see
/// `JSONRoundTripCheck`).
public enum ConfigCheck: FuzzCheck {
    public static let name = "config"
    /// The file name the messages must start with.
    static let path = "fuzz/services.json"

    public static func check(_ input: [UInt8]) throws(FuzzFailure) {
        let first = load(input)
        try expect(first == load(input), "two parses of the same bytes differ: \(preview(input))")
        switch first {
        case .success(let config): try checkAccepted(config, input: input)
        case .failure(let error): try checkRejected(error)
        }
        try JSONRoundTripCheck.check(input)
    }

    static func load(_ input: [UInt8]) -> Result<PortvisorConfig, ConfigError> {
        Result { () throws(ConfigError) in try ConfigLoader.parse(input, path: path) }
    }

    /// At least one line; every line starts with "PATH: " and holds no CR or LF.
    static func checkRejected(_ error: ConfigError) throws(FuzzFailure) {
        guard case .invalid = error else { throw FuzzFailure("parse reported \(error), which only load may report") }
        try checkIssueLines(error.lines)
    }

    static func checkIssueLines(_ lines: [String]) throws(FuzzFailure) {
        try expect(!lines.isEmpty, "rejected with no issue line")
        for line in lines {
            try expect(line.hasPrefix("\(path): "), "issue line does not start with the file name: \(line)")
            try expect(!line.utf8.contains { $0 == 0x0A || $0 == 0x0D }, "issue line spans lines: \(preview(Array(line.utf8)))")
        }
    }

    /// The documented invariants of an accepted config (docs/configuration.md).
    static func checkAccepted(_ config: PortvisorConfig, input: [UInt8]) throws(FuzzFailure) {
        try expect(config.path == path, "config path \(config.path)")
        if case .array(let items)? = try? JSONParser.parse(input)["services"] {
            try expect(config.services.count == items.count, "\(items.count) entries gave \(config.services.count) services")
        }
        try expect((1...1024).contains(config.services.count), "accepted \(config.services.count) services")
        if let status = config.status {
            try expect((0...65535).contains(status.port), "status port \(status.port)")
            try checkHost(status.host, status.address, at: "status")
        }
        var names = Set<String>()
        for service in config.services {
            try expect(names.insert(service.name).inserted, "duplicate name \(service.name) accepted")
            try ServiceCheck.check(service)
            try checkHost(service.host, service.address, at: service.name)
        }
        try checkNoSharedPort(config)
    }

    /// `localhost` or an IP literal (hex digits, `.` and `:` only) that means `address`.
    static func checkHost(_ host: String, _ address: IPAddress, at place: String) throws(FuzzFailure) {
        let literal = host.utf8.allSatisfy { $0.isHexDigit || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
        try expect(host == "localhost" || literal, "\(place): host \(HTTPRequestCheck.quoted(host)) is not an address literal")
        try expect(IPAddress(parsing: host) == address, "\(place): host \(host) does not mean \(address)")
    }

    /// No two enabled services (nor a service and the status endpoint) on the same non-zero port
    /// and the same address. (The validator's wildcard rules are stricter; this is the floor.)
    static func checkNoSharedPort(_ config: PortvisorConfig) throws(FuzzFailure) {
        var taken: [String: String] = [:]
        if let status = config.status, status.port != 0 { taken["\(status.address.unmapped) \(status.port)"] = "the status endpoint" }
        for service in config.services where service.enabled && service.port != 0 {
            let key = "\(service.address.unmapped) \(service.port)"
            try expect(taken[key] == nil, "\(service.name) shares \(key) with \(taken[key] ?? "")")
            taken[key] = service.name
        }
    }
}

extension UInt8 {
    var isHexDigit: Bool {
        (self >= 0x30 && self <= 0x39) || ((self | 0x20) >= 0x61 && (self | 0x20) <= 0x66)
    }
}
