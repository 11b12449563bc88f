// swift-tools-version: 6.0
// Portvisor: a multi-service port supervisor. No package dependencies: the toolchain only.
import PackageDescription

let fuzzers = ["ConfigFuzzer", "HTTPRequestFuzzer", "AckLineFuzzer", "CIDRFuzzer", "ZoneRulesFuzzer"]

let package = Package(
    name: "Portvisor",
    products: [
        .executable(name: "portvisor", targets: ["portvisor"]),
        .library(name: "Portvisor", targets: ["Portvisor"]),
    ],
    targets: [
        // System headers Glibc does not export to Swift (epoll, eventfd, signalfd, accept4).
        .target(name: "CPortvisor"),
        // Everything: config, system layer, event loop, services, supervisor, status, client.
        // Release builds drop the *runtime* exclusivity checks (the compile-time ones stay, and
        // debug and test builds keep both): on the echo path they were 35% of all instructions
        // (callgrind: 1,800 per round trip with, see docs/performance.md for without). Loop state
        // is confined to its thread by design, which is what those checks would catch.
        .target(name: "Portvisor", dependencies: ["CPortvisor"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // The command line: a thin wrapper around the library.
        .executableTarget(name: "portvisor", dependencies: ["Portvisor"]),
        .testTarget(name: "PortvisorTests", dependencies: ["Portvisor", "CPortvisor", "FuzzChecks"]),
        // Fuzzing (docs/fuzzing.md): the properties each target checks, and one executable per
        // target, a libFuzzer binary when built with -D FUZZING and a corpus replayer otherwise.
        .target(name: "FuzzChecks", dependencies: ["Portvisor", "CLibFuzzer"], path: "Fuzz/FuzzChecks"),
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
    ] + fuzzers.map { .executableTarget(name: $0, dependencies: ["FuzzChecks"], path: "Fuzz/\($0)") },
    swiftLanguageModes: [.v6]
)
