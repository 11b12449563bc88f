// Port classification at the exact boundaries, /etc/services parsing, and port warnings.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct PortRegistryTests {
    @Test(arguments: [
        (0, PortRange.dynamic), (1, .wellKnown), (1023, .wellKnown), (1024, .registered),
        (49151, .registered), (49152, .dynamic), (65535, .dynamic),
    ])
    func rangeBoundaries(port: Int, range: PortRange) {
        #expect(PortRange.classify(port) == range)
    }

    @Test func rangeNames() {
        #expect(PortRange.allCases.map(\.rawValue) == ["well-known", "registered", "dynamic"])
    }

    static let fixture = """
    # Network services, Internet style
    tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
    echo\t\t7/tcp
    echo\t\t7/udp
    discard\t\t9/tcp\t\tsink null
    daytime 13/tcp
      # an indented comment
    bootps\t\t67/udp
    http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
    www-alt\t\t80/tcp
    broken line
    bad\t\t99999/tcp
    sctp-only\t\t100/sctp
    crlf\t\t101/tcp\r
    """

    @Test func servicesDatabaseParsing() {
        let database = ServicesDatabase.parse(Self.fixture)
        #expect(database.tcp == [1: "tcpmux", 7: "echo", 9: "discard", 13: "daytime", 80: "http", 101: "crlf"])
        #expect(database.udp == [7: "echo", 67: "bootps"])
    }

    @Test func registeredNameAndMismatchWarning() {
        let environment = PortEnvironment(tcpNames: ServicesDatabase.parse(Self.fixture).tcp, canBindPrivilegedPorts: true)
        #expect(PortRegistry.report(port: 7, kind: "echo", in: environment)
            == PortReport(range: .wellKnown, registeredName: "echo", warnings: []))
        #expect(PortRegistry.report(port: 13, kind: "echo", in: environment)
            == PortReport(range: .wellKnown, registeredName: "daytime",
                          warnings: [#"port 13 is "daytime" in /etc/services, not "echo""#]))
        #expect(PortRegistry.report(port: 67, kind: "echo", in: environment).registeredName == nil)  // udp only
    }

    @Test func privilegeWarning() {
        let unprivileged = PortEnvironment(canBindPrivilegedPorts: false)
        #expect(PortRegistry.report(port: 1023, kind: "echo", in: unprivileged).warnings == [
            "port 1023 is below 1024 (ip_unprivileged_port_start): binding it needs root or CAP_NET_BIND_SERVICE",
        ])
        #expect(PortRegistry.report(port: 1024, kind: "echo", in: unprivileged).warnings == [])
        let root = PortEnvironment(canBindPrivilegedPorts: true)
        #expect(PortRegistry.report(port: 80, kind: "echo", in: root).warnings == [])
        let lowered = PortEnvironment(unprivilegedPortStart: 80, canBindPrivilegedPorts: false)
        #expect(PortRegistry.report(port: 80, kind: "echo", in: lowered).warnings == [])
        #expect(PortRegistry.report(port: 79, kind: "echo", in: lowered).warnings.count == 1)
    }

    @Test func ephemeralRangeWarning() {
        let environment = PortEnvironment(ephemeralRange: 32768...60999)
        #expect(PortRegistry.report(port: 32767, kind: "echo", in: environment).warnings == [])
        #expect(PortRegistry.report(port: 32768, kind: "echo", in: environment).warnings == [
            "port 32768 is in the kernel's ephemeral range 32768-60999: outgoing connections may take it first",
        ])
        #expect(PortRegistry.report(port: 60999, kind: "echo", in: environment).warnings.count == 1)
        #expect(PortRegistry.report(port: 61000, kind: "echo", in: environment).warnings == [])
    }

    @Test func portZeroHasNoWarnings() {
        let environment = PortEnvironment(tcpNames: [0: "x"], ephemeralRange: 0...65535, canBindPrivilegedPorts: false)
        #expect(PortRegistry.report(port: 0, kind: "echo", in: environment)
            == PortReport(range: .dynamic, registeredName: nil, warnings: []))
    }

    @Test func procRangeParsing() {
        #expect(PortEnvironment.parseRange("32768\t60999\n") == 32768...60999)
        #expect(PortEnvironment.parseRange("garbage") == nil)
        #expect(PortEnvironment.parseRange("5 4") == nil)
    }

    @Test func thisMachineIsReadable() {
        let environment = PortEnvironment.current()
        #expect(environment.unprivilegedPortStart >= 0)
        if let ephemeral = environment.ephemeralRange { #expect(ephemeral.lowerBound > 0) }
    }
}
