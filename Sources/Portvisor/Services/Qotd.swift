// qotd (RFC 865): on accept, one quote followed by CRLF, then close. Quotes are served
// round-robin; a quote may span several lines.

/// The quotes of one service, encoded once. Loop-thread only.
public struct QuoteRotation {
    private let quotes: [[UInt8]]
    private var next = 0

    public init(_ quotes: [String]) {
        self.quotes = quotes.map { Array(($0 + "\r\n").utf8) }
    }

    public mutating func nextQuote() -> [UInt8] {
        defer { next = (next + 1) % quotes.count }
        return quotes[next]
    }
}
