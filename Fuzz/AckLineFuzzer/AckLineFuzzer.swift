// AckLineFuzzer: the sentence service's acknowledgement line. Built with -D FUZZING it is a libFuzzer
// binary; otherwise it replays the files and folders given. Properties: FuzzChecks/AckLineCheck.swift.
import FuzzChecks

@main enum Entry {
    static func main() { FuzzDriver.main(AckLineCheck.self) }
}
