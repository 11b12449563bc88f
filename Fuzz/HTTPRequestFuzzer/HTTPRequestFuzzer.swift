// HTTPRequestFuzzer: the status endpoint's request head. Built with -D FUZZING it is a libFuzzer
// binary; otherwise it replays the files and folders given. Properties: FuzzChecks/HTTPRequestCheck.swift.
import FuzzChecks

@main enum Entry {
    static func main() { FuzzDriver.main(HTTPRequestCheck.self) }
}
