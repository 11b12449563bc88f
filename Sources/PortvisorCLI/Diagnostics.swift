// Error and usage lines on their way to stderr. Most quote something from outside — an argument,
// a config path, a peer's answer — so each line is escaped with TextSanitizer on the way out: it
// stays one line and cannot steer the terminal, whatever it quotes.
import Portvisor

enum Diagnostics {
    /// Writes `line` and a newline to stderr, every character that is not printable escaped.
    static func error(_ line: String) {
        Output.err(TextSanitizer.escaped(line))
    }
}
