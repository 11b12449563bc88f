// The kinds' protocols as pure steps, driven without a socket: bytes and events in, the step
// out. (Runtime/ drives the same kinds through real loopback sockets.)
import Testing
@testable import Portvisor

/// Runs `body` with `text`'s bytes as a raw buffer.
private func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    Array(text.utf8).withUnsafeBytes(body)
}

private func bytes(_ step: Step) -> [UInt8]? {
    if case .bytes(let bytes) = step.output { return bytes }
    return nil
}

private func isInput(_ step: Step) -> Bool {
    if case .input = step.output { return true }
    return false
}

private func isNone(_ step: Step) -> Bool {
    if case .none = step.output { return true }
    return false
}

@Suite struct KindRegistryTests {
    @Test func everyKindOnceInTheDocumentedOrder() {
        #expect(KindRegistry.names == ["daytime", "echo", "sentence", "discard", "chargen", "time", "qotd", "exec", "daemon", "proxy"])
        #expect(Set(KindRegistry.names).count == KindRegistry.names.count)
        #expect(KindRegistry.udpNames == ["daytime", "echo", "discard", "chargen", "time", "qotd"])
        for name in KindRegistry.names {
            #expect(KindRegistry.transports(of: name).first == "tcp")
            #expect(!(KindRegistry.summary(of: name) ?? "").isEmpty)
        }
    }

    @Test func noKindKeyIsACommonKey() {
        for name in KindRegistry.names {
            for key in KindRegistry.optionKeys(of: name) { #expect(!ConfigKeys.commonService.contains(key), "\(key) of \(name)") }
            #expect(Set(KindRegistry.optionKeys(of: name)).count == KindRegistry.optionKeys(of: name).count)
        }
    }

    @Test func aKeyOfSeveralKindsNamesThemAll() throws {
        let json = #"{ "status": false, "services": [ { "name": "e", "kind": "echo", "port": 1, "command": ["/bin/true"] } ] }"#
        #expect(throws: ConfigError.invalid(file: "s.json", issues: [ConfigIssue("services[0].command", #""command" is an option of kinds "exec" and "daemon", not of "echo""#)])) {
            try ConfigLoader.parse(Array(json.utf8), path: "s.json")
        }
    }

    @Test func defaultsAreTheKindsOwnOptions() {
        #expect(ServiceConfig(name: "e", kind: .echo, port: 1).options.isEqual(to: EchoOptions()))
        #expect(ServiceConfig(name: "d", kind: .daytime, port: 1).options.isEqual(to: DaytimeOptions()))
        #expect(ServiceConfig(name: "s", kind: .sentence, port: 1).options.isEqual(to: SentenceOptions()))
        #expect(ServiceConfig(name: "x", kind: .discard, port: 1).options is NoOptions)
        #expect(!ServiceConfig(name: "e", kind: .echo, port: 1).options.isEqual(to: EchoOptions(maxBufferedBytes: 7)))
    }
}

@Suite struct StreamStepTests {
    @Test func echoSendsTheInputBackAndFinishesAtEndOfInput() {
        let (connection, first) = EchoService(maxBufferedBytes: 4096).open(wall: WallTime(seconds: 0))
        #expect(isNone(first) && first.next == .read)
        #expect(connection.outputLimit == 4096)
        let step = withBytes("hello") { connection.received($0, now: 0) }
        #expect(isInput(step) && step.next == .read)
        #expect(connection.endOfInput().next == .finish)
    }

    @Test func discardDropsAndClosesAtEndOfInput() {
        let (connection, first) = DiscardService().open(wall: WallTime(seconds: 0))
        #expect(first.next == .read)
        let step = withBytes("dropped") { connection.received($0, now: 0) }
        #expect(isNone(step) && step.next == .read)
        #expect(connection.endOfInput().next == .close("client closed"))
    }

    @Test func chargenGeneratesTheStreamAndSurvivesAHalfClose() {
        var (connection, first) = ChargenService().open(wall: WallTime(seconds: 0))
        #expect(first.next == .generate)
        var stream: [UInt8] = []
        for take in [100, 7_000, 65_536, 3] {
            let window = connection.generate()
            #expect(window.count == ChargenPattern.shared.maxWindow)
            stream += window.prefix(take)
            connection.generated(take)
        }
        #expect(stream == Array(ChargenPattern.shared.slice(from: 0, count: 65_536)) + Array(ChargenPattern.shared.slice(from: 65_536, count: 7_103)))
        // Input is read and dropped; the client's end of file stops the reading only.
        #expect(withBytes("x") { connection.received($0, now: 0) }.next == .generate)
        #expect(connection.endOfInput().next == .generateOnly)
    }

