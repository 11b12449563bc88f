// The errno values code above the system layer tests for, by their C names, so that nothing
// there needs the C library's module.
import Glibc

public enum Errno {
    public static let EACCES = Glibc.EACCES
    public static let EPERM = Glibc.EPERM
    public static let EADDRINUSE = Glibc.EADDRINUSE
    public static let EADDRNOTAVAIL = Glibc.EADDRNOTAVAIL
    public static let EAFNOSUPPORT = Glibc.EAFNOSUPPORT
    public static let EPROTOTYPE = Glibc.EPROTOTYPE
    public static let ECONNABORTED = Glibc.ECONNABORTED
    public static let ECONNREFUSED = Glibc.ECONNREFUSED
    public static let ECONNRESET = Glibc.ECONNRESET
    public static let EPIPE = Glibc.EPIPE
    public static let EPROTO = Glibc.EPROTO
    public static let ENETDOWN = Glibc.ENETDOWN
    public static let ENETUNREACH = Glibc.ENETUNREACH
    public static let ENOPROTOOPT = Glibc.ENOPROTOOPT
    public static let EHOSTDOWN = Glibc.EHOSTDOWN
    public static let EHOSTUNREACH = Glibc.EHOSTUNREACH
    public static let ENONET = Glibc.ENONET
    public static let ETIMEDOUT = Glibc.ETIMEDOUT
    public static let EMFILE = Glibc.EMFILE
    public static let ENFILE = Glibc.ENFILE
    public static let ENOBUFS = Glibc.ENOBUFS
    public static let ENOMEM = Glibc.ENOMEM
    public static let ENOENT = Glibc.ENOENT
    public static let EAGAIN = Glibc.EAGAIN
    public static let EINVAL = Glibc.EINVAL
    public static let ESRCH = Glibc.ESRCH
    public static let ECHILD = Glibc.ECHILD
    public static let ENOTDIR = Glibc.ENOTDIR
    public static let EEXIST = Glibc.EEXIST
}
