// The spawn helper on real processes: the child's environment, signal state, descriptors and
// process group are exactly what SPEC §8 says, read back from the child's own /proc.
import Foundation
import Glibc
import Testing
@testable import Portvisor

@Suite struct SpawnTests {
    /// Runs `script` under /bin/sh with stdout to a pipe; returns its output and end.
    func run(_ script: String, environment: [String] = ["PATH=/usr/bin:/bin"], extra: [(fd: Int32, blocking: Bool)] = [],
             directory: String? = nil, listenPID: Bool = false) throws -> (output: String, end: ChildEnd, pid: Int32) {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: Spawner.stackSize, alignment: 16)
        defer { stack.deallocate() }
        let (readEnd, writeEnd) = try Syscall.pipe()
        defer { close(readEnd) }
        var request = SpawnRequest(path: "/bin/sh", arguments: ["sh", "-c", script], environment: environment,
                                   descriptors: [(-1, false), (writeEnd, true), (writeEnd, true)] + extra)
        request.directory = directory
        request.listenPID = listenPID
        let child = try Spawner.spawn(request, stack: stack)
        close(writeEnd)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(readEnd, &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        var end: ChildEnd?
        let deadline = Date().addingTimeInterval(5)
        while end == nil && Date() < deadline {
            end = Spawner.reap(child)
            if end == nil { usleep(1000) }
        }
        return (String(decoding: output, as: UTF8.self), try #require(end), child.pid)
    }

    @Test func exactlyTheGivenEnvironmentAndTheExitCode() throws {
        let result = try run("env | sort; exit 3", environment: ["PATH=/usr/bin:/bin", "A=1", "B=two words"])
        #expect(result.output.split(separator: "\n").filter { !$0.hasPrefix("PWD=") && !$0.hasPrefix("SHLVL=") && !$0.hasPrefix("_=") }
                == ["A=1", "B=two words", "PATH=/usr/bin:/bin"])
        #expect(result.end == .exited(3))
        #expect(result.end.description == "exited 3")
    }

    @Test func anEmptyMaskDefaultDispositionsItsOwnGroupAndOnlyItsDescriptors() throws {
        // The test process ignores SIGPIPE (as Portvisor does) and blocks signals in this thread.
        Syscall.ignoreSIGPIPE()
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        defer { pthread_sigmask(SIG_UNBLOCK, &set, nil) }
        let result = try run("grep -E '^(SigBlk|SigIgn)' /proc/self/status; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; ps -o pgid= -p $$; echo $$")
        let lines = result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("SigBlk:\t0000000000000000"))
        #expect(lines.contains("SigIgn:\t0000000000000000"))
        #expect(lines.contains("0 1 2 3"))  // 3 is ls's own directory handle
        #expect(lines.count >= 5 && lines[3] == lines[4])  // its own process group, led by itself
    }

    /// The spawner reads which signals are not at their default once, and again when told of a
    /// change: a disposition set after the first spawn still reaches the child at SIG_DFL. (SIGURG:
    /// its default is to be ignored, so nothing in this process changes while it is SIG_IGN.)
    @Test func aDispositionChangedAfterTheFirstSpawnIsStillReset() throws {
        _ = try run("true")
        signal(SIGURG, SIG_IGN)
        Spawner.dispositionsChanged()
        defer { signal(SIGURG, SIG_DFL); Spawner.dispositionsChanged() }
        let result = try run("grep -E '^SigIgn' /proc/self/status")
        #expect(result.output == "SigIgn:\t0000000000000000\n")
    }

    /// Waits (poll on the pidfd, 5 s at most) for `child` to end, and reaps it.
    func end(of child: SpawnedChild) -> ChildEnd? {
        var entry = pollfd(fd: child.pidfd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 5000) == 1 else { return nil }
        return Spawner.reap(child)
    }

    /// A detached launch returns before the child's execve: the launcher keeps the child's memory
    /// until the kernel has cleared its tid, frees it at once for children that ran, and reports
    /// a failed exec when that child's end is reaped.
    @Test func aDetachedLaunchFreesItsMemoryAndReportsAFailedExecAtTheEnd() throws {
        let launcher = ProgramLauncher()
        func launch(_ command: [String]) throws -> SpawnedChild {
            try launcher.start(ProgramOptions(command: command, stderr: .null), identity: ResolvedIdentity(), service: "t", variables: [],
                               stdin: (-1, false), stdout: (-1, false), wait: false).child
        }
        var children: [SpawnedChild] = []
        for _ in 0..<20 { children.append(try launch(["/bin/sh", "-c", "exit 4"])) }
        for child in children {
            #expect(end(of: child) == .exited(4))
            #expect(launcher.ended(child) == nil)
        }
        #expect(launcher.launchingCount == 0)
        let failing = try launch(["/nonexistent/program"])
        #expect(end(of: failing) == .exited(127))
        let failure = try #require(launcher.ended(failing))
        #expect(failure.step == "exec")
        #expect(failure.errno == ENOENT)
        #expect(launcher.launchingCount == 0)
    }

    @Test func listedDescriptorsInPlaceAndListenPID() throws {
        let (extraRead, extraWrite) = try Syscall.pipe(nonBlocking: true)
        defer { close(extraRead); close(extraWrite) }
        let result = try run("echo $LISTEN_PID $$; cat /proc/self/fdinfo/3 | grep flags", extra: [(extraWrite, false)], listenPID: true)
        let lines = result.output.split(separator: "\n")
        let pids = lines.first?.split(separator: " ")
        #expect(pids?.count == 2 && pids?[0] == pids?[1])
        // Not made blocking: O_NONBLOCK (04000 octal) stays set on descriptor 3.
        let flags = lines.last.flatMap { Int($0.split(separator: "\t").last ?? "", radix: 8) } ?? 0
        #expect(flags & 0o4000 != 0)
    }

    @Test func failuresNameTheStep() throws {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: Spawner.stackSize, alignment: 16)
        defer { stack.deallocate() }
        var request = SpawnRequest(path: "/nonexistent/program", arguments: ["x"], environment: [], descriptors: [])
        #expect(throws: SpawnError.self) { try Spawner.spawn(request, stack: stack) }
        do { _ = try Spawner.spawn(request, stack: stack) } catch { #expect(error.description == "exec: No such file or directory (errno: 2)") }
        request.path = "/bin/true"
        request.directory = "/nonexistent"
        do { _ = try Spawner.spawn(request, stack: stack) } catch { #expect(error.step == "chdir") }
    }

    @Test func killedChildrenSayBySignal() throws {
        let result = try run("kill -SEGV $$")
        #expect(result.end == .killed(signal: SIGSEGV, core: false) || result.end == .killed(signal: SIGSEGV, core: true))
        #expect(result.end.description.hasPrefix("killed by SIGSEGV"))
    }
}