    @Test func greetingKindsSendOnceAndFinish() throws {
        var daytime = DaytimeService(DaytimeOptions())
        let (_, line) = daytime.open(wall: WallTime(seconds: 1_795_611_722))
        #expect(bytes(line) == Array("2026-11-25T13:02:02Z\r\n".utf8) && line.next == .finish)
        let (_, time) = TimeService().open(wall: WallTime(seconds: 0))
        #expect(bytes(time) == [0x83, 0xAA, 0x7E, 0x80] && time.next == .finish)
        var qotd = QotdService(["one", "two"])
        #expect(bytes(qotd.open(wall: WallTime(seconds: 0)).1) == Array("one\r\n".utf8))
        #expect(bytes(qotd.open(wall: WallTime(seconds: 0)).1) == Array("two\r\n".utf8))
        #expect(bytes(qotd.open(wall: WallTime(seconds: 0)).1) == Array("one\r\n".utf8))
        var greeting = GreetingConnection()
        #expect(greeting.endOfInput().next == .finish)
    }
}

@Suite struct SentenceStepTests {
    static func open(maxAckBytes: Int = 8, ackTimeout: Double = 2) -> (SentenceConnection, Step, SentenceStats) {
        let stats = SentenceStats()
        var service = SentenceService(SentenceOptions(sentences: ["Hi."], ackTimeout: ackTimeout, maxAckBytes: maxAckBytes), stats: stats)
        let (connection, step) = service.open(wall: WallTime(seconds: 0))
        return (connection, step, stats)
    }

    @Test func theSentenceThenTheLineAcrossReads() {
        var (connection, first, stats) = Self.open()
        #expect(bytes(first) == Array("Hi.\r\n".utf8) && first.next == .read)
        #expect(withBytes("o") { connection.received($0, now: 0) }.next == .read)
        let done = withBytes("k\r\n") { connection.received($0, now: 0) }
        #expect(isNone(done) && done.next == .finish)  // nothing is sent after the sentence
        connection.abandoned()  // closed by the engine afterwards: still counted once
        #expect(stats.snapshot() as? SentenceSnapshot == SentenceSnapshot(acknowledged: 1, unacknowledged: 0, ackTimeouts: 0))
    }

    @Test func tooLongEndOfFileAndTheDeadlineAreUnacknowledged() {
        var (long, _, stats) = Self.open(maxAckBytes: 4)
        #expect(withBytes("12345\n") { long.received($0, now: 0) }.next == .close("acknowledgement longer than maxAckBytes"))
        var (eof, _, eofStats) = Self.open()
        #expect(eof.endOfInput().next == .close("client closed before acknowledging"))
        var (late, _, lateStats) = Self.open(ackTimeout: 2)
        let ackDeadline: MonotonicNanos? = 2_000_001_000
        #expect(late.deadline(openedAt: 1_000) == ackDeadline)
        #expect(late.deadlinePassed(now: 3_000_000_000).next == .close("no acknowledgement within 2 s (ackTimeout)"))
        late.abandoned()
        #expect(stats.snapshot() as? SentenceSnapshot == SentenceSnapshot(acknowledged: 0, unacknowledged: 1, ackTimeouts: 0))
        #expect(eofStats.snapshot() as? SentenceSnapshot == SentenceSnapshot(acknowledged: 0, unacknowledged: 1, ackTimeouts: 0))
        #expect(lateStats.snapshot() as? SentenceSnapshot == SentenceSnapshot(acknowledged: 0, unacknowledged: 1, ackTimeouts: 1))
    }

    @Test func abandonedWhileWaitingCountsUnacknowledged() {
        var (connection, _, stats) = Self.open()
        connection.abandoned()
        connection.abandoned()
        #expect(stats.snapshot() as? SentenceSnapshot == SentenceSnapshot(acknowledged: 0, unacknowledged: 1, ackTimeouts: 0))
        #expect(SentenceConnection.idleTimeoutApplies == false)
    }
}

@Suite struct HTTPStepTests {
    @Test func aCompleteHeadSuspendsWithTheRequest() {
        var connection = HTTPConnection()
        #expect(connection.deadline(openedAt: 10) == 10 + HTTPConnection.headDeadline)
        #expect(withBytes("GET /sta") { connection.received($0, now: 100) }.next == .read)
        #expect(connection.deadline(openedAt: 10) == 100 + HTTPConnection.headDeadline)  // from the first byte
        #expect(withBytes("tus?x=1 HTTP/1.1\r\nHost: a\r\n\r\n") { connection.received($0, now: 200) }.next == .suspend)
        #expect(connection.request?.path == "/status" && connection.request?.method == "GET")
        #expect(connection.deadline(openedAt: 10) == nil)  // the endpoint answers within its own second
    }

