// Headless Chromium for the dashboard tests, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: commands go to its fd 3 and answers come from its fd 4, each a
// NUL-terminated JSON message). Every wait is bounded. The browser runs in a process group of
// its own with $HOME in its temporary directory. On close it is asked to quit, then every
// process of its group and its crash handlers (which leave the group) are reaped — a test
// process that ran a Supervisor is a child subreaper, so they come back to it as zombies — or,
// past a deadline, killed, each by its PID; then the temporary directory is removed.
import CPortvisor
import Foundation
import Glibc

final class HeadlessBrowser {
    /// The Chromium binary: Debian's real one (its /usr/bin/chromium is a shell wrapper that adds
    /// flags of its own), else `chromium` on PATH; nil when it is not installed.
    static let executable: String? = {
        let fm = FileManager.default
        if fm.isExecutableFile(atPath: "/usr/lib/chromium/chromium") { return "/usr/lib/chromium/chromium" }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where fm.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }()

    static var isInstalled: Bool { executable != nil }

    let pid: pid_t
    private let commands: Int32   // our end of the browser's fd 3
    private let answers: Int32    // our end of the browser's fd 4
    private let profile: TempDirectory
    private var received: [UInt8] = []
    private var nextID = 0
    private var replies: [Int: [String: Any]] = [:]
    private var reaped = false
    /// Processes of this browser outside its group (crash handlers), found when closing.
    private var helpers: Set<pid_t> = []
    /// Every event the browser has sent so far (method, params, sessionId), in order.
    private(set) var events: [(method: String, params: [String: Any], session: String?)] = []

    init() throws {
        guard let executable = Self.executable else { throw TestFailure("chromium is not installed") }
        profile = try TempDirectory()
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard cp_pipe2(&toBrowser, O_CLOEXEC) == 0 else { throw TestFailure("pipe2: errno \(errno)") }
        guard cp_pipe2(&fromBrowser, O_CLOEXEC) == 0 else {
            Glibc.close(toBrowser[0]); Glibc.close(toBrowser[1])
            throw TestFailure("pipe2: errno \(errno)")
        }
        // The child's ends move to 3 and 4; keep them clear of those numbers so no dup2 is a no-op.
        let childRead = fcntl(toBrowser[0], F_DUPFD_CLOEXEC, 10), childWrite = fcntl(fromBrowser[1], F_DUPFD_CLOEXEC, 10)
        Glibc.close(toBrowser[0]); Glibc.close(fromBrowser[1])
        defer { Glibc.close(childRead); Glibc.close(childWrite) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, profile.file("browser.log"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, childRead, 3)
        posix_spawn_file_actions_adddup2(&actions, childWrite, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let arguments = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                         "--user-data-dir=\(profile.file("profile"))", "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-extensions", "--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio",
                         "--hide-scrollbars", "--force-color-profile=srgb", "about:blank"]
        var cArgs = arguments.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var child: pid_t = 0
        // The crash handler keeps its database under $HOME/.config: keep it in the temporary directory.
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile.path
        environment["XDG_CONFIG_HOME"] = profile.file(".config")
        var cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cEnv.forEach { free($0) } }
        let rc = posix_spawn(&child, executable, &actions, &attributes, &cArgs, &cEnv)
        guard rc == 0 else {
            Glibc.close(toBrowser[1]); Glibc.close(fromBrowser[0])
            throw TestFailure("posix_spawn \(executable): \(rc)")
        }
        pid = child
        commands = toBrowser[1]
        answers = fromBrowser[0]
        _ = fcntl(answers, F_SETFL, fcntl(answers, F_GETFL) | O_NONBLOCK)
        _ = fcntl(commands, F_SETFL, fcntl(commands, F_GETFL) | O_NONBLOCK)
    }

    deinit { close() }

    /// Asks the browser to quit and reaps it and every process of its group; whatever of the
    /// group is still alive after 5 s is killed, each by its PID. The profile goes with `profile`.
    func close() {
        guard !reaped else { return }
        reaped = true
        helpers = processes { _, commandLine in commandLine.contains(profile.path) }.subtracting([pid])
        _ = try? send("Browser.close", timeout: 2)
        Glibc.close(commands)
        Glibc.close(answers)
        if !reapGroup(within: 5) {
            for member in remaining() { kill(member, SIGKILL) }
            _ = reapGroup(within: 2)
        }
    }

