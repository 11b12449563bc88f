// Every validation rule of SPEC §1 with its exact message.
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

/// Validates `json` as "services.json" and returns the printed lines (empty when valid).
private func problems(_ json: String) -> [String] {
    do {
        _ = try ConfigLoader.parse(Array(json.utf8), path: "services.json")
        return []
    } catch {
        return error.lines
    }
}

/// Wraps one service object in a minimal valid file (status off, so port 20080 is free).
private func service(_ body: String) -> String {
    #"{ "status": false, "services": [ \#(body) ] }"#
}

private func load(_ json: String) throws -> PortvisorConfig {
    try ConfigLoader.parse(Array(json.utf8), path: "services.json")
}

@Suite struct ConfigValidatorTests {
    @Test func bundledShapeLoadsWithDefaults() throws {
        let config = try load(#"""
        { "services": [ { "name": "echo", "kind": "echo", "port": 20007 } ] }
        """#)
        #expect(config.status == .default)
        let echo = try #require(config.services.first)
        #expect(echo.host == "127.0.0.1")
        #expect(echo.address == .loopbackV4)
        #expect(echo.enabled)
        #expect(echo.maxConnections == 512)
        #expect(echo.idleTimeout == 300)
        #expect(echo.restart == RestartPolicy(initialDelay: 0.1, maxDelay: 5, resetAfter: 10, maxRestarts: nil))
        #expect(echo.options.isEqual(to: EchoOptions(maxBufferedBytes: 65536)))
    }

    @Test func everyKeyIsRead() throws {
        let config = try load(#"""
        { "status": { "host": "::1", "port": 9000 },
          "services": [
            { "name": "t", "kind": "daytime", "port": 1, "host": "0.0.0.0", "enabled": false,
              "maxConnections": 3, "idleTimeout": 1.5, "format": "rfc867", "timeZone": "Europe/Paris",
              "restart": { "initialDelay": 0.5, "maxDelay": 2, "resetAfter": 4, "maxRestarts": 7 } },
            { "name": "s", "kind": "sentence", "port": 0, "sentences": ["a", "b"], "ackTimeout": 2, "maxAckBytes": 9 },
            { "name": "e", "kind": "echo", "port": 2, "maxBufferedBytes": 10 },
            { "name": "f", "kind": "daytime", "port": 3, "format": "%H:%M", "timeZone": "local" }
          ] }
        """#)
        #expect(config.status == StatusEndpointConfig(host: "::1", address: .loopbackV6, port: 9000))
        let t = config.services[0]
        #expect(t.address == .anyV4 && !t.enabled && t.maxConnections == 3 && t.idleTimeout == 1.5)
        #expect(t.restart == RestartPolicy(initialDelay: 0.5, maxDelay: 2, resetAfter: 4, maxRestarts: 7))
        #expect(t.options.isEqual(to: DaytimeOptions(format: .rfc867, timeZone: .named("Europe/Paris"))))
        #expect(config.services[1].options.isEqual(to: SentenceOptions(sentences: ["a", "b"], ackTimeout: 2, maxAckBytes: 9)))
        #expect(config.services[2].options.isEqual(to: EchoOptions(maxBufferedBytes: 10)))
        #expect(config.services[3].options.isEqual(to: DaytimeOptions(format: .strftime("%H:%M"), timeZone: .local)))
    }

    @Test func statusFalseTurnsTheEndpointOff() throws {
        #expect(try load(service(#"{ "name": "e", "kind": "echo", "port": 1 }"#)).status == nil)
    }

    @Test func fileLevelProblems() {
        #expect(problems("") == ["services.json: the file is empty"])
        #expect(problems(" \n\t") == ["services.json: the file holds only whitespace"])
        #expect(problems("{ \"services\": [ }") == [
            "services.json: not valid JSON: line 1, column 17: unexpected \"}\", expected a value",
        ])
        #expect(problems("[]") == [#"services.json: top level: expected an object with a "services" array, found an array"#])
        #expect(problems("{}") == [#"services.json: top level: missing required key "services""#])
        #expect(problems(#"{ "services": {} }"#) == ["services.json: services: expected an array of services, found an object"])
        #expect(problems(#"{ "services": [] }"#) == ["services.json: services: must hold 1...1024 services, found 0"])
        #expect(problems(#"{ "servics": [] }"#) == [
            #"services.json: top level: unknown key "servics" (did you mean "services"?)"#,
            #"services.json: top level: missing required key "services""#,
        ])
        #expect(problems(#"{ "services": [ 3 ] }"#) == ["services.json: services[0]: expected a service object, found 3"])
    }

    @Test func tooManyServices() {
        let entries = (0..<1025).map { #"{ "name": "s\#($0)", "kind": "echo", "port": 0 }"# }
        #expect(problems(#"{ "services": [ \#(entries.joined(separator: ",")) ] }"#) == [
            "services.json: services: must hold 1...1024 services, found 1025",
        ])
    }

    @Test func requiredKeys() {
        #expect(problems(service("{}")) == [
            #"services.json: services[0]: missing required key "kind""#,
            #"services.json: services[0]: missing required key "name""#,
            #"services.json: services[0]: missing required key "port""#,
        ])
    }

    @Test func unknownKeysWithSuggestions() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "prot": 1 }"#)) == [
            #"services.json: services[0]: unknown key "prot" (did you mean "port"?)"#,
            #"services.json: services[0]: missing required key "port""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "zzz": 1 }"#)) == [
            #"services.json: services[0]: unknown key "zzz""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "MaxConnections": 1 }"#)) == [
            #"services.json: services[0]: unknown key "MaxConnections" (did you mean "maxConnections"?)"#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": { "maxDelays": 1 } }"#)) == [
            #"services.json: services[0].restart: unknown key "maxDelays" (did you mean "maxDelay"?)"#,
        ])
        #expect(problems(#"{ "status": { "hots": "127.0.0.1" }, "services": [ { "name": "e", "kind": "echo", "port": 1 } ] }"#) == [
            #"services.json: status: unknown key "hots" (did you mean "host"?)"#,
        ])
    }

    @Test func duplicateJSONKeys() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "port": 2 }"#)) == [
            #"services.json: services[0]: duplicate key "port""#,
        ])
    }

    /// Found by the config fuzzer (Fuzz/regressions/config/): a key, name, kind, host, format or
    /// zone holding CR or LF used to split its message over several lines.
    @Test func stringsFromTheFileAreQuotedAsJSON() {
        #expect(problems(#"{ "ser\rt": 2, "services": [ { "name": "e", "kind": "echo", "port": 1, "p\"rt\n": 2, "p\"rt\n": 3 } ] }"#) == [
            // In the file's order (issue "Unbreakable II" 14): the first unknown key, then the
            // second, which is also the duplicate.
            #"services.json: top level: unknown key "ser\rt""#,
            #"services.json: services[0]: unknown key "p\"rt\n""#,
            #"services.json: services[0]: duplicate key "p\"rt\n""#,
            #"services.json: services[0]: unknown key "p\"rt\n""#,
        ])
        let lines = problems(service(#"""
            { "name": "a\nb", "kind": "e\u0000\u001fcho", "port": 1, "host": "::1\r" },
            { "name": "d", "kind": "daytime", "port": 2, "format": "\niso", "timeZone": "Europe/\n" }
            """#))
        #expect(lines == [
            #"services.json: services[0].name: "a\nb" is not a valid name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit"#,
            #"services.json: services[0].kind: unknown kind "e\u0000\u001fcho"; known kinds: \#(KindRegistry.names.joined(separator: ", "))"#,
            #"services.json: services[0].host: "::1\r" is not an IPv4 or IPv6 address or "localhost""#,
            #"services.json: services[1].format: "\niso" is not "iso8601", "rfc867", "rfc2822" or a strftime pattern containing "%""#,
            #"services.json: services[1].timeZone: unknown time zone "Europe/\n" (use "UTC", "local" or an IANA name such as "Europe/Paris")"#,
        ])
    }

    @Test func names() {
        #expect(problems(service(#"{ "name": "bad name", "kind": "echo", "port": 1 }"#)) == [
            #"services.json: services[0].name: "bad name" is not a valid name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit"#,
        ])
        #expect(problems(service(#"{ "name": "-x", "kind": "echo", "port": 1 }"#)).count == 1)
        #expect(problems(service(#"{ "name": "", "kind": "echo", "port": 1 }"#)).count == 1)
        let longest = String(repeating: "a", count: 64)
        #expect(problems(service(#"{ "name": "\#(longest)", "kind": "echo", "port": 1 }"#)) == [])
        #expect(problems(service(#"{ "name": "\#(longest)b", "kind": "echo", "port": 1 }"#)).count == 1)
        #expect(problems(service(#"{ "name": "a.b_c-9", "kind": "echo", "port": 1 }"#)) == [])
        #expect(problems(service(#"{ "name": 5, "kind": "echo", "port": 1 }"#)) == [
            "services.json: services[0].name: expected a string, found 5",
        ])
    }

    @Test func duplicateNamesAreReportedOnTheLaterEntry() {
        #expect(problems(service(#"""
            { "name": "e", "kind": "echo", "port": 1 }, { "name": "x", "kind": "echo", "port": 2 },
            { "name": "e", "kind": "daytime", "port": 3 }
            """#)) == [#"services.json: services[2].name: duplicate name "e" (first used by services[0])"#])
    }

    @Test func kinds() {
        #expect(problems(service(#"{ "name": "e", "kind": "ecko", "port": 1 }"#)) == [
            #"services.json: services[0].kind: unknown kind "ecko" (did you mean "echo"?); known kinds: \#(KindRegistry.names.joined(separator: ", "))"#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "http", "port": 1 }"#)) == [
            #"services.json: services[0].kind: unknown kind "http"; known kinds: \#(KindRegistry.names.joined(separator: ", "))"#,
        ])
    }

    @Test func ports() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 70000 }"#)) == [
            "services.json: services[0].port: 70000 is outside 0...65535",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": -1 }"#)) == [
            "services.json: services[0].port: -1 is outside 0...65535",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 2.5 }"#)) == [
            "services.json: services[0].port: expected an integer, found 2.5",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": "80" }"#)) == [
            #"services.json: services[0].port: expected an integer, found "80""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 65535 }"#)) == [])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 0 }"#)) == [])
    }

    @Test func hosts() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "host": "example.com" }"#)) == [
            #"services.json: services[0].host: "example.com" is not an IPv4 or IPv6 address or "localhost""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "host": "127.1" }"#)).count == 1)
        for host in ["localhost", "::", "::1", "0.0.0.0", "10.1.2.3", "fe80::1"] {
            #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "host": "\#(host)" }"#)) == [])
        }
    }

    @Test func commonTypesAndBounds() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "enabled": "yes" }"#)) == [
            #"services.json: services[0].enabled: expected true or false, found "yes""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "maxConnections": 0 }"#)) == [
            "services.json: services[0].maxConnections: 0 must be at least 1",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "idleTimeout": 0 }"#)) == [
            "services.json: services[0].idleTimeout: 0 must be greater than 0 seconds",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "idleTimeout": "5" }"#)) == [
            #"services.json: services[0].idleTimeout: expected a number of seconds, found "5""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "idleTimeout": 1e12 }"#)) == [
            "services.json: services[0].idleTimeout: 1e12 is more than 1000000000 seconds",
        ])
    }

    @Test func restartPolicy() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": 5 }"#)) == [
            "services.json: services[0].restart: expected an object, found 5",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": { "initialDelay": 2, "maxDelay": 1 } }"#)) == [
            "services.json: services[0].restart.maxDelay: 1 is less than initialDelay (2)",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": { "maxRestarts": -1 } }"#)) == [
            "services.json: services[0].restart.maxRestarts: -1 must be at least 0",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": { "maxRestarts": null, "resetAfter": -2 } }"#)) == [
            "services.json: services[0].restart.resetAfter: -2 must be greater than 0 seconds",
        ])
    }

    @Test func maxDelayDefaultsToAtLeastInitialDelay() throws {
        let config = try load(service(#"{ "name": "e", "kind": "echo", "port": 1, "restart": { "initialDelay": 10 } }"#))
        #expect(config.services[0].restart.maxDelay == 10)
    }

    @Test func optionsOfAnotherKind() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "sentence": "hi", "format": "rfc867" }"#)) == [
            #"services.json: services[0].sentence: "sentence" is an option of kind "sentence", not of "echo""#,
            #"services.json: services[0].format: "format" is an option of kind "daytime", not of "echo""#,
        ])
        #expect(problems(service(#"{ "name": "d", "kind": "daytime", "port": 1, "maxBufferedBytes": 5 }"#)) == [
            // proxy has maxBufferedBytes too (issue "Your own programs"): both are named.
            #"services.json: services[0].maxBufferedBytes: "maxBufferedBytes" is an option of kinds "echo" and "proxy", not of "daytime""#,
        ])
    }

    @Test func daytimeOptions() {
        #expect(problems(service(#"{ "name": "d", "kind": "daytime", "port": 1, "format": "ISO" }"#)) == [
            #"services.json: services[0].format: "ISO" is not "iso8601", "rfc867", "rfc2822" or a strftime pattern containing "%""#,
        ])
        #expect(problems(service(#"{ "name": "d", "kind": "daytime", "port": 1, "timeZone": "Mars/Base" }"#)) == [
            #"services.json: services[0].timeZone: unknown time zone "Mars/Base" (use "UTC", "local" or an IANA name such as "Europe/Paris")"#,
        ])
        #expect(problems(service(#"{ "name": "d", "kind": "daytime", "port": 1, "format": "rfc2822", "timeZone": "UTC" }"#)) == [])
    }

    @Test func sentenceOptions() {
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentence": "a", "sentences": ["b"] }"#)) == [
            #"services.json: services[0].sentences: set either "sentence" or "sentences", not both"#,
        ])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentence": "a\r\nb" }"#)) == [
            "services.json: services[0].sentence: must be one line: it contains CR or LF",
        ])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentence": "" }"#)) == [
            "services.json: services[0].sentence: is empty; a sentence needs 1...1000 bytes",
        ])
        let long = String(repeating: "x", count: 1001)
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentence": "\#(long)" }"#)) == [
            "services.json: services[0].sentence: is 1001 bytes, longer than 1000",
        ])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentence": "\#(long.dropLast())" }"#)) == [])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentences": [] }"#)) == [
            "services.json: services[0].sentences: must hold at least one sentence",
        ])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "sentences": ["ok", 4] }"#)) == [
            "services.json: services[0].sentences[1]: expected a string, found 4",
        ])
        #expect(problems(service(#"{ "name": "s", "kind": "sentence", "port": 1, "ackTimeout": 0, "maxAckBytes": 0 }"#)) == [
            "services.json: services[0].ackTimeout: 0 must be greater than 0 seconds",
            "services.json: services[0].maxAckBytes: 0 is outside 1...1048576",
        ])
    }

    @Test func echoOptions() {
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "maxBufferedBytes": 0 }"#)) == [
            "services.json: services[0].maxBufferedBytes: 0 is outside 1...1073741824",
        ])
    }

    @Test func collidingBinds() {
        func pair(_ a: String, _ b: String, port2: Int = 5000, enabled: Bool = true) -> [String] {
            problems(service(#"""
            { "name": "a", "kind": "echo", "port": 5000, "host": "\#(a)" },
            { "name": "b", "kind": "echo", "port": \#(port2), "host": "\#(b)", "enabled": \#(enabled) }
            """#))
        }
        #expect(pair("127.0.0.1", "127.0.0.1") == [
            #"services.json: services[1].port: 5000 on 127.0.0.1 collides with services[0] ("a") on 127.0.0.1"#,
        ])
        #expect(pair("127.0.0.1", "localhost") == [
            #"services.json: services[1].port: 5000 on localhost collides with services[0] ("a") on 127.0.0.1"#,
        ])
        #expect(pair("127.0.0.1", "0.0.0.0").count == 1)
        #expect(pair("0.0.0.0", "10.0.0.1").count == 1)
        #expect(pair("::", "127.0.0.1").count == 1)
        #expect(pair("127.0.0.1", "::").count == 1)
        #expect(pair("::1", "::").count == 1)
        #expect(pair("::ffff:127.0.0.1", "127.0.0.1").count == 1)
        #expect(pair("::1", "127.0.0.1") == [])
        #expect(pair("::1", "0.0.0.0") == [])
        #expect(pair("127.0.0.1", "127.0.0.2") == [])
        #expect(pair("127.0.0.1", "127.0.0.1", port2: 5001) == [])
        #expect(pair("127.0.0.1", "127.0.0.1", enabled: false) == [])
        #expect(problems(service(#"""
            { "name": "a", "kind": "echo", "port": 0 }, { "name": "b", "kind": "echo", "port": 0 }
            """#)) == [])
    }

    @Test func collisionWithTheStatusEndpoint() {
        #expect(problems(#"{ "services": [ { "name": "a", "kind": "echo", "port": 20080 } ] }"#) == [
            "services.json: services[0].port: 20080 on 127.0.0.1 collides with the status endpoint on 127.0.0.1:20080",
        ])
        #expect(problems(#"{ "status": { "host": "0.0.0.0", "port": 9 }, "services": [ { "name": "a", "kind": "echo", "port": 9 } ] }"#).count == 1)
        #expect(problems(#"{ "status": { "port": 9 }, "services": [ { "name": "a", "kind": "echo", "port": 9, "host": "::1" } ] }"#) == [])
    }

    @Test func statusEndpoint() {
        #expect(problems(#"{ "status": true, "services": [ { "name": "a", "kind": "echo", "port": 1 } ] }"#) == [
            #"services.json: status: expected an object {"host", "port"} or false, found true"#,
        ])
        #expect(problems(#"{ "status": { "port": 99999 }, "services": [ { "name": "a", "kind": "echo", "port": 1 } ] }"#) == [
            "services.json: status.port: 99999 is outside 0...65535",
        ])
        #expect(problems(#"{ "status": { "host": "nowhere" }, "services": [ { "name": "a", "kind": "echo", "port": 1 } ] }"#) == [
            #"services.json: status.host: "nowhere" is not an IPv4 or IPv6 address or "localhost""#,
        ])
    }

    @Test func everyProblemIsReportedInFileOrder() {
        let lines = problems(#"""
        { "status": { "host": "127.0.0.1", "port": 20080 },
          "services": [
            { "name": "daytime", "kind": "daytime", "port": 20000, "format": "ISO" },
            { "name": "echo", "kind": "ecko", "port": 70000 },
            { "name": "echo", "kind": "echo", "prot": 20008 },
            { "name": "web", "kind": "echo", "port": 20080, "sentence": "hi" },
            { "name": "bad name", "kind": "sentence", "port": "61000", "maxAckBytes": 0 } ] }
        """#)
        #expect(lines.count == 11)
        #expect(lines.map { $0.split(separator: ":")[1] }.map { $0.trimmingWhitespace() }.allSatisfy { !$0.isEmpty })
        let order = lines.compactMap { line -> Int? in
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return nil }
            return Int(line[line.index(after: open)..<close])
        }
        #expect(order == order.sorted())
        #expect(lines.contains("services.json: services[3].port: 20080 on 127.0.0.1 collides with the status endpoint on 127.0.0.1:20080"))
    }

    @Test func accessAndSourceLimits() throws {
        let config = try load(service(#"""
            { "name": "e", "kind": "echo", "port": 1, "allow": ["10.0.0.0/8", "::1"], "deny": ["10.1.0.0/16"],
              "maxConnectionsPerSource": 4, "maxConnectionRatePerSource": 2.5, "writeTimeout": 7 }
            """#))
        let echo = config.services[0]
        #expect(echo.access == AccessPolicy(allow: [CIDR(parsing: "10.0.0.0/8")!, CIDR(parsing: "::1")!], deny: [CIDR(parsing: "10.1.0.0/16")!]))
        #expect(echo.maxConnectionsPerSource == 4 && echo.maxConnectionRatePerSource == 2.5 && echo.writeTimeout == 7)
        let defaults = try load(service(#"{ "name": "e", "kind": "echo", "port": 1 }"#)).services[0]
        #expect(defaults.access.allowsEverything && defaults.maxConnectionsPerSource == nil && defaults.writeTimeout == 30)
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "allow": ["10.0.0.0/33", 5], "deny": "x" }"#)) == [
            #"services.json: services[0].allow[0]: "10.0.0.0/33" is not an address or CIDR block (e.g. "10.0.0.0/8", "::1")"#,
            #"services.json: services[0].allow[1]: 5 is not an address or CIDR block (e.g. "10.0.0.0/8", "::1")"#,
            #"services.json: services[0].deny: expected an array of addresses or CIDR blocks, found "x""#,
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "allow": [] }"#)) == [
            "services.json: services[0].allow: is empty; list at least one address or block (or remove the key)",
        ])
        #expect(problems(service(#"{ "name": "e", "kind": "echo", "port": 1, "maxConnectionsPerSource": 0, "maxConnectionRatePerSource": 0, "writeTimeout": -1 }"#)) == [
            "services.json: services[0].maxConnectionsPerSource: 0 must be at least 1",
            "services.json: services[0].maxConnectionRatePerSource: 0 must be greater than 0 and at most 1000000000",
            "services.json: services[0].writeTimeout: -1 must be greater than 0 seconds",
        ])
    }

    @Test func fileReading() throws {
        let dir = try TempDirectory()
        #expect(throws: ConfigError.unreadable(file: dir.file("missing.json"), reason: "cannot open: No such file or directory")) {
            try ConfigLoader.load(path: dir.file("missing.json"))
        }
        #expect(throws: ConfigError.unreadable(file: dir.path, reason: "not a regular file (a directory)")) {
            try ConfigLoader.load(path: dir.path)
        }
        #expect(throws: ConfigError.unreadable(file: "/dev/null", reason: "not a regular file (a character device)")) {
            try ConfigLoader.load(path: "/dev/null")
        }
        let big = try dir.write("big.json", String(repeating: " ", count: 1_048_577))
        #expect(throws: ConfigError.invalid(file: big, issues: [ConfigIssue("", "the file is 1048577 bytes, larger than the 1 MiB limit (1048576 bytes)")])) {
            try ConfigLoader.load(path: big)
        }
        let body = #"{"services":[{"name":"e","kind":"echo","port":1}]}"#
        let exact = try dir.write("exact.json", body + String(repeating: " ", count: 1_048_576 - body.utf8.count))
        #expect(try ConfigLoader.load(path: exact).services.count == 1)
    }

    @Test func pathResolution() {
        #expect(ConfigLoader.resolvePath(option: "a.json", environment: ["PORTVISOR_CONFIG": "b.json"]) == "a.json")
        #expect(ConfigLoader.resolvePath(option: nil, environment: ["PORTVISOR_CONFIG": "b.json"]) == "b.json")
        #expect(ConfigLoader.resolvePath(option: nil, environment: [:]) == "services.json")
        #expect(ConfigLoader.resolvePath(option: nil, environment: ["PORTVISOR_CONFIG": ""]) == "services.json")
    }
}
