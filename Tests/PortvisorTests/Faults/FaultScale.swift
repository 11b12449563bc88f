// How big the fault and abuse suite runs. `swift test` runs the short version on every change;
// `scripts/soak.sh` sets PORTVISOR_FAULTS=full for the figures in docs/reliability.md.
import Foundation

enum FaultScale {
    static let full = ProcessInfo.processInfo.environment["PORTVISOR_FAULTS"] == "full"

    /// `short` normally, `full` under PORTVISOR_FAULTS=full.
    static func pick<T>(short: T, full: T) -> T { Self.full ? full : short }

    /// Prints a figure for the report (visible in `swift test` output).
    static func report(_ name: String, _ text: String) {
        print("FAULTS \(name): \(text)")
    }
}
