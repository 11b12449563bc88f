// The per-service invariants of an accepted config: every value within the range
// docs/configuration.md gives for its key, so the runtime never sees an out-of-range setting.
import Portvisor

/// Range checks for one validated `ServiceConfig`.
enum ServiceCheck {
    static let maxSeconds = 1_000_000_000.0

    static func check(_ service: ServiceConfig) throws(FuzzFailure) {
        let name = service.name
        let bytes = Array(name.utf8)
        let alphanumeric: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || (($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A) }
        try expect((1...64).contains(bytes.count) && alphanumeric(bytes[0])
                   && bytes.allSatisfy { alphanumeric($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D },
                   "invalid name \(HTTPRequestCheck.quoted(name)) accepted")
        try expect((0...65535).contains(service.port), "\(name): port \(service.port)")
        try expect(service.maxConnections >= 1, "\(name): maxConnections \(service.maxConnections)")
        try expect(service.maxConnectionsPerSource.map { $0 >= 1 } ?? true, "\(name): maxConnectionsPerSource")
        try expect(service.maxConnectionRatePerSource.map { $0 > 0 && $0 <= 1e9 } ?? true, "\(name): maxConnectionRatePerSource")
        try expect(service.access.allow.map { !$0.isEmpty } ?? true, "\(name): empty allow list accepted")
        try checkSeconds(service.idleTimeout, "\(name).idleTimeout")
        try checkSeconds(service.writeTimeout, "\(name).writeTimeout")
        try checkSeconds(service.restart.initialDelay, "\(name).restart.initialDelay")
        try checkSeconds(service.restart.maxDelay, "\(name).restart.maxDelay")
        try checkSeconds(service.restart.resetAfter, "\(name).restart.resetAfter")
        try expect(service.restart.maxRestarts.map { $0 >= 0 } ?? true, "\(name): negative maxRestarts")
        try checkOptions(service.options, kind: service.kind, name: name)
        try expect(service.transport == .tcp || KindRegistry.udpNames.contains(service.kind.rawValue), "\(name): UDP accepted for kind \(service.kind)")
    }

    static func checkOptions(_ options: any KindOptions, kind: KindName, name: String) throws(FuzzFailure) {
        switch options {
        case let daytime as DaytimeOptions:
            try expect(kind == .daytime, "\(name): daytime options on kind \(kind)")
            if case .strftime(let pattern) = daytime.format {
                try expect(pattern.contains("%") && pattern.utf8.count <= 256, "\(name): strftime pattern \(pattern)")
            }
            if case .named(let zone) = daytime.timeZone {
                try expect(ZoneRules.named(zone) != nil, "\(name): unknown zone \(zone) accepted")
            }
        case let echo as EchoOptions:
            try expect(kind == .echo, "\(name): echo options on kind \(kind)")
            try expect((1...(1 << 30)).contains(echo.maxBufferedBytes), "\(name): maxBufferedBytes \(echo.maxBufferedBytes)")
        case let sentence as SentenceOptions:
            try expect(kind == .sentence, "\(name): sentence options on kind \(kind)")
            try expect(!sentence.sentences.isEmpty, "\(name): no sentences")
            for text in sentence.sentences {
                let bytes = Array(text.utf8)
                try expect((1...SentenceOptions.maxSentenceBytes).contains(bytes.count) && !bytes.contains { $0 == 0x0A || $0 == 0x0D },
                           "\(name): sentence \(HTTPRequestCheck.quoted(text)) accepted")
            }
            try expect((1...(1 << 20)).contains(sentence.maxAckBytes), "\(name): maxAckBytes \(sentence.maxAckBytes)")
            try checkSeconds(sentence.ackTimeout, "\(name).ackTimeout")
        case let qotd as QotdOptions:
            try expect(kind == .qotd, "\(name): qotd options on kind \(kind)")
            try expect(!qotd.quotes.isEmpty, "\(name): no quotes")
            for quote in qotd.quotes {
                try expect((1...QotdOptions.maxQuoteBytes).contains(quote.utf8.count), "\(name): quote of \(quote.utf8.count) bytes accepted")
            }
        default:
            try expect([.discard, .chargen, .time].contains(kind) && options is NoOptions, "\(name): \(options) on kind \(kind)")
        }
    }

    static func checkSeconds(_ value: Double, _ what: String) throws(FuzzFailure) {
        try expect(value > 0 && value <= maxSeconds, "\(what): \(value) seconds accepted")
    }
}
