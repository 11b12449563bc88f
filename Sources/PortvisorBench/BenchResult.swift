// What a bench run measured, and its two renderings: the table for people and the JSON object
// for scripts, with the same numbers. The exit status it deserves is in BenchVerdict.swift.
import Portvisor

/// The outcome of one `BenchRunner.run`.
public struct BenchResult: Sendable {
    public let options: BenchOptions
    /// Threads actually used (never more than connections).
    public let threads: Int
    public let counters: BenchCounters
    public let histogram: LatencyHistogram
    /// Wall and CPU seconds of the whole run, setup included.
    public let wallSeconds: Double
    public let cpuSeconds: Double
    /// idle with a server PID: its VmRSS before the connections, and while they are held.
    public let serverRSSBeforeKiB: Int?
    public let serverRSSHeldKiB: Int?
    /// The first system error a worker saw, if any.
    public let firstError: SystemError?
    /// Warnings about the run's conditions (e.g. a low descriptor limit).
    public let notes: [String]

    /// rr: round trips/s; connect, sentence: connections/s; stream: MB/s; idle: connections
    /// still echoing after the hold.
    public var rate: Double {
        switch options.mode {
        case .rr, .connect, .sentence: return Double(counters.ops) / options.duration
        case .stream: return megabytesPerSecond
        case .idle: return Double(counters.stillEchoing)
        }
    }

    /// Verified echo per second, in 10^6 bytes (stream).
    public var megabytesPerSecond: Double { Double(counters.bytesEchoed) / options.duration / 1e6 }

    /// CPU this process used per second of the run.
    public var clientCores: Double { wallSeconds > 0 ? cpuSeconds / wallSeconds : 0 }

    /// idle: the server's memory growth per held connection.
    public var kibPerConnection: Double? {
        guard let before = serverRSSBeforeKiB, let held = serverRSSHeldKiB, counters.verified > 0 else { return nil }
        return Double(held - before) / Double(counters.verified)
    }

    /// rr, connect and sentence measure latencies; shown once there is at least one.
    var hasLatencies: Bool {
        (options.mode == .rr || options.mode == .connect || options.mode == .sentence) && histogram.count > 0
    }

    /// Microseconds of the percentile `q`, one decimal.
    func micros(_ q: Double) -> Double { Self.round1(Double(histogram.percentile(q)) / 1e3) }

    static func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
    static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}

extension BenchResult {
    /// The report for people: a heading, one table row, and the error and memory lines that apply.
    public func table() -> String {
        let o = options
        var heading = "portvisor bench \(o.mode.rawValue) against \(o.address): \(o.connections) "
            + (o.mode.opensConnectionsFirst ? "connection" : "worker") + (o.connections == 1 ? "" : "s")
            + " on \(threads) thread\(threads == 1 ? "" : "s")"
        switch o.mode {
        case .rr: heading += ", \(o.size) B messages"
        case .stream: heading += ", \(o.size) B writes"
        case .idle: heading += ", \(o.size) B proofs"
        case .connect, .sentence: break
        }
        heading += o.mode == .idle ? ", held \(Self.seconds(o.duration))" : ", \(Self.seconds(o.duration)) measured"
        if o.warmup > 0 { heading += " after \(Self.seconds(o.warmup)) of warm-up" }
        let cores = String(fixed: clientCores, digits: 2) + " cores"
        var table: TextTable
        if o.mode == .idle {
            table = TextTable(["MODE", "CONNECTIONS", "ESTABLISHED", "VERIFIED", "DROPPED", "STILL ECHOING", "ERRORS", "CLIENT CPU"])
            table.add([o.mode.rawValue, "\(o.connections)", "\(counters.established)", "\(counters.verified)",
                       "\(counters.dropped)", "\(counters.stillEchoing)", "\(counters.errors)", cores])
        } else {
            table = TextTable(["MODE", "CONNECTIONS", "RATE", "P50", "P90", "P99", "P99.9", "MAX", "ERRORS", "CLIENT CPU"])
            let rateText = o.mode == .stream ? "\(String(fixed: rate, digits: 1)) MB/s" : "\(Int(rate.rounded())) \(o.mode.rateUnit)"
            let latency: (Double) -> String = { q in hasLatencies ? Self.latencyText(histogram.percentile(q)) : "-" }
            table.add([o.mode.rawValue, "\(o.connections)", rateText, latency(0.5), latency(0.9), latency(0.99), latency(0.999),
                       hasLatencies ? Self.latencyText(histogram.max) : "-", "\(counters.errors)", cores])
        }
        var lines = [heading, "", table.render()]
        if counters.errors > 0 {
            let kinds = counters.failureBreakdown.filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
            lines.append("errors: \(kinds)" + (firstError.map { "; first system error: \($0)" } ?? ""))
        }
        if counters.verificationFailures > 0 {
            lines.append("verification failed: \(counters.mismatches) mismatched echo\(counters.mismatches == 1 ? "" : "es"), "
                         + "\(counters.invalidReplies) invalid repl\(counters.invalidReplies == 1 ? "y" : "ies")")
        }
        if let before = serverRSSBeforeKiB, let held = serverRSSHeldKiB, let pid = o.serverPID {
            let per = kibPerConnection.map { ": \(String(fixed: $0, digits: 1)) KiB per connection" } ?? ""
            lines.append("server pid \(pid): RSS \(before) KiB before, \(held) KiB while holding\(per)")
        }
        return lines.joined(separator: "\n")
    }

