// Runs the built `portvisor` binary (or any program) for end-to-end tests: pipes for stdin,
// stdout and stderr, reads bounded by deadlines, and a kill + reap on every exit path.
import CPortvisor
import Foundation
import Glibc
@testable import Portvisor

/// A test failure raised by the support code (timeouts, spawn failures).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private var stdinFD: Int32
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private(set) var stdout = [UInt8]()
    private(set) var stderr = [UInt8]()
    private var stdoutOpen = true
    private var stderrOpen = true
    private var exitStatus: Int32?
    /// Bytes for stdin not written yet; `pump` writes them as the pipe takes them.
    private var pendingInput: [UInt8] = []
    private var closeInputWhenWritten = false

    /// The `portvisor` executable built next to the test bundle.
    static var portvisorPath: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("portvisor").path
    }

    /// Starts `portvisor ARGS` with `environment` added to this process's environment.
    static func portvisor(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                          setup: String? = nil) throws -> ChildProcess {
        try ChildProcess(portvisorPath, arguments, environment: environment, directory: directory, shellSetup: setup)
    }

    private static let controlCounter = Locked(0)

    /// A fresh control socket path in this test run's directory (mode 0700, created by `run`).
    static func nextControlPath() -> String {
        let number = controlCounter.withLock { value -> Int in
            value += 1
            return value
        }
        return "/tmp/portvisor-tests-\(getpid())/\(number).sock"
    }

    /// Starts `path ARGS`. With `shellSetup`, runs `/bin/sh -c 'SETUP; exec "$0" "$@"'` instead,
    /// e.g. to lower `ulimit -n` for the child only.
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
         shellSetup: String? = nil) throws {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard cp_pipe2(&inPipe, O_CLOEXEC) == 0, cp_pipe2(&outPipe, O_CLOEXEC) == 0, cp_pipe2(&errPipe, O_CLOEXEC) == 0 else {
            throw TestFailure("pipe2 failed: errno \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let directory { cp_spawn_addchdir(&actions, directory) }

        var env = ProcessInfo.processInfo.environment
        // Each child's default control socket is its own, under this test run's directory:
        // parallel supervisors never meet on the machine's default path.
        env["PORTVISOR_CONTROL"] = Self.nextControlPath()
        for (key, value) in environment { env[key] = value }
        let argv: [String]
        let program: String
        if let shellSetup {
            program = "/bin/sh"
            argv = ["/bin/sh", "-c", "\(shellSetup); exec \"$0\" \"$@\"", path] + arguments
        } else {
            program = path
            argv = [path] + arguments
        }
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, program, &actions, nil, &cArgs, &cEnv)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw TestFailure("posix_spawn \(program) failed: \(rc)")
        }
        pid = child
        stdinFD = inPipe[1]
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        _ = fcntl(stdoutFD, F_SETFL, fcntl(stdoutFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(stderrFD, F_SETFL, fcntl(stderrFD, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        if stdinFD >= 0 { close(stdinFD) }
        close(stdoutFD)
        close(stderrFD)
    }

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Queues `text` for stdin; it is written while the output pipes are read, so a child
    /// that echoes its input can never deadlock against us.
    func write(_ text: String) {
        pendingInput += Array(text.utf8)
        flushInput()
    }

    /// Closes stdin once everything queued has been written.
    func closeStdin() {
        closeInputWhenWritten = true
        flushInput()
    }

    private func flushInput() {
        guard stdinFD >= 0 else { return }
        if !pendingInput.isEmpty {
            _ = fcntl(stdinFD, F_SETFL, fcntl(stdinFD, F_GETFL) | O_NONBLOCK)
            let n = pendingInput.withUnsafeBytes { Glibc.write(stdinFD, $0.baseAddress, $0.count) }
            if n > 0 { pendingInput.removeFirst(n) }
            if n < 0 && errno != EAGAIN && errno != EINTR { pendingInput = [] }
        }
        if pendingInput.isEmpty && closeInputWhenWritten {
            close(stdinFD)
            stdinFD = -1
        }
    }

    func signal(_ signal: Int32) { kill(pid, signal) }

    /// Reads whatever is available, waiting at most `timeout` seconds for something to arrive.
    @discardableResult
    func pump(timeout: Double) -> Bool {
        flushInput()
        var fds: [pollfd] = []
        if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
        if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
        if fds.isEmpty { return false }
        let wait = pendingInput.isEmpty ? timeout : min(timeout, 0.01)  // come back to feed stdin
        let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, wait * 1000)))
        if ready <= 0 { return false }
        var buffer = [UInt8](repeating: 0, count: 65536)
        for entry in fds where entry.revents != 0 {
            let count = read(entry.fd, &buffer, buffer.count)
            if count > 0 {
                if entry.fd == stdoutFD { stdout += buffer[0..<count] } else { stderr += buffer[0..<count] }
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                if entry.fd == stdoutFD { stdoutOpen = false } else { stderrOpen = false }
            }
        }
        return true
    }

    /// Waits until stderr contains `text`; returns the stderr so far. Throws after `timeout` s.
    @discardableResult
    func waitForStderr(_ text: String, timeout: Double = 10) throws -> String {
        try waitFor(timeout: timeout, what: "stderr to contain \"\(text)\"") { self.stderrText.contains(text) }
        return stderrText
    }

    /// Waits until stdout contains `text`.
    @discardableResult
    func waitForStdout(_ text: String, timeout: Double = 10) throws -> String {
        try waitFor(timeout: timeout, what: "stdout to contain \"\(text)\"") { self.stdoutText.contains(text) }
        return stdoutText
    }

    private func waitFor(timeout: Double, what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || (!stdoutOpen && !stderrOpen) {
                throw TestFailure("timed out waiting for \(what); stderr:\n\(stderrText)\nstdout:\n\(stdoutText)")
            }
            pump(timeout: min(left, 0.5))
        }
    }

    /// Reads both pipes to EOF and reaps the child; throws (after killing it) past `timeout`.
    @discardableResult
    func waitForExit(timeout: Double = 20) throws -> Int32 {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while stdoutOpen || stderrOpen {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { break }
            pump(timeout: min(left, 0.5))
        }
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus = code
                return code
            }
            if deadline.timeIntervalSinceNow <= 0 {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                exitStatus = -1
                throw TestFailure("process did not exit within \(timeout) s; stderr:\n\(stderrText)")
            }
            var none = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&none, 0, 10)  // reaping: the pipes are closed, only the exit is left
        }
    }

    /// Runs `portvisor ARGS` to completion: exit code, stdout, stderr.
    static func runPortvisor(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                             stdin: String? = nil, timeout: Double = 20) throws -> (code: Int32, out: String, err: String) {
        let child = try portvisor(arguments, environment: environment, directory: directory)
        if let stdin { child.write(stdin) }
        child.closeStdin()
        let code = try child.waitForExit(timeout: timeout)
        return (code, child.stdoutText, child.stderrText)
    }
}
