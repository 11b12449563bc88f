// swift-tools-version: 6.0
// Portvisor: a multi-service port supervisor. No package dependencies: the toolchain only.
import PackageDescription

let fuzzers = ["ConfigFuzzer", "HTTPRequestFuzzer", "AckLineFuzzer", "CIDRFuzzer", "ZoneRulesFuzzer"]

let package = Package(
    name: "Portvisor",
    products: [
        .executable(name: "portvisor", targets: ["portvisor"]),
        // The supervisor as a library: usable as a dependency (no unsafe flags anywhere).
        .library(name: "Portvisor", targets: ["Portvisor"]),
    ],
    targets: [
        // System headers Glibc does not export to Swift (epoll, eventfd, signalfd, accept4, …).
        .target(name: "CPortvisor"),
        // The supervisor: config, system layer, event loop, service kinds, supervision, status.
        .target(name: "Portvisor", dependencies: ["CPortvisor"]),
        // The load generator behind `portvisor bench`.
        .target(name: "PortvisorBench", dependencies: ["Portvisor"]),
        // The command line: argument parsing, commands, help, man page, completions.
        .target(name: "PortvisorCLI", dependencies: ["Portvisor", "PortvisorBench"]),
        // The executable: main.swift only.
        .executableTarget(name: "portvisor", dependencies: ["PortvisorCLI"]),
        .testTarget(name: "PortvisorTests", dependencies: ["Portvisor", "PortvisorCLI", "PortvisorBench", "CPortvisor", "FuzzChecks"]),
        // Fuzzing (docs/fuzzing.md): the properties each target checks, and one executable per
        // target, a libFuzzer binary when built with -D FUZZING and a corpus replayer otherwise.
        .target(name: "FuzzChecks", dependencies: ["Portvisor", "CLibFuzzer"], path: "Fuzz/FuzzChecks"),
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
    ] + fuzzers.map { .executableTarget(name: $0, dependencies: ["FuzzChecks"], path: "Fuzz/\($0)") },
    swiftLanguageModes: [.v6]
)
