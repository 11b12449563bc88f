// The error of a bad command-line argument: one line naming the option and what is wrong.

/// A command-line mistake; printed with the command's usage line, exit 64.
public struct UsageError: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
