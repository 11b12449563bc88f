// Reading small files (the config, /etc/services, /proc entries) with every failure named:
// missing, not a regular file, unreadable, or larger than the caller's limit.
import CPortvisor
import Glibc

/// Why a file could not be read.
public enum FileReadError: Error, Sendable, Equatable {
    /// open(2) failed (ENOENT, EACCES, …).
    case cannotOpen(SystemError)
    /// The path is a directory, device, FIFO or socket; the text names which.
    case notRegularFile(String)
    /// The file holds more than the limit; `size` is what fstat or reading found.
    case tooLarge(size: Int)
    /// read(2) failed.
    case readFailed(SystemError)
}

extension FileReadError {
    /// One phrase for messages: "No such file or directory", "a directory, not a regular file".
    public var reason: String {
        switch self {
        case .cannotOpen(let error), .readFailed(let error): return error.reason
        case .notRegularFile(let kind): return "\(kind), not a regular file"
        case .tooLarge(let size): return "too large (\(size) bytes)"
        }
    }
}

public enum FileReader {
    /// Reads a whole regular file of at most `limit` bytes. Opens with O_NONBLOCK so a FIFO
    /// path cannot hang the caller; anything but a regular file is refused before reading.
    public static func readSmallFile(_ path: String, limit: Int) throws(FileReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 { throw .cannotOpen(SystemError("open", errno: cp_errno())) }
        defer { Syscall.close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw .readFailed(SystemError("fstat", errno: cp_errno())) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else { throw .notRegularFile(describeFileType(type)) }
        if Int(info.st_size) > limit { throw .tooLarge(size: Int(info.st_size)) }
        var bytes: [UInt8] = []
        let chunkSize = 65536
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let result: IOResult
            do {
                result = try Syscall.read(fd, chunk.baseAddress!, chunkSize)
            } catch {
                throw .readFailed(error)
            }
            guard case .done(let count) = result else { continue }  // a regular file never blocks
            if count == 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
            if bytes.count > limit { throw .tooLarge(size: bytes.count) }
        }
        return bytes
    }

    static func describeFileType(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
