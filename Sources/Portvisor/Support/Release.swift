// The release this library is: the version status, logs and `--version` report.

/// Portvisor's version, in one place for the library and the command line.
public enum Release {
    public static let version = "0.1.0"
}
