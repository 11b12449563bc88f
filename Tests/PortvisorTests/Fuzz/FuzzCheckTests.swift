// The fuzz checks themselves: each property rejects what it should, so a passing replay means
// something. (The parsers cannot be made to misbehave here; the predicates and oracles can.)
import Testing
@testable import FuzzChecks
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct FuzzCheckTests {
    @Test func chunkPlansCoverTheInputExactly() {
        let input = Array("GET / HTTP/1.1\r\n\r\n".utf8)
        let plans = ChunkPlans.plans(for: input)
        #expect(plans.count == 6)
        for plan in plans {
            #expect(plan.allSatisfy { !$0.isEmpty })
            #expect(plan.first?.lowerBound == 0 && plan.last?.upperBound == input.count)
            #expect(zip(plan, plan.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        }
        #expect(ChunkPlans.plans(for: input) == plans)  // deterministic
        #expect(ChunkPlans.plans(for: []) == [[]])
    }

    @Test func issueLinesMustNameTheFileAndStayOnOneLine() {
        let file = ConfigCheck.path
        #expect(throws: Never.self) { try ConfigCheck.checkIssueLines(["\(file): top level: x"]) }
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkIssueLines([]) }
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkIssueLines(["other.json: x"]) }
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkIssueLines(["\(file): unknown key \"a\nb\""]) }
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkIssueLines(["\(file): unknown key \"a\rb\""]) }
    }

    @Test func acceptedConfigInvariants() throws {
        let echo = ServiceConfig(name: "e", kind: .echo, port: 7)
        let config = PortvisorConfig(path: ConfigCheck.path, status: nil, services: [echo])
        #expect(throws: Never.self) { try ConfigCheck.checkAccepted(config, input: []) }
        var twice = config
        twice.services.append(ServiceConfig(name: "e", kind: .echo, port: 8))
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkAccepted(twice, input: []) }
        var shared = config
        shared.services.append(ServiceConfig(name: "f", kind: .echo, port: 7))
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkAccepted(shared, input: []) }
        var outOfRange = config
        outOfRange.services[0].port = 65536
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkAccepted(outOfRange, input: []) }
        var junkHost = config
        junkHost.services[0].host = "127.0.0.1\u{0}x"
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkAccepted(junkHost, input: []) }
        var options = config
        options.services[0].options = SentenceOptions(sentences: ["a\r\nb"])
        #expect(throws: FuzzFailure.self) { try ConfigCheck.checkAccepted(options, input: []) }
    }

    @Test func headOracleFindsTheFirstBlankLine() {
        #expect(HTTPRequestCheck.endOfHead(Array("GET / HTTP/1.1\r\n\r\nX".utf8)) == 18)
        #expect(HTTPRequestCheck.endOfHead(Array("GET / HTTP/1.1\n\nX".utf8)) == 16)
        #expect(HTTPRequestCheck.endOfHead(Array("GET / HTTP/1.1\r\n\r".utf8)) == nil)
        let prefix = "GET / HTTP/1.1\r\nX: "
        let over = Array((prefix + String(repeating: "a", count: 8193 - prefix.utf8.count - 4) + "\r\n\r\n").utf8)
        #expect(HTTPRequestCheck.expected(over) == .tooLarge)
        #expect(HTTPRequestCheck.expected(Array(repeating: 0x61, count: 8191)) == .incomplete)
        #expect(HTTPRequestCheck.expected(Array(repeating: 0x61, count: 8192)) == .tooLarge)
    }

    @Test func acceptedRequestInvariants() {
        let good = HTTPRequest(method: "GET", path: "/status", version: "HTTP/1.1", headers: [("Host", "x")])
        #expect(throws: Never.self) { try HTTPRequestCheck.checkAccepted(good) }
        for bad in [
            HTTPRequest(method: "G T", path: "/", version: "HTTP/1.1", headers: []),
            HTTPRequest(method: "GET", path: "/a?b", version: "HTTP/1.1", headers: []),
            HTTPRequest(method: "GET", path: "/", version: "HTTP/2", headers: []),
            HTTPRequest(method: "GET", path: "/", version: "HTTP/1.1", headers: [("Host", " x")]),
            HTTPRequest(method: "GET", path: "/", version: "HTTP/1.1", headers: [("Ho st", "x")]),
            HTTPRequest(method: "GET", path: "/", version: "HTTP/1.1", headers: [("Host", "a\nb")]),
        ] {
            #expect(throws: FuzzFailure.self) { try HTTPRequestCheck.checkAccepted(bad) }
        }
    }

    @Test func ackOracle() {
        let line = Array("ok\nmore".utf8)
        #expect(AckLineCheck.expectedOutcome(line, maxBytes: 3, consumed: 0) == .acknowledged)
        #expect(AckLineCheck.expectedOutcome(line, maxBytes: 2, consumed: 0) == .tooLong)
        #expect(AckLineCheck.expectedOutcome(line, maxBytes: 4, consumed: 2) == .tooLong)
        #expect(AckLineCheck.expectedOutcome(Array("ok".utf8), maxBytes: 3, consumed: 0) == .needMore)
        #expect(AckLineCheck.limits(for: line).allSatisfy { $0.0 >= 1 && $0.1 >= 0 && $0.1 < $0.0 })
    }

    @Test func tzifBuilderGivesAFileTheParserReads() {
        #expect(ZoneRules.parse(ZoneRulesCheck.tzif(footer: Array("CET-1CEST,M3.5.0,M10.5.0/3".utf8)))?.localType(at: 1_782_000_000).abbreviation == "CEST")
        #expect(ZoneRules.parse(ZoneRulesCheck.tzif(footer: []))?.localType(at: 0).abbreviation == "UTC")
    }
}
