// qotd (RFC 865): on accept, one quote followed by CRLF, then close. `quotes` is required and
// served round-robin; a quote may span several lines but stays under 512 bytes. Over UDP each
// datagram is answered with the next quote.

extension KindName {
    public static let qotd: KindName = "qotd"
}

public struct QotdOptions: KindOptions, Equatable {
    /// Longest quote: RFC 865 asks for under 512 characters.
    public static let maxQuoteBytes = 511
    /// Served round-robin, each followed by CRLF; never empty. A quote may span lines.
    public var quotes: [String]
    public init(quotes: [String]) { self.quotes = quotes }
}

enum QotdKind: StreamKind, DatagramKind {
    static let name = KindName.qotd
    typealias Runtime = QotdRuntime
    typealias UDPRuntime = QotdDatagramRuntime
    static let summary = "RFC 865: a quote from `quotes`, round-robin, then close"
    static let optionKeys = ["quotes"]
    static let transports: [TransportProtocol] = [.tcp, .udp]
    static var defaultOptions: any KindOptions { QotdOptions(quotes: ["Simplicity is prerequisite for reliability."]) }

    static func options(_ fields: Fields, _ validator: inout ConfigValidator) -> any KindOptions {
        guard let value = fields.value("quotes") else {
            validator.add(fields.prefix, "missing required key \"quotes\" (kind qotd)")
            return QotdOptions(quotes: [])
        }
        let path = fields.path("quotes")
        guard case .array(let items) = value else {
            validator.add(path, "expected an array of strings, found \(validator.describe(value))")
            return QotdOptions(quotes: [])
        }
        if items.isEmpty { validator.add(path, "must hold at least one quote") }
        var quotes: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let text) = item else {
                validator.add("\(path)[\(i)]", "expected a string, found \(validator.describe(item))")
                continue
            }
            if text.isEmpty {
                validator.add("\(path)[\(i)]", "is empty")
            } else if text.utf8.count > QotdOptions.maxQuoteBytes {
                validator.add("\(path)[\(i)]", "is \(text.utf8.count) bytes; a quote must be under 512")
            } else {
                quotes.append(text)
            }
        }
        return QotdOptions(quotes: quotes)
    }

    static func service(_ config: ServiceConfig, stats: (any KindStats)?) -> QotdService {
        QotdService((config.options as? QotdOptions)?.quotes ?? [])
    }

    static func datagramService(_ config: ServiceConfig) -> QotdService { service(config, stats: nil) }
}

/// What serves qotd on its worker (concrete, so the engine is compiled for qotd).
final class QotdRuntime: StreamRuntime {
    typealias Kind = QotdKind
    let engine: StreamEngine<QotdService>
    init(engine: StreamEngine<QotdService>) { self.engine = engine }
}

final class QotdDatagramRuntime: DatagramRuntime {
    typealias Kind = QotdKind
    let engine: DatagramEngine<QotdService>
    init(engine: DatagramEngine<QotdService>) { self.engine = engine }
}

/// The quotes of one service, encoded once. Loop-thread only.
public struct QuoteRotation {
    private let quotes: [[UInt8]]
    private var next = 0

    public init(_ quotes: [String]) {
        self.quotes = quotes.isEmpty ? [Array("\r\n".utf8)] : quotes.map { Array(($0 + "\r\n").utf8) }
    }

    public mutating func nextQuote() -> [UInt8] {
        defer { next = (next + 1) % quotes.count }
        return quotes[next]
    }
}

public struct QotdService: StreamService, DatagramService {
    var rotation: QuoteRotation

    public init(_ quotes: [String]) { rotation = QuoteRotation(quotes) }

    public mutating func open(wall: WallTime) -> (GreetingConnection, Step) {
        (GreetingConnection(), Step(.bytes(rotation.nextQuote()), then: .finish))
    }

    public mutating func reply(to request: UnsafeRawBufferPointer, wall: WallTime) -> DatagramReply {
        .bytes(rotation.nextQuote())
    }
}
