// Turns a parsed services.json into a PortvisorConfig, or into every problem it has.
// Each check records a ConfigIssue and carries on, so one run reports all mistakes (SPEC §1).

/// The keys services.json knows, for validation and the command line's help.
public enum ConfigKeys {
    /// The keys every service takes, whatever its kind.
    public static let commonService = ["name", "kind", "port", "host", "enabled", "maxConnections", "idleTimeout", "restart",
                                       "allow", "deny", "maxConnectionsPerSource", "maxConnectionRatePerSource", "writeTimeout",
                                       "protocol", "ipv6SourcePrefix", "maxReplyBytesPerSecond"]
}

/// Validates the JSON tree of a services.json (SPEC §1). Use `ConfigLoader` to read a file.
public struct ConfigValidator {
    public static let maxServices = 1024
    /// Upper bound for every duration, so that conversions to milliseconds cannot overflow.
    public static let maxSeconds = 1_000_000_000.0

    static let topLevelKeys = ["services", "status", "drainTimeout", "control"]
    /// The shortest restart delay: a timer that fires at once, again and again, is a busy loop.
    public static let minRestartDelay = 0.001
    static let statusKeys = ["host", "port", "allow", "deny", "tokenFile"]
    /// The longest token a token file may hold (its first line).
    public static let maxTokenBytes = 4096
    static let commonServiceKeys = ConfigKeys.commonService
    static let restartKeys = ["initialDelay", "maxDelay", "resetAfter", "maxRestarts"]

    private(set) var issues: [ConfigIssue] = []
    /// Where each issue is in the file (see `position`), for sorting them into the file's order.
    private var positions: [[Int]] = []
    /// The document being validated.
    private var root: JSONValue = .null
    /// Not errors: things `check` points out (a user switch this process may not be allowed).
    private(set) var warnings: [ConfigIssue] = []

    public init() {}

    /// Validates `root`; returns the config, or nil with `issues` filled in.
    public mutating func validate(_ root: JSONValue, path: String) -> PortvisorConfig? {
        self.root = root
        guard let top = object(root, at: "top level", expected: "an object with a \"services\" array") else { return nil }
        checkKeys(top, allowed: Self.topLevelKeys, at: "top level")

        let status = validateStatus(top)
        var drafts: [ServiceDraft] = []
        if let value = top.value("services") {
            if case .array(let items) = value {
                if items.isEmpty || items.count > Self.maxServices {
                    add("services", "must hold 1...\(Self.maxServices) services, found \(items.count)")
                }
                var firstByName: [String: Int] = [:]
                for (index, item) in items.enumerated() {
                    guard var draft = validateService(item, at: "services[\(index)]") else { continue }
                    draft.index = index
                    if let name = draft.name {
                        if let first = firstByName[name] {
                            add("services[\(index)].name", "duplicate name \"\(name)\" (first used by services[\(first)])")
                        } else {
                            firstByName[name] = index
                        }
                    }
                    drafts.append(draft)
                }
            } else {
                add("services", "expected an array of services, found \(describe(value))")
            }
        } else {
            add("top level", "missing required key \"services\"")
        }
        let drain = seconds(top, "drainTimeout") ?? PortvisorConfig.defaultDrainTimeout
        let control = validateControl(top)
        checkCollisions(drafts, status: status ?? nil)
        sortIssuesIntoFileOrder()
        guard issues.isEmpty, let status else { return nil }
        var config = PortvisorConfig(path: path, status: status, services: drafts.compactMap(\.config), drainTimeout: drain)
        config.control = control
        config.warnings = warnings
        return config
    }

    // MARK: Status endpoint

