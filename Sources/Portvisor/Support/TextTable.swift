// Left-aligned plain-text tables for the command line (`check`, `status`, `run`'s start-up table).
// Cells often hold text from outside (a status endpoint's JSON, a config): every cell is escaped
// with TextSanitizer, so no cell can steer the terminal or break the table's lines.

/// Rows of cells printed in aligned columns, two spaces apart, with an upper-case header.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(_ header: [String]) { self.header = header }

    public mutating func add(_ row: [String]) { rows.append(row) }

    /// The table as lines joined by "\n" (no trailing newline); trailing spaces trimmed; every
    /// character that is not printable escaped (`\n`, `\u{1B}`, …) before the columns are measured.
    public func render(indent: String = "") -> String {
        let all = ([header] + rows).map { row in row.map(TextSanitizer.escaped) }
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            var line = indent
            for (i, cell) in row.enumerated() {
                line += cell
                guard i < row.count - 1 else { continue }
                let width = i < widths.count ? widths[i] : cell.count  // a row longer than the header
                line += String(repeating: " ", count: width - cell.count + 2)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
