// The kinds' pure logic, without sockets: daytime formats, the acknowledgement scanner,
// sentence rotation, and the backoff policy.
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct DaytimeFormatTests {
    /// 2026-11-25T13:02:02Z, a Wednesday.
    let time = WallTime(seconds: 1_795_611_722)

    @Test func iso8601InUTC() {
        #expect(DaytimeFormatter(DaytimeOptions()).string(at: time) == "2026-11-25T13:02:02Z")
    }

    @Test func iso8601WithAnOffset() {
        let paris = DaytimeFormatter(DaytimeOptions(format: .iso8601, timeZone: .named("Europe/Paris")))
        #expect(paris.string(at: time) == "2026-11-25T14:02:02+01:00")
        let kolkata = DaytimeFormatter(DaytimeOptions(format: .iso8601, timeZone: .named("Asia/Kolkata")))
        #expect(kolkata.string(at: time) == "2026-11-25T18:32:02+05:30")
        let newYork = DaytimeFormatter(DaytimeOptions(format: .iso8601, timeZone: .named("America/New_York")))
        #expect(newYork.string(at: time) == "2026-11-25T08:02:02-05:00")
    }

    @Test func rfc867() {
        #expect(DaytimeFormatter(DaytimeOptions(format: .rfc867)).string(at: time) == "Wednesday, November 25, 2026 13:02:02-UTC")
        let early = WallTime(seconds: time.seconds - 20 * 86400)  // 5 November: no zero padding
        #expect(DaytimeFormatter(DaytimeOptions(format: .rfc867)).string(at: early) == "Thursday, November 5, 2026 13:02:02-UTC")
        let paris = DaytimeFormatter(DaytimeOptions(format: .rfc867, timeZone: .named("Europe/Paris")))
        #expect(paris.string(at: time) == "Wednesday, November 25, 2026 14:02:02-CET")
    }

    @Test func rfc2822() {
        #expect(DaytimeFormatter(DaytimeOptions(format: .rfc2822)).string(at: time) == "Wed, 25 Nov 2026 13:02:02 +0000")
        let paris = DaytimeFormatter(DaytimeOptions(format: .rfc2822, timeZone: .named("Europe/Paris")))
        #expect(paris.string(at: time) == "Wed, 25 Nov 2026 14:02:02 +0100")
    }

    @Test func strftimePattern() {
        let formatter = DaytimeFormatter(DaytimeOptions(format: .strftime("%Y/%j %H:%M %Z"), timeZone: .named("Europe/Paris")))
        #expect(formatter.string(at: time) == "2026/329 14:02 CET")
    }

    @Test func daylightSavingTime() {
        let july = WallTime(seconds: 1_784_984_522)  // 2026-07-25T13:02:02Z
        let paris = DaytimeFormatter(DaytimeOptions(format: .iso8601, timeZone: .named("Europe/Paris")))
        #expect(paris.string(at: july) == "2026-07-25T15:02:02+02:00")
    }

    @Test func linesEndInCRLFAndAreCachedPerSecond() {
        var clock = DaytimeClock(DaytimeOptions())
        let line = clock.line(at: time)
        #expect(line == Array("2026-11-25T13:02:02Z\r\n".utf8))
        #expect(clock.line(at: WallTime(seconds: time.seconds, nanoseconds: 999_000_000)) == line)
        #expect(clock.line(at: WallTime(seconds: time.seconds + 1)) == Array("2026-11-25T13:02:03Z\r\n".utf8))
    }
}

@Suite struct AckScannerTests {
    @Test func lineWithinTheLimit() {
        var scanner = AckScanner(maxBytes: 8)
        #expect(scanner.scan(Array("ACK".utf8)) == .needMore)
        #expect(scanner.scan(Array("\r\n".utf8)) == .acknowledged)
    }

    @Test func lineOfExactlyTheLimitIsAcknowledged() {
        var scanner = AckScanner(maxBytes: 8)
        #expect(scanner.scan(Array("1234567\n".utf8)) == .acknowledged)
    }

    @Test func limitReachedWithoutNewline() {
        var scanner = AckScanner(maxBytes: 8)
        #expect(scanner.scan(Array("1234".utf8)) == .needMore)
        #expect(scanner.scan(Array("5678\n".utf8)) == .tooLong)
    }

    @Test func emptyLineIsAnAcknowledgement() {
        var scanner = AckScanner(maxBytes: 1)
        #expect(scanner.scan([0x0A]) == .acknowledged)
    }

    @Test func bytesAfterTheLineAreIgnored() {
        var scanner = AckScanner(maxBytes: 4)
        #expect(scanner.scan(Array("ok\nmore and more".utf8)) == .acknowledged)
    }
}