    /// Reaps the group's processes that are our children (the browser, and its helpers once
    /// reparented to us) until none of the group is left; false when some are after `seconds`.
    private func reapGroup(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var status: Int32 = 0
            while waitpid(-pid, &status, WNOHANG) > 0 {}
            for helper in helpers { _ = waitpid(helper, &status, WNOHANG) }
            if remaining().isEmpty { return true }
            if Date() >= deadline { return false }
            var none = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&none, 0, 10)  // other processes' exits give us no event to wait on
        }
    }

    /// The browser's processes still there (zombies included): its group (its pid is the group
    /// id) and the helpers seen when closing began.
    private func remaining() -> Set<pid_t> {
        processes { stat, _ in
            // After "pid (comm)": state, ppid, pgrp.
            guard let end = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 2 && pid_t(fields[2]) == pid
        }.union(helpers.filter { FileManager.default.fileExists(atPath: "/proc/\($0)") })
    }

    /// The pids in /proc whose stat line and command line (NULs as spaces) satisfy `matches`.
    private func processes(_ matches: (_ stat: String, _ commandLine: String) -> Bool) -> Set<pid_t> {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return Set(entries.compactMap { entry -> pid_t? in
            guard let member = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8) else { return nil }
            let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline"))) ?? Data()
            let commandLine = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return matches(stat, commandLine) ? member : nil
        })
    }

    /// The browser's own log, for failure messages.
    var log: String { (try? String(contentsOfFile: profile.file("browser.log"), encoding: .utf8)) ?? "" }

    /// Sends one command and returns its result; events that arrive meanwhile are kept in `events`.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: String? = nil, timeout: Double = 10) throws -> [String: Any] {
        nextID += 1
        let id = nextID
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        try write(Array(try JSONSerialization.data(withJSONObject: message)) + [0], timeout: timeout)
        try pump(until: { replies[id] != nil }, timeout: timeout, what: method)
        let reply = replies.removeValue(forKey: id) ?? [:]
        if let error = reply["error"] { throw TestFailure("\(method): \(error)") }
        return reply["result"] as? [String: Any] ?? [:]
    }

    /// Reads what the browser sends until `condition` holds, for at most `timeout` seconds.
    func pump(until condition: () -> Bool, timeout: Double, what: String) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while let end = received.firstIndex(of: 0) {
                let bytes = Data(received[..<end])
                received.removeSubrange(...end)
                guard let json = try JSONSerialization.jsonObject(with: bytes) as? [String: Any] else { continue }
                if let id = json["id"] as? Int {
                    replies[id] = json
                } else if let event = json["method"] as? String {
                    events.append((event, json["params"] as? [String: Any] ?? [:], json["sessionId"] as? String))
                }
            }
            if condition() { return }
            try read(until: deadline, what: what)
        }
    }

    private func write(_ bytes: [UInt8], timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(commands, $0.baseAddress, $0.count) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw TestFailure("write to the browser: errno \(errno)\n\(log)") }
            try wait(for: commands, POLLOUT, until: deadline, what: "the browser to take a command")
        }
    }

    private func read(until deadline: Date, what: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let n = Glibc.read(answers, &buffer, buffer.count)
        if n > 0 { received += buffer[..<n]; return }
        if n == 0 { throw TestFailure("the browser closed its pipe while waiting for \(what)\n\(log)") }
        if errno != EAGAIN && errno != EINTR { throw TestFailure("read from the browser: errno \(errno)") }
        try wait(for: answers, POLLIN, until: deadline, what: what)
    }

    private func wait(for fd: Int32, _ events: Int32, until deadline: Date, what: String) throws {
        let left = deadline.timeIntervalSinceNow
        if left <= 0 { throw TestFailure("timed out waiting for \(what)") }
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        _ = poll(&entry, 1, Int32(min(left, 1) * 1000) + 1)
    }

    /// A new tab of `width`×`height` CSS pixels showing `url`, once its load event has fired.
    func open(_ url: String, width: Int, height: Int, timeout: Double = 10) throws -> BrowserPage {
        let target = try send("Target.createTarget", ["url": "about:blank"])["targetId"] as? String ?? ""
        let session = try send("Target.attachToTarget", ["targetId": target, "flatten": true])["sessionId"] as? String ?? ""
        let page = BrowserPage(browser: self, session: session)
        for domain in ["Page.enable", "Runtime.enable", "Network.enable", "Log.enable"] { try page.send(domain) }
        try page.send("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        let before = events.count
        try page.send("Page.navigate", ["url": url])
        try pump(until: { events[before...].contains { $0.method == "Page.loadEventFired" && $0.session == session } },
                  timeout: timeout, what: "\(url) to load")
        return page
    }
}

