// What `check` asks the file system about a program and its directory.
import CPortvisor
import Glibc

public enum FileSystem {
    public enum ExecutableCheck: Equatable {
        case ok
        /// stat failed (the reason, e.g. "No such file or directory").
        case missing(String)
        /// A directory, a socket, …
        case notRegular(String)
        case notExecutable
    }

    /// Whether `path` is an executable regular file (for this process's user).
    public static func executableCheck(_ path: String) -> ExecutableCheck {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing(SystemError.describe(errno: cp_errno())) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else { return .notRegular(FileReader.describeFileType(type)) }
        return access(path, X_OK) == 0 ? .ok : .notExecutable
    }

    /// The permission bits of `path` (following links); nil when it cannot be read.
    public static func permissions(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// Whether `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
