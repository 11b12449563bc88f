// CIDRFuzzer: allow/deny address blocks. Built with -D FUZZING it is a libFuzzer
// binary; otherwise it replays the files and folders given. Properties: FuzzChecks/CIDRCheck.swift.
import FuzzChecks

@main enum Entry {
    static func main() { FuzzDriver.main(CIDRCheck.self) }
}
