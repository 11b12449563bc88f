// A small, strict argument parser driven by CommandSpec: `--opt VALUE`, `--opt=VALUE`, flags,
// positionals, `--` to end options. Every mistake becomes a UsageError with one clear line.
import Portvisor


/// The parsed arguments of one command.
public struct ParsedArguments: Sendable, Equatable {
    public var options: [String: String] = [:]
    public var flags: Set<String> = []
    public var positionals: [String] = []
    public var wantsHelp = false

    public func value(_ name: String) -> String? { options[name] }
    public func has(_ flag: String) -> Bool { flags.contains(flag) }
}

public enum ArgumentParser {
    /// Parses `arguments` (without the command name) against `spec`.
    public static func parse(_ arguments: [String], for spec: CommandSpec) throws(UsageError) -> ParsedArguments {
        var result = ParsedArguments()
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                result.positionals.append(argument)
                continue
            }
            if argument == "--" { optionsEnded = true; continue }
            if argument == "-h" || argument == "--help" { result.wantsHelp = true; continue }
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            guard let option = spec.options.first(where: { $0.name == name }) else {
                let hint = Suggestion.closest(to: name, in: spec.options.map(\.name)).map { " (did you mean \($0)?)" } ?? ""
                throw UsageError("unknown option \(name)\(hint)")
            }
            if let valueName = option.valueName {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError("\(name) needs a value (\(valueName))") }
                    value = arguments[index]
                    index += 1
                }
                if !option.choices.isEmpty && !option.choices.contains(value) {
                    throw UsageError("\(name): \"\(value)\" is not one of \(option.choices.joined(separator: ", "))")
                }
                if result.options[name] != nil { throw UsageError("\(name) given twice") }
                result.options[name] = value
            } else {
                if inlineValue != nil { throw UsageError("\(name) takes no value") }
                result.flags.insert(name)
            }
        }
        if !result.wantsHelp {
            let required = spec.arguments.filter { !$0.optional }.count
            if result.positionals.count < required {
                throw UsageError("missing \(spec.arguments[result.positionals.count].name)")
            }
            if result.positionals.count > spec.arguments.count && spec.arguments.last?.repeats != true {
                throw UsageError("unexpected argument \"\(result.positionals[spec.arguments.count])\"")
            }
        }
        return result
    }
}
