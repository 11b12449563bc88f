// How the command line finds the supervisor it talks to: the config on disk when it is valid,
// and the control socket (`--control`, else the config's `control`, else the default path)
// whether it is or not — a broken services.json must not take the operator's tools away. The
// control socket's `info` says which config the supervisor really runs and where its status
// endpoint and services are.
import Portvisor

struct Located {
    /// The config on disk, when it loaded.
    var config: PortvisorConfig?
    /// Why it did not (missing, unreadable, invalid).
    var problem: ConfigError?
    /// The control socket to ask; nil when the config turns control off and no --control is given.
    var controlPath: String?
}

enum Locator {
    /// Loads the config without printing, and works out the control socket.
    static func locate(_ parsed: ParsedArguments) -> Located {
        let path = ConfigLoader.resolvePath(option: parsed.value("--config"))
        var located = Located()
        do {
            located.config = try ConfigLoader.load(path: path)
        } catch {
            located.problem = error
        }
        if let explicit = parsed.value("--control") {
            located.controlPath = explicit
        } else if let config = located.config {
            located.controlPath = ControlSocket.path(for: config.control)
        } else {
            located.controlPath = ControlSocket.defaultPath()
        }
        return located
    }

    /// Prints the config's problems as `check` does (with the hint for a missing file).
    static func printProblems(_ error: ConfigError) {
        var lines = error.lines
        if let hint = error.hint, let last = lines.popLast() { lines.append("\(last) (\(hint))") }
        for line in lines { Diagnostics.error(line) }
    }

    /// One line saying the file on disk is broken while a running supervisor was found anyway.
    static func warnAboutFile(_ error: ConfigError, command: String, running: RunningSupervisor) {
        let lines = error.lines
        let first = lines.first ?? "cannot be read"
        let more = lines.count > 1 ? " (and \(lines.count - 1) more; run portvisor check)" : ""
        Diagnostics.error("portvisor \(command): warning: \(first)\(more); using the running supervisor (pid \(running.pid), config \(running.config)) found on its control socket")
    }

    /// The running supervisor on the located control socket, quietly (nil when none answers).
    static func running(_ located: Located) -> RunningSupervisor? {
        guard let path = located.controlPath, case .success(let info) = ControlSocket.ask(path, .info, timeout: 2) else { return nil }
        return RunningSupervisor(info: info)
    }

    /// The first line of a token file; nil when it cannot be read.
    static func token(fromFile path: String?) -> String? {
        guard let path, let bytes = try? FileReader.readSmallFile(path, limit: 64 * 1024) else { return nil }
        var line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }
}
