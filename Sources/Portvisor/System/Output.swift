// Unbuffered writes to stdout and stderr, so lines from threads never interleave mid-line and
// nothing is lost when the process exits.
import Glibc

public enum Output {
    /// Writes `text` to stdout, with a newline when `newline` is true.
    public static func out(_ text: String, newline: Bool = true) { write(1, newline ? text + "\n" : text) }

    /// Writes `text` and a newline to stderr.
    public static func err(_ text: String) { write(2, text + "\n") }

    /// Writes all of `text` to `fd`, retrying partial writes and EINTR; gives up on other errors.
    public static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in writeAll(fd, UnsafeRawBufferPointer(buffer)) }
    }

    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, 1000)
            } else {
                return
            }
        }
    }
}