    @Test func badHeadsAreAnsweredAndLinger() {
        var malformed = HTTPConnection()
        let bad = withBytes("GET / HTTP/1.1\r\nno colon\r\n\r\n") { malformed.received($0, now: 0) }
        #expect(bad.next == .linger && String(decoding: bytes(bad) ?? [], as: UTF8.self).hasPrefix("HTTP/1.1 400 "))
        var large = HTTPConnection()
        let big = withBytes("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000)) { large.received($0, now: 0) }
        #expect(big.next == .linger && String(decoding: bytes(big) ?? [], as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
    }

    @Test func silenceClosesAndASlowHeadGets408() {
        let silent = HTTPConnection()
        #expect(silent.deadlinePassed(now: 0).next == .close("nothing asked within 5 s"))
        var slow = HTTPConnection()
        _ = withBytes("GET") { slow.received($0, now: 0) }
        let late = slow.deadlinePassed(now: HTTPConnection.headDeadline)
        #expect(late.next == .linger && String(decoding: bytes(late) ?? [], as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
        #expect(HTTPConnection.idleTimeoutApplies == false)
    }
}

@Suite struct DatagramStepTests {
    @Test func eachKindsAnswerToOneDatagram() {
        let request: [UInt8] = [1, 2, 3]
        request.withUnsafeBytes { raw in
            if case .input = EchoDatagrams().reply(to: raw, wall: WallTime(seconds: 0)) {} else { Issue.record("echo") }
            if case .none = DiscardDatagrams().reply(to: raw, wall: WallTime(seconds: 0)) {} else { Issue.record("discard") }
            var chargen = ChargenDatagrams()
            for line in 0..<3 {
                guard case .stream(let window, let unit) = chargen.reply(to: raw, wall: WallTime(seconds: 0)) else { Issue.record("chargen"); continue }
                #expect(unit == 74)
                #expect(Array(window) == Array(ChargenPattern.shared.slice(from: line * 74, count: ChargenDatagrams.replyBytes)))
            }
        }
    }
}

@Suite struct ReloadPlanTests {
    static func config(_ services: [ServiceConfig], status: StatusEndpointConfig? = .default) -> PortvisorConfig {
        PortvisorConfig(path: "s.json", status: status, services: services)
    }

    @Test func eachServiceGetsOneActionMatchedByName() {
        let old = Self.config([
            ServiceConfig(name: "same", kind: .echo, port: 1),
            ServiceConfig(name: "tuned", kind: .echo, port: 2),
            ServiceConfig(name: "rekind", kind: .echo, port: 3),
            ServiceConfig(name: "off", kind: .echo, port: 4),
            ServiceConfig(name: "on", kind: .echo, port: 5, enabled: false),
            ServiceConfig(name: "gone", kind: .echo, port: 6),
            ServiceConfig(name: "sleeping", kind: .echo, port: 7, enabled: false),
        ])
        let new = Self.config([
            ServiceConfig(name: "fresh", kind: .daytime, port: 9),
            ServiceConfig(name: "same", kind: .echo, port: 1),
            ServiceConfig(name: "tuned", kind: .echo, port: 2, maxConnections: 9),
            ServiceConfig(name: "rekind", kind: .discard, port: 3),
            ServiceConfig(name: "off", kind: .echo, port: 4, enabled: false),
            ServiceConfig(name: "on", kind: .echo, port: 5),
            ServiceConfig(name: "sleeping", kind: .echo, port: 8, enabled: false),
        ], status: nil)
        let plan = ReloadPlan(from: old, to: new)
        #expect(plan.changes.map(\.name) == ["fresh", "same", "tuned", "rekind", "off", "on", "sleeping", "gone"])
        #expect(plan.changes.map(\.change) == [.start, .keep, .reconfigure, .replace, .stop, .start, .keep, .stop])
        #expect(plan.changes.map(\.file) == [.added, .unchanged, .changed, .changed, .changed, .changed, .changed, .removed])
        #expect(plan.statusChanged)
        #expect(plan.summary == "1 unchanged, 5 changed (tuned, rekind, off, on, sleeping), 1 added (fresh), 1 removed (gone)")
        #expect(plan.changes.last?.config == nil)
    }

    @Test func theSameConfigChangesNothing() {
        let config = Self.config([ServiceConfig(name: "a", kind: .echo, port: 1), ServiceConfig(name: "b", kind: .sentence, port: 2)])
        let plan = ReloadPlan(from: config, to: config)
        #expect(plan.changes.allSatisfy { $0.change == .keep && $0.file == .unchanged })
        #expect(!plan.statusChanged)
        #expect(plan.summary == "2 unchanged, 0 changed, 0 added, 0 removed")
    }
}