    /// The same numbers as one JSON object (keys of docs/benchmarking.md).
    public func json() -> JSONValue {
        let o = options
        var members: [JSONMember] = [
            JSONMember("mode", .string(o.mode.rawValue)),
            JSONMember("host", .string(o.address.ip.unmapped.description)),
            JSONMember("port", .int(Int(o.address.port))),
            JSONMember("connections", .int(o.connections)),
            JSONMember("threads", .int(threads)),
            JSONMember("size", o.mode.expectsEcho ? .int(o.size) : .null),
            JSONMember("duration", .double(o.duration)),
            JSONMember("warmup", .double(o.warmup)),
            JSONMember("ops", .int(counters.ops)),
            JSONMember("rate", .double(Self.round1(rate))),
            JSONMember("rate_unit", .string(o.mode.rateUnit)),
            JSONMember("mbps", o.mode == .stream ? .double(Self.round1(megabytesPerSecond)) : .null),
        ]
        for (key, q) in [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999)] {
            members.append(JSONMember(key, hasLatencies ? .double(micros(q)) : .null))
        }
        members += [
            JSONMember("max_us", hasLatencies ? .double(Self.round1(Double(histogram.max) / 1e3)) : .null),
            JSONMember("mean_us", hasLatencies ? .double(Self.round1(histogram.mean / 1e3)) : .null),
            JSONMember("errors", .object([JSONMember("total", .int(counters.errors))]
                + counters.failureBreakdown.map { JSONMember($0.0, .int($0.1)) })),
            JSONMember("first_error", .optionalString(firstError?.description)),
            JSONMember("established", .int(counters.established)),
            JSONMember("verified", .int(counters.verified)),
            JSONMember("reconnects", .int(counters.reconnects)),
            JSONMember("unexpected", .int(counters.unexpected)),
        ]
        if o.mode == .stream {
            members.append(JSONMember("tx_mbps", .double(Self.round1(Double(counters.bytesSent) / o.duration / 1e6))))
        }
        if o.mode == .connect || o.mode == .sentence {
            members.append(JSONMember("avg_reply_bytes", .double(counters.ops == 0 ? 0 : Self.round1(Double(counters.replyBytes) / Double(counters.ops)))))
        }
        if o.mode == .idle {
            members += [
                JSONMember("dropped", .int(counters.dropped)),
                JSONMember("still_echoing", .int(counters.stillEchoing)),
                JSONMember("server_pid", o.serverPID.map { .int(Int($0)) } ?? .null),
                JSONMember("rss_before_kib", serverRSSBeforeKiB.map { .int($0) } ?? .null),
                JSONMember("rss_held_kib", serverRSSHeldKiB.map { .int($0) } ?? .null),
                JSONMember("kib_per_connection", kibPerConnection.map { .double(Self.round1($0)) } ?? .null),
            ]
        }
        members += [
            JSONMember("client_cores", .double(Self.round2(clientCores))),
            JSONMember("wall_seconds", .double(Self.round2(wallSeconds))),
            JSONMember("exit", .int(Int(exitCode))),
            JSONMember("failure", .optionalString(failure)),
        ]
        return .object(members)
    }

    /// "52.1 µs" below a millisecond, "12.96 ms" above.
    static func latencyText(_ nanos: Int64) -> String {
        nanos < 1_000_000 ? "\(String(fixed: Double(nanos) / 1e3, digits: 1)) µs" : "\(String(fixed: Double(nanos) / 1e6, digits: 2)) ms"
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

extension String {
    /// `value` with exactly `digits` (1 or more) decimals: "52.1", "0.99".
    init(fixed value: Double, digits: Int) {
        guard value.isFinite, abs(value) < 1e15 else { self = value.isFinite ? "\(value)" : "-"; return }
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let fraction = String(scaled % scale)
        self = (value < 0 && scaled != 0 ? "-" : "") + "\(scaled / scale)."
            + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
