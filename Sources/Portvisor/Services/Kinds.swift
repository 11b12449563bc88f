// The registry: every kind Portvisor serves, in the order `check`, `--help`, the man page and
// the completions list them. Adding a kind is one file in this folder and one line here.

enum Kinds {
    static let all: [KindEntry] = [
        KindEntry(DaytimeKind.self),
        KindEntry(EchoKind.self),
        KindEntry(SentenceKind.self),
        KindEntry(DiscardKind.self),
        KindEntry(ChargenKind.self),
        KindEntry(TimeKind.self),
        KindEntry(QotdKind.self),
        KindEntry(ExecKind.self),
        KindEntry(DaemonKind.self),
        KindEntry(ProxyKind.self),
    ]

    private static let byName: [KindName: KindEntry] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    static func named(_ name: KindName) -> KindEntry? { byName[name] }
}

/// One row of the registry: a kind's static description and entry points, as values.
struct KindEntry: Sendable {
    let name: KindName
    let summary: String
    let optionKeys: [String]
    let transports: [TransportProtocol]
    let inapplicableKeys: [InapplicableKey]
    let defaultOptions: any KindOptions
    let readOptions: @Sendable (Fields, inout ConfigValidator) -> any KindOptions
    let makeStats: @Sendable () -> (any KindStats)?
    let makeRuntime: @Sendable (ServiceConfig, EngineContext) -> any ServiceRuntime

    init<Kind: ServiceKind>(_ kind: Kind.Type) {
        name = Kind.name
        summary = Kind.summary
        optionKeys = Kind.optionKeys
        transports = Kind.transports
        inapplicableKeys = Kind.inapplicableKeys
        defaultOptions = Kind.defaultOptions
        readOptions = { fields, validator in Kind.options(fields, &validator) }
        makeStats = { Kind.makeStats() }
        makeRuntime = { config, context in Kind.makeRuntime(config, context: context) }
    }
}

/// What the command line and the docs learn about the kinds.
public enum KindRegistry {
    /// Every kind's name, in registry order.
    public static var names: [String] { Kinds.all.map(\.name.rawValue) }

    /// One line describing `name`, nil for an unknown kind.
    public static func summary(of name: String) -> String? { Kinds.named(KindName(rawValue: name))?.summary }

    /// The kinds that also serve UDP.
    public static var udpNames: [String] { Kinds.all.filter { $0.transports.contains(.udp) }.map(\.name.rawValue) }

    /// The transports `name` serves (`tcp`, `udp`).
    public static func transports(of name: String) -> [String] { Kinds.named(KindName(rawValue: name))?.transports.map(\.rawValue) ?? [] }

    /// The kind's own config keys.
    public static func optionKeys(of name: String) -> [String] { Kinds.named(KindName(rawValue: name))?.optionKeys ?? [] }

    /// Whether `name` is a known kind.
    public static func contains(_ name: String) -> Bool { Kinds.named(KindName(rawValue: name)) != nil }
}
