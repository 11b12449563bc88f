// Signals arrive as data: they are blocked in every thread (the mask is inherited, so block
// them before starting any thread) and read from a signalfd by the main loop.
import CPortvisor
import Glibc

public final class SignalReceiver {
    public let fd: Int32

    /// Blocks `signals` for this thread and those it starts, and opens a signalfd for them.
    public init(_ signals: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        if result != 0 { throw SystemError("pthread_sigmask", errno: result) }
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        if fd < 0 { throw SystemError("signalfd", errno: cp_errno()) }
        self.fd = fd
    }

    deinit { Syscall.close(fd) }

    /// The next pending signal, or nil when none is pending.
    public func next() -> Int32? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            let count = withUnsafeMutableBytes(of: &info) { read(fd, $0.baseAddress, size) }
            if count == size { return Int32(info.ssi_signo) }
            if count < 0 && cp_errno() == EINTR { continue }
            return nil
        }
    }

    /// Waits up to `timeoutMillis` (-1: forever) for `fd` or any of `others` to be readable.
    /// Returns the readable descriptors.
    public func wait(also others: [Int32] = [], timeoutMillis: Int32) -> [Int32] {
        var fds = ([fd] + others).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), timeoutMillis)
        guard ready > 0 else { return [] }
        return fds.filter { $0.revents != 0 }.map(\.fd)
    }

    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        default: return "signal \(signal)"
        }
    }
}

/// The signal numbers Portvisor handles, by their C names.
public enum Signals {
    public static let SIGINT = Glibc.SIGINT
    public static let SIGTERM = Glibc.SIGTERM
    public static let SIGHUP = Glibc.SIGHUP
    public static let SIGUSR1 = Glibc.SIGUSR1
    public static let SIGUSR2 = Glibc.SIGUSR2
    public static let SIGKILL = Glibc.SIGKILL
    public static let SIGSTOP = Glibc.SIGSTOP
    public static let SIGCONT = Glibc.SIGCONT
    public static let SIGCHLD = Glibc.SIGCHLD
}
