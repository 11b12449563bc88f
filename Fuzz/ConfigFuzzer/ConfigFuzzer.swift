// ConfigFuzzer: services.json (ConfigLoader.parse and the JSON round trip). Built with -D FUZZING it is a libFuzzer
// binary; otherwise it replays the files and folders given. Properties: FuzzChecks/ConfigCheck.swift.
import FuzzChecks

@main enum Entry {
    static func main() { FuzzDriver.main(ConfigCheck.self) }
}
