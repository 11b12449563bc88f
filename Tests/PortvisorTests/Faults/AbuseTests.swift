// Hostile input: seeded mutations of services.json, and malformed requests to the status
// endpoint. Every outcome must be a clean answer — never a crash, a hang, or a vague error.
import Foundation
import Glibc
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct AbuseTests {
    static let base = #"""
    { "status": { "host": "127.0.0.1", "port": 20080 },
      "services": [
        { "name": "daytime", "kind": "daytime", "port": 20000, "format": "rfc867", "timeZone": "Europe/Paris" },
        { "name": "echo", "kind": "echo", "port": 20007, "maxBufferedBytes": 4096, "allow": ["127.0.0.0/8"] },
        { "name": "sentence", "kind": "sentence", "port": 61000, "sentences": ["One.", "Two."], "ackTimeout": 2,
          "restart": { "initialDelay": 0.1, "maxRestarts": 3 } } ] }
    """#

    /// One seeded mutation of `base`.
    static func mutate(_ text: String, _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = Array(text.utf8)
        let replacements = ["\"x\"", "true", "null", "[]", "{}", "-1", "70000", "1e309", "0.5", "\"\"", "[1,2]", "99999999999999999999",
                            "\"\\u0000\"", "\"🙂\"", "{\"port\": 1}"]
        let keys = ["name", "kind", "port", "host", "enabled", "maxConnections", "idleTimeout", "restart", "format", "prot", "kinds",
                    "sentence", "maxBufferedBytes", "status", "services", "allow", "deny", "writeTimeout"]
        switch Int.random(in: 0..<9, using: &generator) {
        case 0:  // replace a value after a colon
            let colons = bytes.indices.filter { bytes[$0] == UInt8(ascii: ":") }
            guard let colon = colons.randomElement(using: &generator) else { break }
            var end = colon + 1
            while end < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}")].contains(bytes[end]) { end += 1 }
            bytes.replaceSubrange((colon + 1)..<end, with: Array((" " + replacements.randomElement(using: &generator)!).utf8))
        case 1:  // rename a key
            let text = String(decoding: bytes, as: UTF8.self)
            let key = keys.randomElement(using: &generator)!, other = keys.randomElement(using: &generator)!
            bytes = Array(text.replacingOccurrences(of: "\"\(key)\"", with: "\"\(other)\"").utf8)
        case 2:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
        case 3:  // flip bytes
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
        case 4:  // deep nesting
            let depth = Int.random(in: 60...5000, using: &generator)
            bytes = Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        case 5:  // duplicate a service
            let text = String(decoding: bytes, as: UTF8.self)
            bytes = Array(text.replacingOccurrences(of: "\"services\": [", with: "\"services\": [ { \"name\": \"echo\", \"kind\": \"echo\", \"port\": 20007 },").utf8)
        case 6:  // huge file
            bytes += [UInt8](repeating: 0x20, count: 1_048_577)
        case 7:  // duplicate keys
            let text = String(decoding: bytes, as: UTF8.self)
            bytes = Array(text.replacingOccurrences(of: "\"port\": 20007", with: "\"port\": 20007, \"port\": 1").utf8)
        default:  // insert junk
            let at = Int.random(in: 0...bytes.count, using: &generator)
            bytes.insert(contentsOf: Array(replacements.randomElement(using: &generator)!.utf8), at: at)
        }
        return bytes
    }

    @Test func configMutationsLoadOrFailWithOneLinePerField() {
        var generator = SeededGenerator(seed: 2026)
        var accepted = 0, rejected = 0
        var slowest = 0.0
        for _ in 0..<1000 {
            let bytes = Self.mutate(Self.base, &generator)
            let start = Date()
            do {
                let config = try ConfigLoader.parse(bytes, path: "services.json")
                #expect(Set(config.services.map(\.name)).count == config.services.count)
                accepted += 1
            } catch {
                rejected += 1
                #expect(!error.lines.isEmpty)
                for line in error.lines {
                    #expect(line.hasPrefix("services.json: ") && !line.contains("\n") && line.count < 600, "\(line.prefix(200))")
                }
            }
            slowest = max(slowest, Date().timeIntervalSince(start))
        }
        FaultScale.report("config-mutations", "1000 mutations: \(accepted) loaded, \(rejected) rejected; slowest \(String(format: "%.1f", slowest * 1000)) ms")
        #expect(slowest < 2)
    }

    @Test func configMutationsThroughTheBinary() throws {
        var generator = SeededGenerator(seed: 77)
        let dir = try TempDirectory()
        for i in 0..<FaultScale.pick(short: 20, full: 200) {
            let path = dir.file("m\(i).json")
            try Data(Self.mutate(Self.base, &generator)).write(to: URL(fileURLWithPath: path))
            let result = try ChildProcess.runPortvisor(["check", "--config", path], timeout: 10)
            #expect(result.code == 0 || result.code == 78, "exit \(result.code): \(result.err.prefix(300))")
            if result.code == 78 {
                #expect(result.out.isEmpty)
                for line in result.err.split(separator: "\n") { #expect(line.hasPrefix("\(path): ")) }
            }
            #expect(!result.err.contains("Fatal error") && !result.err.contains("Backtrace"))
        }
    }

    /// Malformed requests of every sort; only 400/404/405/408/431 (or a clean close), and a
    /// valid request afterwards is answered.
    @Test func statusEndpointAbuse() throws {
        let count = FaultScale.pick(short: 1000, full: 10_000)
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let port = try server.statusPort()
        var generator = SeededGenerator(seed: 404)
        var codes: [Int: Int] = [:]
        for i in 0..<count {
            let request: [UInt8]
            switch i % 8 {
            case 0: request = (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: request = Array(("GET /" + String(repeating: "a", count: Int.random(in: 8000...12000, using: &generator)) + " HTTP/1.1\r\n\r\n").utf8)
            case 2: request = Array(("GET /status HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: Int.random(in: 101...1200, using: &generator)) + "\r\n").utf8)
            case 3: request = Array("GET /../../../etc/passwd HTTP/1.1\r\n\r\n".utf8)
            case 4: request = Array("\(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"].randomElement(using: &generator)!) /status HTTP/1.1\r\n\r\n".utf8)
            case 5: request = Array("GET /status HTTP/1.1\r\nBroken header\r\n\r\n".utf8)
            case 6: request = Array("GET /status HTTP/9.9\r\n\r\n".utf8)
            default: request = Array("GET /%00%ff?\u{7}x HTTP/1.1\r\n\r\n".utf8)
            }
            guard let client = try? TestClient(port: port) else { Issue.record("endpoint stopped accepting at request \(i)"); break }
            try? client.send(request, timeout: 2)
            client.shutdownWrite()  // a head that never completes ends at end of file, not after 5 s
            let answer = String(decoding: (try? client.readToEnd(timeout: 10)) ?? [], as: UTF8.self)
            codes[statusCode(answer), default: 0] += 1
        }
        FaultScale.report("status-abuse", "\(count) requests: " + codes.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "closed" : String($0.key)) x\($0.value)" }.joined(separator: ", "))
        #expect(Set(codes.keys).isSubset(of: [0, 400, 404, 405, 408, 431]))
        #expect(try server.get("/healthz") == (200, "ok\n"))
    }

    @Test(.enabled(if: FaultScale.full)) func slowlorisConnectionsAreCutAtTheDeadline() throws {
        let server = try TestSupervisor(#"{ "name": "e", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let port = try server.statusPort()
        let clients = try (0..<8).map { _ in try TestClient(port: port) }
        let start = Date()
        for round in 0..<6 {
            for client in clients { try? client.send(round == 0 ? "GET /status HTTP/1.1\r\n" : "X-\(round): y\r\n") }
            _ = eventually(timeout: 1) { false }
        }
        var codes: [Int] = []
        for client in clients { codes.append(statusCode(String(decoding: (try? client.readToEnd(timeout: 5)) ?? [], as: UTF8.self))) }
        FaultScale.report("slowloris", "8 slow heads answered \(Set(codes)) after \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        #expect(codes.allSatisfy { $0 == 408 || $0 == 0 })
        #expect(try server.get("/healthz").0 == 200)
    }
}
