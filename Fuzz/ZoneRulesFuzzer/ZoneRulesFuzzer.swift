// ZoneRulesFuzzer: TZif files and POSIX TZ rules. Built with -D FUZZING it is a libFuzzer
// binary; otherwise it replays the files and folders given. Properties: FuzzChecks/ZoneRulesCheck.swift.
import FuzzChecks

@main enum Entry {
    static func main() { FuzzDriver.main(ZoneRulesCheck.self) }
}