@Suite struct SentenceRotationTests {
    @Test func roundRobinWithCRLF() {
        var rotation = SentenceRotation(["a", "b"])
        #expect([rotation.nextLine(), rotation.nextLine(), rotation.nextLine()] == [Array("a\r\n".utf8), Array("b\r\n".utf8), Array("a\r\n".utf8)])
    }
}

@Suite struct BackoffPolicyTests {
    let policy = BackoffPolicy(RestartPolicy(initialDelay: 0.1, maxDelay: 1, resetAfter: 10, maxRestarts: 3))

    @Test func doublesUpToTheCap() {
        #expect((0..<6).map { policy.nominalDelay(afterAttempt: $0) } == [0.1, 0.2, 0.4, 0.8, 1, 1])
        #expect(policy.nominalDelay(afterAttempt: 10_000) == 1)
    }

    @Test func jitterOnlyShortensTheDelay() {
        #expect(policy.delay(afterAttempt: 0, random: 0) == 0.1)
        #expect(abs(policy.delay(afterAttempt: 0, random: 0.999_999) - 0.08) < 1e-6)
        for _ in 0..<1000 {
            let delay = policy.delay(afterAttempt: 2, random: Double.random(in: 0..<1))
            #expect(delay <= 0.4 && delay > 0.32)
        }
    }

    @Test func maxRestartsLimitsConsecutiveAttempts() {
        #expect(policy.allowsAttempt(after: 2))
        #expect(!policy.allowsAttempt(after: 3))
        #expect(BackoffPolicy(RestartPolicy()).allowsAttempt(after: 1_000_000))
        #expect(!BackoffPolicy(RestartPolicy(maxRestarts: 0)).allowsAttempt(after: 0))
    }
}

@Suite struct ZoneRulesTests {
    @Test func posixRulesEuropeanAndSouthern() throws {
        let paris = try #require(PosixTimeZone(parsing: "CET-1CEST,M3.5.0,M10.5.0/3"))
        // 2026: DST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        #expect(paris.localType(at: 1_774_745_999).abbreviation == "CET")
        #expect(paris.localType(at: 1_774_746_000) == LocalTimeType(offset: 7200, isDST: true, abbreviation: "CEST"))
        #expect(paris.localType(at: 1_792_889_999).abbreviation == "CEST")
        #expect(paris.localType(at: 1_792_890_000).abbreviation == "CET")
        let sydney = try #require(PosixTimeZone(parsing: "AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(sydney.localType(at: 1_795_611_722) == LocalTimeType(offset: 39600, isDST: true, abbreviation: "AEDT"))
        let kolkata = try #require(PosixTimeZone(parsing: "IST-5:30"))
        #expect(kolkata.localType(at: 0).offset == 19800)
        let quoted = try #require(PosixTimeZone(parsing: "<-03>3"))
        #expect(quoted.localType(at: 0) == LocalTimeType(offset: -10800, isDST: false, abbreviation: "-03"))
        #expect(PosixTimeZone(parsing: "X") == nil)
        #expect(PosixTimeZone(parsing: "CET-1CEST,M13.5.0,M10.5.0") == nil)
    }

    @Test func databaseFilesAgreeWithTheirFooters() throws {
        let paris = try #require(ZoneRules.named("Europe/Paris"))
        #expect(paris.localType(at: 1_795_611_722).abbreviation == "CET")
        #expect(paris.localType(at: 1_784_984_522).abbreviation == "CEST")
        #expect(paris.localType(at: -1_000_000_000).abbreviation == "WEST")  // April 1938, from the transitions
        let newYork = try #require(ZoneRules.named("America/New_York"))
        #expect(newYork.localType(at: 1_795_611_722) == LocalTimeType(offset: -18000, isDST: false, abbreviation: "EST"))
    }

    @Test func unsafeOrUnknownNames() {
        #expect(ZoneRules.named("../../etc/passwd") == nil)
        #expect(ZoneRules.named("/etc/localtime") == nil)
        #expect(ZoneRules.named("Mars/Base") == nil)
        #expect(ZoneRules.named("") == nil)
        #expect(ZoneRules.parse(Array("not a tzif file at all, not at all, not at all".utf8)) == nil)
    }

    @Test func civilDates() {
        #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate.daysSinceEpoch(year: 2026, month: 11, day: 25) == 20_782)
        #expect(CivilDate(daysSinceEpoch: 20_782) == CivilDate(year: 2026, month: 11, day: 25))
        #expect(CivilDate(daysSinceEpoch: -1) == CivilDate(year: 1969, month: 12, day: 31))
    }
}
