// How a target runs its check: as a libFuzzer binary (with -D FUZZING; a broken property aborts,
// so libFuzzer saves the input) or as a replayer of files and folders.
import Foundation
import Portvisor
#if FUZZING
import CLibFuzzer
#endif

/// The entry point shared by the executables under `Fuzz/`.
public enum FuzzDriver {
    /// Runs `check` under libFuzzer when built with `-D FUZZING`, else replays the arguments.
    public static func main(_ check: any FuzzCheck.Type) -> Never {
        #if FUZZING
        current = check
        var argc = CommandLine.argc
        var argv = Optional(CommandLine.unsafeArgv)
        exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
        #else
        replay(check, paths: Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    #if FUZZING
    /// The target being fuzzed; set once by `main` before libFuzzer starts calling back.
    nonisolated(unsafe) static var current: any FuzzCheck.Type = ConfigCheck.self
    #endif

    /// Replays every file given, and every file under every folder given; exits 0 when all
    /// properties hold, 1 when one does not, 2 on a usage error or an unreadable path.
    static func replay(_ check: any FuzzCheck.Type, paths arguments: [String]) -> Never {
        guard !arguments.isEmpty, !arguments.contains(where: { $0.hasPrefix("-") }) else {
            print("usage: \(CommandLine.arguments[0]) FILE|FOLDER...  (replays inputs; build with -D FUZZING for libFuzzer)")
            exit(2)
        }
        var failures = 0, count = 0
        for path in arguments {
            guard let files = FuzzFiles.list(path) else {
                print("\(path): cannot read")
                exit(2)
            }
            for file in files {
                count += 1
                guard let input = FuzzFiles.read(file) else {
                    print("\(file): cannot read")
                    exit(2)
                }
                do {
                    try check.check(input)
                } catch {
                    failures += 1
                    print("FAIL \(file): \(error.message)")
                }
            }
        }
        print("\(check.name): \(count) inputs replayed, \(failures) failed")
        exit(failures == 0 ? 0 : 1)
    }
}

/// Listing and reading fuzz inputs (also used by the replay tests).
public enum FuzzFiles {
    /// `path` itself when it is a file; the visible regular files below it, sorted, when it is
    /// a folder; nil when it does not exist.
    public static func list(_ path: String) -> [String]? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return nil }
        guard isFolder.boolValue else { return [path] }
        guard let walker = FileManager.default.enumerator(atPath: path) else { return nil }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            let full = path + "/" + relative
            let hidden = relative.split(separator: "/").contains { $0.hasPrefix(".") }
            var nested: ObjCBool = false
            if !hidden, FileManager.default.fileExists(atPath: full, isDirectory: &nested), !nested.boolValue { files.append(full) }
        }
        return files.sorted()
    }

    /// The file's bytes (at most 1 MiB), or nil. Not `FileManager.contents(atPath:)`: under
    /// AddressSanitizer it leaks a 4 KiB buffer for every empty file it reads.
    public static func read(_ path: String) -> [UInt8]? {
        try? FileReader.readSmallFile(path, limit: 1 << 20)
    }
}

#if FUZZING
/// One libFuzzer input: checks it, aborts with the message when a property is broken. The
/// symbol is also what libFuzzer's own `main` refers to (linked in, though SwiftPM's replaces it).
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let check = FuzzDriver.current
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try check.check(input)
    } catch {
        FileHandle.standardError.write(Data("\n\(check.name): property violated: \(error.message)\n".utf8))
        abort()
    }
    return 0
}
#endif
