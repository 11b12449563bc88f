// The inetd built-ins over TCP, byte for byte: discard (RFC 863), chargen (RFC 864),
// time (RFC 868) and qotd (RFC 865).
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// The chargen stream computed independently of the server's pattern table.
func chargenReference(_ count: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    var line = 0
    while bytes.count < count {
        for column in 0..<72 { bytes.append(UInt8(32 + (line + column) % 95)) }
        bytes += [13, 10]
        line += 1
    }
    return Array(bytes.prefix(count))
}

@Suite struct InetdKindsTests {
    @Test func discardReadsAndDrops() throws {
        let server = try TestSupervisor(#"{ "name": "d", "kind": "discard", "port": 0 }"#)
        let client = try server.connect("d")
        try client.send(randomBytes(100_000, seed: 3))
        client.shutdownWrite()
        #expect(try client.readToEnd() == [])
        let snapshot = try server.waitFor("d") { $0.live == 0 }
        #expect(snapshot.bytesIn == 100_000 && snapshot.bytesOut == 0)
    }

    @Test func chargenRotatesSeventyTwoCharacterLines() throws {
        let server = try TestSupervisor(#"{ "name": "c", "kind": "chargen", "port": 0 }"#)
        let client = try server.connect("c")
        let received = try client.read(count: 20_000)
        #expect(sameBytes(received, chargenReference(20_000)))
        #expect(String(decoding: received[0..<74], as: UTF8.self) == ##" !"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg"## + "\r\n")
        client.close()
        _ = try server.waitFor("c") { $0.live == 0 }
    }

    @Test func chargenAcrossTheCycle() {
        let pattern = ChargenPattern.shared
        #expect(ChargenPattern.cycleLength == 95 * 74)
        let offset = ChargenPattern.cycleLength - 100
        #expect(Array(pattern.slice(from: offset, count: 300)) == Array(chargenReference(ChargenPattern.cycleLength + 200).suffix(300)))
    }

    @Test func timeIsSecondsSince1900() throws {
        let server = try TestSupervisor(#"{ "name": "t", "kind": "time", "port": 0 }"#)
        let before = Clock.wall().seconds
        let bytes = try server.connect("t").readToEnd()
        let after = Clock.wall().seconds
        #expect(bytes.count == 4)
        let value = bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect((before + 2_208_988_800...after + 2_208_988_800).contains(Int64(value)))
        #expect(TimeProtocol.bytes(unixSeconds: 0) == [0x83, 0xAA, 0x7E, 0x80])  // 2208988800
    }

    @Test func qotdServesQuotesRoundRobin() throws {
        let server = try TestSupervisor(#"{ "name": "q", "kind": "qotd", "port": 0, "quotes": ["One.", "Two lines\r\nof wisdom."] }"#)
        #expect(try server.connect("q").readToEndText() == "One.\r\n")
        #expect(try server.connect("q").readToEndText() == "Two lines\r\nof wisdom.\r\n")
        #expect(try server.connect("q").readToEndText() == "One.\r\n")
    }

    @Test func configRules() throws {
        func problems(_ body: String) -> [String] {
            do {
                _ = try ConfigLoader.parse(Array(#"{ "status": false, "services": [ \#(body) ] }"#.utf8), path: "s.json")
                return []
            } catch { return error.lines }
        }
        #expect(problems(#"{ "name": "q", "kind": "qotd", "port": 1 }"#) == [#"s.json: services[0]: missing required key "quotes" (kind qotd)"#])
        #expect(problems(#"{ "name": "q", "kind": "qotd", "port": 1, "quotes": [] }"#) == ["s.json: services[0].quotes: must hold at least one quote"])
        let long = String(repeating: "x", count: 512)
        #expect(problems(#"{ "name": "q", "kind": "qotd", "port": 1, "quotes": ["\#(long)"] }"#) == ["s.json: services[0].quotes[0]: is 512 bytes; a quote must be under 512"])
        #expect(problems(#"{ "name": "q", "kind": "qotd", "port": 1, "quotes": ["\#(long.dropLast())"] }"#) == [])
        #expect(problems(#"{ "name": "c", "kind": "chargen", "port": 1, "quotes": ["x"] }"#) == [#"s.json: services[0].quotes: "quotes" is an option of kind "qotd", not of "chargen""#])
        #expect(problems(#"{ "name": "s", "kind": "sentence", "port": 1, "protocol": "udp" }"#) == [#"s.json: services[0].protocol: kind "sentence" has no UDP form; use "tcp""#])
        #expect(problems(#"{ "name": "e", "kind": "echo", "port": 1, "protocol": "sctp" }"#) == [#"s.json: services[0].protocol: "sctp" is not "tcp" or "udp""#])
        // TCP and UDP may share a port number; two UDP services may not.
        #expect(problems(#"{ "name": "a", "kind": "echo", "port": 7 }, { "name": "b", "kind": "echo", "port": 7, "protocol": "udp" }"#) == [])
        #expect(problems(#"{ "name": "a", "kind": "echo", "port": 7, "protocol": "udp" }, { "name": "b", "kind": "daytime", "port": 7, "protocol": "udp" }"#)
            == [#"s.json: services[1].port: 7 (udp) on 127.0.0.1 collides with services[0] ("a") on 127.0.0.1"#])
    }
}