    /// `.some(nil)` when the endpoint is off, `nil` when invalid.
    private mutating func validateStatus(_ top: Fields) -> StatusEndpointConfig?? {
        guard let value = top.value("status") else { return .some(.default) }
        if case .bool(false) = value { return .some(nil) }
        guard let fields = object(value, at: "status", expected: "an object {\"host\", \"port\"} or false") else { return nil }
        checkKeys(fields, allowed: Self.statusKeys, at: "status")
        let host = string(fields, "host") ?? StatusEndpointConfig.defaultHost
        let address = parseHost(host, at: "status.host")
        let port = integer(fields, "port", in: 0...65535) ?? StatusEndpointConfig.defaultPort
        let allow = cidrList(fields, "allow")
        let deny = cidrList(fields, "deny") ?? []
        let tokenFile = string(fields, "tokenFile")
        let token = tokenFile.flatMap { readToken($0, at: fields.path("tokenFile")) }
        guard let address else { return nil }
        return .some(StatusEndpointConfig(host: host, address: address, port: port, access: AccessPolicy(allow: allow, deny: deny),
                                          tokenFile: tokenFile, token: token))
    }

    /// The first line of the token file: at least 16 bytes of printable ASCII without spaces.
    /// A file others may read draws a warning.
    private mutating func readToken(_ path: String, at location: String) -> String? {
        guard path.hasPrefix("/") else {
            add(location, "\(Self.quoted(path)) is not an absolute path")
            return nil
        }
        let bytes: [UInt8]
        do {
            bytes = try FileReader.readSmallFile(path, limit: 64 * 1024)
        } catch {
            add(location, "cannot read \(Self.quoted(path)): \(error.reason)")
            return nil
        }
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        let token = String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
        guard token.utf8.count >= 16, token.utf8.count <= Self.maxTokenBytes, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            add(location, "the first line of \(Self.quoted(path)) must be a token of 16...\(Self.maxTokenBytes) printable ASCII characters without spaces (e.g. `head -c 32 /dev/urandom | base64 > FILE`)")
            return nil
        }
        if FileSystem.permissions(path).map({ $0 & 0o077 != 0 }) == true {
            warn(location, "\(Self.quoted(path)) may be read by other users; chmod 600 it")
        }
        return token
    }

    // MARK: Control socket

    private mutating func validateControl(_ top: Fields) -> ControlSetting {
        guard let value = top.value("control") else { return .automatic }
        switch value {
        case .bool(false):
            return .off
        case .string(let path):
            if let problem = ControlSocket.pathProblem(path) {
                add("control", problem)
                return .automatic
            }
            return .path(path)
        default:
            add("control", "expected a socket path or false, found \(describe(value))")
            return .automatic
        }
    }

    // MARK: Services

    /// What could be read of one service entry: enough for the cross-entry checks even when
    /// other fields are wrong, and the full config when the entry is valid.
    struct ServiceDraft {
        var index = 0
        var name: String?
        var host: String
        var address: IPAddress?
        var port: Int?
        var enabled: Bool
        var transport: TransportProtocol
        var config: ServiceConfig?
    }

    private mutating func validateService(_ value: JSONValue, at path: String) -> ServiceDraft? {
        guard let fields = object(value, at: path, expected: "a service object") else { return nil }
        let before = issues.count

        let kindName = string(fields, "kind", required: true)
        var kind: KindEntry?
        if let kindName {
            kind = Kinds.named(KindName(rawValue: kindName))
            if kind == nil {
                let known = Kinds.all.map(\.name.rawValue)
                let hint = Suggestion.closest(to: kindName, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                add(fields.path("kind"), "unknown kind \(Self.quoted(kindName))\(hint); known kinds: \(known.joined(separator: ", "))")
            }
        }
        checkServiceKeys(fields, kind: kind, at: path)
        for rule in kind?.inapplicableKeys ?? [] where fields.value(rule.key) != nil {
            let message = "\"\(rule.key)\" does not apply to kind \"\(kind?.name.rawValue ?? "")\": \(rule.reason)"
            if rule.error { add(fields.path(rule.key), message) } else { warn(fields.path(rule.key), message) }
        }
        let kindID = kind?.name
        let kindTransports = kind?.transports ?? [.tcp, .udp]

        let name = string(fields, "name", required: true)
        if let name, !Self.isValidName(name) {
            add(fields.path("name"), "\(Self.quoted(name)) is not a valid name: 1-64 letters, digits, \".\", \"_\" or \"-\", starting with a letter or digit")
        }
        let port = integer(fields, "port", in: 0...65535, required: true)
        let host = string(fields, "host") ?? ServiceConfig.defaultHost
        let address = parseHost(host, at: fields.path("host"))
        let enabled = bool(fields, "enabled") ?? true
        let maxConnections = integer(fields, "maxConnections", in: 1...Int(Int32.max)) ?? ServiceConfig.defaultMaxConnections
        let idleTimeout = seconds(fields, "idleTimeout") ?? ServiceConfig.defaultIdleTimeout
        let restart = validateRestart(fields)
        var options: (any KindOptions)?
        if let kind { options = kind.readOptions(fields, &self) }
        let allow = cidrList(fields, "allow")
        let deny = cidrList(fields, "deny") ?? []
        let perSource = integer(fields, "maxConnectionsPerSource", in: 1...Int(Int32.max))
        let rate = positiveNumber(fields, "maxConnectionRatePerSource")
        let writeTimeout = seconds(fields, "writeTimeout") ?? ServiceConfig.defaultWriteTimeout
        let ipv6Prefix = integer(fields, "ipv6SourcePrefix", in: 1...128) ?? ServiceConfig.defaultIPv6SourcePrefix
        let replyBytes = integer(fields, "maxReplyBytesPerSecond", in: 1...(1 << 40)) ?? ServiceConfig.defaultMaxReplyBytesPerSecond
        var transport = TransportProtocol.tcp
        if let name = string(fields, "protocol") {
            if let parsed = TransportProtocol(rawValue: name) {
                transport = parsed
                if let kindID, !kindTransports.contains(parsed) {
                    add(fields.path("protocol"), "kind \"\(kindID)\" has no \(parsed == .udp ? "UDP" : "TCP") form; use \"\(kindTransports.first?.rawValue ?? "tcp")\"")
                }
            } else {
                add(fields.path("protocol"), "\"\(name)\" is not \"tcp\" or \"udp\"")
            }
        }

        if fields.value("maxReplyBytesPerSecond") != nil && transport != .udp {
            add(fields.path("maxReplyBytesPerSecond"), "applies to UDP services only (\"protocol\": \"udp\")")
        }
        var draft = ServiceDraft(name: name.flatMap { Self.isValidName($0) ? $0 : nil }, host: host,
                                 address: address, port: port, enabled: enabled, transport: transport)
        if issues.count == before, let name, let kindID, let port, let address, let options {
            draft.config = ServiceConfig(name: name, kind: kindID, host: host, address: address, port: port, enabled: enabled,
                                         maxConnections: maxConnections, idleTimeout: idleTimeout, restart: restart, options: options,
                                         access: AccessPolicy(allow: allow, deny: deny), maxConnectionsPerSource: perSource,
                                         maxConnectionRatePerSource: rate, writeTimeout: writeTimeout, transport: transport,
                                         ipv6SourcePrefix: ipv6Prefix, maxReplyBytesPerSecond: replyBytes)
        }
        return draft
    }

    /// Unknown keys, and keys that belong to another kind.
    private mutating func checkServiceKeys(_ fields: Fields, kind: KindEntry?, at path: String) {
        var allKindKeys: [String] = []
        for other in Kinds.all { allKindKeys += other.optionKeys.filter { !allKindKeys.contains($0) } }
        let allowed = Self.commonServiceKeys + (kind.map { $0.optionKeys } ?? allKindKeys)
        checkDuplicates(fields, at: path)
        for (index, member) in fields.members.enumerated() where !allowed.contains(member.key) {
            let owners = Kinds.all.filter { $0.optionKeys.contains(member.key) }.map { "\"\($0.name)\"" }
            if let kind, !owners.isEmpty {
                let which = owners.count == 1 ? "kind \(owners[0])" : "kinds " + owners.dropLast().joined(separator: ", ") + " and " + owners.last!
                add(fields.path(member.key), "\"\(member.key)\" is an option of \(which), not of \"\(kind.name)\"")
            } else {
                unknownKey(member.key, among: Self.commonServiceKeys + allKindKeys, at: path, index: index)
            }
        }
    }

    private mutating func validateRestart(_ fields: Fields) -> RestartPolicy {
        var policy = RestartPolicy()
        guard let value = fields.value("restart") else { return policy }
        let path = fields.path("restart")
        guard let restart = object(value, at: path, expected: "an object") else { return policy }
        checkKeys(restart, allowed: Self.restartKeys, at: path)
        policy.initialDelay = delay(restart, "initialDelay") ?? policy.initialDelay
        // Unset, maxDelay is 5 s, or initialDelay when that is longer (the backoff never shrinks).
        policy.maxDelay = delay(restart, "maxDelay") ?? max(policy.maxDelay, policy.initialDelay)
        policy.resetAfter = seconds(restart, "resetAfter") ?? policy.resetAfter
        if let max = restart.value("maxRestarts"), max != .null {
            policy.maxRestarts = integer(restart, "maxRestarts", in: 0...Int(Int32.max))
        }
        if policy.maxDelay < policy.initialDelay, restart.value("maxDelay") != nil {
            add(restart.path("maxDelay"), "\(JSONNumber(policy.maxDelay).text) is less than initialDelay (\(JSONNumber(policy.initialDelay).text))")
        }
        return policy
    }

    // MARK: Collisions

    /// Two enabled services, or a service and the status endpoint, on the same non-zero port
    /// and the same address or a wildcard covering it. Reported on the later entry.
    private mutating func checkCollisions(_ drafts: [ServiceDraft], status: StatusEndpointConfig?) {
        var earlier: [ServiceDraft] = []
        for draft in drafts where draft.enabled {
            guard let port = draft.port, port != 0, let address = draft.address else { continue }
            let path = "services[\(draft.index)].port"
            if let status, draft.transport == .tcp, status.port == port, Self.collide(status.address, address) {
                add(path, "\(port) on \(draft.host) collides with the status endpoint on \(Address.display(host: status.host, port: status.port))")
            } else if let other = earlier.first(where: { $0.port == port && $0.transport == draft.transport && Self.collide($0.address!, address) }) {
                let otherName = other.name.map { " (\"\($0)\")" } ?? ""
                let proto = draft.transport == .udp ? " (udp)" : ""
                add(path, "\(port)\(proto) on \(draft.host) collides with services[\(other.index)]\(otherName) on \(other.host)")
            }
            earlier.append(draft)
        }
    }

    /// Whether binds on `a` and `b` (same port) would collide: equal, `0.0.0.0` against any IPv4,
    /// or `::` against anything (it covers IPv4 too).
    static func collide(_ a: IPAddress, _ b: IPAddress) -> Bool {
        let a = a.unmapped, b = b.unmapped
        if a == b { return true }
        if a == .anyV6 || b == .anyV6 { return true }
        if a.isIPv4 && b.isIPv4 && (a.isWildcard || b.isWildcard) { return true }
        return false
    }

    /// `text` as a JSON string literal: quoted, with control characters escaped, so that a
    /// message stays on one line whatever the file holds.
    static func quoted(_ text: String) -> String {
        var out = ""
        guard text.utf8.count > maxQuotedBytes else {
            JSONWriter.writeString(text, into: &out)
            return out
        }
        // A message stays readable however long the value: its start, and its size.
        JSONWriter.writeString(String(text.prefix(60)) + "…", into: &out)
        return out + " (\(text.utf8.count) bytes)"
    }

    /// Values longer than this are shortened in messages.
    static let maxQuotedBytes = 200

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func isAlphanumeric(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }
        guard isAlphanumeric(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { isAlphanumeric($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    // MARK: Typed readers (each records an issue and returns nil when the value is wrong)

    private mutating func object(_ value: JSONValue, at path: String, expected: String) -> Fields? {
        guard case .object(let members) = value else {
            add(path, "expected \(expected), found \(describe(value))")
            return nil
        }
        return Fields(prefix: path == "top level" ? "" : path, members: members)
    }

    private mutating func checkKeys(_ fields: Fields, allowed: [String], at path: String) {
        checkDuplicates(fields, at: path)
        for (index, member) in fields.members.enumerated() where !allowed.contains(member.key) {
            unknownKey(member.key, among: allowed, at: path, index: index)
        }
    }

    private mutating func checkDuplicates(_ fields: Fields, at path: String) {
        var seen = Set<String>()
        for (index, member) in fields.members.enumerated() where !seen.insert(member.key).inserted {
            add(path, "duplicate key \(Self.quoted(member.key))", memberIndex: index)
        }
    }

    private mutating func unknownKey(_ key: String, among known: [String], at path: String, index: Int) {
        let hint = Suggestion.closest(to: key, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
        add(path, "unknown key \(Self.quoted(key))\(hint)", memberIndex: index)
    }

    mutating func string(_ fields: Fields, _ key: String, required: Bool = false) -> String? {
        guard let value = fields.value(key) else {
            if required { add(fields.prefix.isEmpty ? "top level" : fields.prefix, "missing required key \"\(key)\"") }
            return nil
        }
        guard case .string(let text) = value else {
            add(fields.path(key), "expected a string, found \(describe(value))")
            return nil
        }
        return text
    }

    mutating func bool(_ fields: Fields, _ key: String) -> Bool? {
        guard let value = fields.value(key) else { return nil }
        guard case .bool(let flag) = value else {
            add(fields.path(key), "expected true or false, found \(describe(value))")
            return nil
        }
        return flag
    }

    mutating func integer(_ fields: Fields, _ key: String, in range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let value = fields.value(key) else {
            if required { add(fields.prefix.isEmpty ? "top level" : fields.prefix, "missing required key \"\(key)\"") }
            return nil
        }
        guard case .number(let number) = value, let integer = number.integer else {
            add(fields.path(key), "expected an integer, found \(describe(value))")
            return nil
        }
        guard range.contains(integer) else {
            if range.upperBound >= Int(Int32.max) {
                add(fields.path(key), "\(number.text) must be at least \(range.lowerBound)")
            } else {
                add(fields.path(key), "\(number.text) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return nil
        }
        return integer
    }

    /// A duration in seconds: a number > 0 and at most `maxSeconds`.
    mutating func seconds(_ fields: Fields, _ key: String) -> Double? {
        guard let value = fields.value(key) else { return nil }
        guard case .number(let number) = value else {
            add(fields.path(key), "expected a number of seconds, found \(describe(value))")
            return nil
        }
        guard number.double > 0 else {
            add(fields.path(key), "\(number.text) must be greater than 0 seconds")
            return nil
        }
        guard number.double <= Self.maxSeconds else {
            add(fields.path(key), "\(number.text) is more than \(Int(Self.maxSeconds)) seconds")
            return nil
        }
        return number.double
    }

    /// A restart delay: seconds, and at least `minRestartDelay`.
    private mutating func delay(_ fields: Fields, _ key: String) -> Double? {
        guard let value = seconds(fields, key) else { return nil }
        guard value >= Self.minRestartDelay else {
            add(fields.path(key), "\(JSONNumber(value).text) is shorter than the 0.001 s (1 ms) a restart delay needs at least")
            return nil
        }
        return value
    }

    /// A number > 0 (not necessarily whole), at most 1e9.
    mutating func positiveNumber(_ fields: Fields, _ key: String) -> Double? {
        guard let value = fields.value(key) else { return nil }
        guard case .number(let number) = value else {
            add(fields.path(key), "expected a number, found \(describe(value))")
            return nil
        }
        guard number.double > 0, number.double <= 1e9 else {
            add(fields.path(key), "\(number.text) must be greater than 0 and at most 1000000000")
            return nil
        }
        return number.double
    }

    /// An array of CIDR strings (`allow`, `deny`).
    private mutating func cidrList(_ fields: Fields, _ key: String) -> [CIDR]? {
        guard let value = fields.value(key) else { return nil }
        let path = fields.path(key)
        guard case .array(let items) = value else {
            add(path, "expected an array of addresses or CIDR blocks, found \(describe(value))")
            return nil
        }
        if items.isEmpty {
            add(path, "is empty; list at least one address or block (or remove the key)")
            return nil
        }
        var blocks: [CIDR] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item, let block = CIDR(parsing: text) else {
                add("\(path)[\(index)]", "\(describe(item)) is not an address or CIDR block (e.g. \"10.0.0.0/8\", \"::1\")")
                continue
            }
            blocks.append(block)
        }
        return blocks
    }

    private mutating func parseHost(_ host: String, at path: String) -> IPAddress? {
        guard let address = IPAddress(parsing: host) else {
            add(path, "\(Self.quoted(host)) is not an IPv4 or IPv6 address or \"localhost\"")
            return nil
        }
        return address
    }

    func describe(_ value: JSONValue) -> String {
        switch value {
        case .array, .object: return value.typeDescription
        default: return value.excerpt()
        }
    }

    /// Every issue in the order of what it is about in the file: by the position of the field
    /// its path names (a member's index in its object, an element's in its array), a missing
    /// key after everything its object holds; issues at the same place keep the order found.
    private mutating func sortIssuesIntoFileOrder() {
        let order = positions.indices.sorted { a, b in
            let (pa, pb) = (positions[a], positions[b])
            return pa == pb ? a < b : pa.lexicographicallyPrecedes(pb)
        }
        issues = order.map { issues[$0] }
        positions = order.map { positions[$0] }
    }

    /// Where `path` (`services[2].restart.initialDelay`, `status`, `top level`) points in the
    /// document, as indices; `memberIndex` adds the index of the member an issue is about in
    /// the object the path names (an unknown or duplicate key). A path not in the document, or
    /// a missing key, sorts last within its object.
    private func position(of path: String, memberIndex: Int?) -> [Int] {
        var indices: [Int] = []
        var current = root
        func step(_ key: String) -> Bool {
            guard case .object(let members) = current, let index = members.firstIndex(where: { $0.key == key }) else { return false }
            indices.append(index)
            current = members[index].value
            return true
        }
        if path != "top level" && !path.isEmpty {
            for token in path.split(separator: ".") {
                var name = Substring(token)
                var subscripts: [Int] = []
                while let open = name.lastIndex(of: "["), name.last == "]", let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                    subscripts.insert(index, at: 0)
                    name = name[..<open]
                }
                if !name.isEmpty, !step(String(name)) { return indices + [Int.max] }
                for index in subscripts {
                    guard case .array(let items) = current, index < items.count else { return indices + [Int.max] }
                    indices.append(index)
                    current = items[index]
                }
            }
        }
        if let memberIndex {
            indices.append(memberIndex)
        } else if issuesMissingKey {
            indices.append(Int.max - 1)
        }
        return indices
    }

    /// Set while an issue about a missing key is recorded (it goes after its object's members).
    private var issuesMissingKey = false

    mutating func add(_ path: String, _ message: String, memberIndex: Int? = nil) {
        issuesMissingKey = message.hasPrefix("missing required key")
        issues.append(ConfigIssue(path, message))
        positions.append(position(of: path, memberIndex: memberIndex))
        issuesMissingKey = false
    }

    mutating func warn(_ path: String, _ message: String) {
        warnings.append(ConfigIssue(path, message))
    }
}

/// An object's members with the path that names them in messages.
struct Fields {
    /// `services[1]`, `status`, or "" for the top level.
    let prefix: String
    let members: [JSONMember]

    func value(_ key: String) -> JSONValue? { members.first(where: { $0.key == key })?.value }
    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggestion {
    /// The candidate closest to `word` (case-insensitive optimal string alignment distance),
    /// if it is close enough to be a likely typo. A candidate whose length differs from the
    /// word's by more than the distance allowed cannot match and is skipped before any table is
    /// built, so a megabyte-long unknown key costs nothing.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let longest = candidates.map(\.count).max() ?? 0
        guard word.utf8.count <= 4 * (longest + 3) else { return nil }  // characters ≤ UTF-8 bytes
        let lowered = Array(word.lowercased())
        var best: (String, Int)?
        for candidate in candidates {
            let target = Array(candidate.lowercased())
            let limit = max(1, min(3, candidate.count / 3))
            guard abs(lowered.count - target.count) <= limit else { continue }
            let distance = editDistance(lowered, target)
            if distance <= limit, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Levenshtein distance that counts an adjacent transposition as one edit, in three rows.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var twoBack = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], twoBack[j - 2] + 1)
                }
            }
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        return previous[b.count]
    }
}