/// One tab, attached with a flat session.
final class BrowserPage {
    let browser: HeadlessBrowser
    let session: String

    init(browser: HeadlessBrowser, session: String) {
        self.browser = browser
        self.session = session
    }

    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], timeout: Double = 10) throws -> [String: Any] {
        try browser.send(method, params, session: session, timeout: timeout)
    }

    /// The value of `expression` in the page (a promise is awaited); throws on an exception.
    func evaluate(_ expression: String, timeout: Double = 10) throws -> Any? {
        let result = try send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true], timeout: timeout)
        if let exception = result["exceptionDetails"] { throw TestFailure("evaluate \(expression): \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Waits, in the page, until `expression` is truthy: it is checked now and after every change
    /// of the DOM (a MutationObserver), for at most `timeout` seconds. Returns its value.
    @discardableResult
    func waitFor(_ expression: String, timeout: Double = 6, _ what: String) throws -> Any {
        let script = """
            new Promise((resolve) => {
              const check = () => { try { return (\(expression)) || null; } catch (e) { return null; } };
              const first = check();
              if (first !== null) { resolve(first); return; }
              const observer = new MutationObserver(() => { const v = check(); if (v !== null) { observer.disconnect(); clearTimeout(timer); resolve(v); } });
              const timer = setTimeout(() => { observer.disconnect(); resolve(null); }, \(Int(timeout * 1000)));
              observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
            })
            """
        guard let value = try evaluate(script, timeout: timeout + 2), !(value is NSNull) else {
            let text = (try? evaluate("document.body ? document.body.innerText : ''")) as? String ?? ""
            throw TestFailure("timed out after \(timeout) s waiting for \(what); the page shows:\n\(text.prefix(3000))")
        }
        return value
    }

    /// Clicks the middle of the first element matching `selector` with real mouse events.
    func click(_ selector: String) throws {
        let quoted = String(decoding: try JSONSerialization.data(withJSONObject: [selector]), as: UTF8.self)
        let box = try evaluate("""
            (() => { const e = document.querySelector(\(quoted)[0]); if (!e) return null; e.scrollIntoView({ block: 'center' });
                     const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()
            """) as? [Double]
        guard let box, box.count == 2 else { throw TestFailure("nothing matches \(selector) to click") }
        for type in ["mousePressed", "mouseReleased"] {
            try send("Input.dispatchMouseEvent", ["type": type, "x": box[0], "y": box[1], "button": "left", "clickCount": 1])
        }
    }

    /// A PNG of the viewport.
    func screenshot() throws -> [UInt8] {
        let result = try send("Page.captureScreenshot", ["format": "png"], timeout: 20)
        guard let base64 = result["data"] as? String, let data = Data(base64Encoded: base64) else { throw TestFailure("no screenshot data") }
        return Array(data)
    }

    /// The URLs this page asked for, in order.
    var requestedURLs: [String] {
        browser.events.filter { $0.session == session && $0.method == "Network.requestWillBeSent" }
            .compactMap { ($0.params["request"] as? [String: Any])?["url"] as? String }
    }

    /// Console errors, log errors and uncaught exceptions of this page (a CSP violation is one).
    var errors: [String] {
        browser.events.filter { $0.session == session }.compactMap { event -> String? in
            switch event.method {
            case "Runtime.exceptionThrown": return "exception: \(event.params["exceptionDetails"] ?? "")"
            case "Log.entryAdded":
                guard let entry = event.params["entry"] as? [String: Any], entry["level"] as? String == "error" else { return nil }
                return "log: \(entry["text"] ?? "") \(entry["url"] ?? "")"
            case "Runtime.consoleAPICalled":
                return event.params["type"] as? String == "error" ? "console: \(event.params["args"] ?? "")" : nil
            default: return nil
            }
        }
    }
}
