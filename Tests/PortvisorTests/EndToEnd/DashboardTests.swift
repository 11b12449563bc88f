// The dashboard (`GET /`) in a real browser — headless Chromium over the DevTools protocol —
// against a real in-process supervisor: it names every service and its state, follows /status
// without a reload, marks a service in backoff, renders 2,000 live connections in time, says when
// the endpoint is gone, treats every string as text under its CSP, and takes the screenshots in
// docs/ (rewritten when PORTVISOR_UPDATE_SCREENSHOTS=1).
import Foundation
import Glibc
import Testing
@testable import Portvisor

@Suite(.serialized, .enabled(if: HeadlessBrowser.isInstalled, "chromium is not installed (apt-get install chromium): the dashboard browser tests are skipped"))
struct DashboardTests {
    static func url(_ server: TestSupervisor) throws -> String { "http://127.0.0.1:\(try server.statusPort())/" }

    /// JavaScript for the text of service `name`'s row (or of its connection list), or null.
    static func row(_ name: String) -> String { "document.querySelector('tr.svc[data-name=\"\(name)\"]')" }
    static func connections(_ name: String) -> String { "document.querySelector('tr.conns[data-for=\"\(name)\"]')" }

    /// Waits until the page has rendered one more answer from /status than it had.
    static func nextUpdate(_ page: BrowserPage, timeout: Double = 6) throws {
        let seen = (try page.evaluate("Number(document.body.dataset.updates || 0)") as? Int) ?? 0
        try page.waitFor("Number(document.body.dataset.updates || 0) > \(seen)", timeout: timeout, "an update after #\(seen)")
    }

    @Test func namesEveryServiceAndItsState() throws {
        let server = try TestSupervisor(#"{ "name": "daytime", "kind": "daytime", "port": 0 }"#,
                                        #"{ "name": "echo", "kind": "echo", "port": 0 }"#,
                                        #"{ "name": "sentence", "kind": "sentence", "port": 0 }"#,
                                        #"{ "name": "echo-udp", "kind": "echo", "port": 0, "protocol": "udp" }"#,
                                        #"{ "name": "off", "kind": "qotd", "port": 0, "enabled": false, "quotes": ["q"] }"#,
                                        status: TestSupervisor.statusOnLoopback, level: .info)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let url = try Self.url(server)
        let page = try browser.open(url, width: 1280, height: 800)
        try page.waitFor("Number(document.body.dataset.updates) >= 1", "the first update")
        let snapshot = server.supervisor.snapshot(connections: false)
        #expect(snapshot.services.count == 5)
        for service in snapshot.services {
            let name = service.config.name
            let state = try page.evaluate("\(Self.row(name))?.querySelector('.col-state').textContent") as? String
            #expect(state == service.state.rawValue, "\(name)")
            let text = try page.evaluate("\(Self.row(name))?.textContent") as? String ?? ""
            #expect(text.contains(name) && text.contains(service.config.kind.rawValue + (service.config.enabled ? "" : " · disabled")), "\(text)")
            if let port = service.boundPort {
                #expect(text.contains("127.0.0.1:\(port)" + (service.config.transport == .udp ? "/udp" : "")), "\(name): \(text)")
            }
        }
        #expect(try page.evaluate("\(Self.row("sentence")).textContent.includes('sentences: acknowledged 0, unacknowledged 0')") as? Bool == true)
        #expect(try page.evaluate("\(Self.row("echo-udp")).textContent.includes('datagrams in 0 · out 0 · dropped 0')") as? Bool == true)
        #expect(try page.evaluate("document.getElementById('problems').hidden") as? Bool == true)
        let header = try page.evaluate("document.getElementById('supervisor').textContent") as? String ?? ""
        #expect(header.contains("pid \(getpid())") && header.contains("version \(snapshot.version)") && header.contains(snapshot.configPath))
        // The page asked for nothing but itself and /status, and the browser logged no error (no CSP violation).
        #expect(Set(page.requestedURLs) == [url, url + "status"], "\(page.requestedURLs)")
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    @Test func aConnectionOpenedAfterLoadingAppearsWithoutAReload() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let url = try Self.url(server)
        let page = try browser.open(url, width: 1280, height: 800)
        try page.waitFor("\(Self.row("echo"))", "the echo row")
        _ = try page.evaluate("window.loadedOnce = 'the same document'")
        try page.click("button[data-service=\"echo\"]")
        let empty = try page.waitFor("\(Self.connections("echo"))?.textContent", "the echo connection list")
        #expect(empty as? String == "No live connections.")

        let client = try server.connect("echo")
        let local = "127.0.0.1:\(try Socket.localAddress(client.fd).port)"
        let list = try page.waitFor("(() => { const t = \(Self.connections("echo"))?.textContent || ''; return t.includes('\(local)') && t; })()",
                                    "the new connection \(local) to be listed")
        #expect((list as? String)?.hasPrefix("Showing 1 of 1 live connection.") == true)
        #expect(try page.evaluate("\(Self.row("echo")).querySelector('[data-label=Live]').textContent") as? String == "1")
        // Still the first document: the script's state survived, and there was one navigation.
        #expect(try page.evaluate("window.loadedOnce") as? String == "the same document")
        #expect(try page.evaluate("performance.getEntriesByType('navigation').length") as? Int == 1)
        #expect(page.requestedURLs.filter { $0 == url }.count == 1)
        #expect(page.requestedURLs.filter { $0 == url + "status" }.count >= 2)

        client.close()
        try page.waitFor("\(Self.connections("echo"))?.textContent === 'No live connections.'", "the closed connection to go")
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    @Test func aServiceInBackoffIsMarkedUntilItRecovers() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        var blocked = true
        defer { if blocked { Syscall.close(blocker) } }
        let port = Int(try Socket.localAddress(blocker).port)
        let server = try TestSupervisor(#"{ "name": "ok", "kind": "echo", "port": 0 }"#,
                                        #"{ "name": "taken", "kind": "echo", "port": \#(port), "restart": { "initialDelay": 0.5, "maxDelay": 1 } }"#,
                                        status: TestSupervisor.statusOnLoopback, level: .info)
        _ = try server.waitFor("taken") { $0.state == .backoff }
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let page = try browser.open(try Self.url(server), width: 1280, height: 800)
        try page.waitFor("\(Self.row("taken"))?.classList.contains('s-backoff')", "taken to show backoff")
        #expect(try page.evaluate("document.querySelector('tr.svc').dataset.name") as? String == "taken", "not-running services come first")
        #expect(try page.evaluate("\(Self.row("taken")).classList.contains('problem')") as? Bool == true)
        #expect(try page.evaluate("\(Self.row("taken")).querySelector('.col-state').textContent") as? String == "backoff")
        #expect(try page.evaluate("\(Self.row("ok")).classList.contains('problem')") as? Bool == false)
        let banner = try page.evaluate("document.getElementById('problems').hidden ? '' : document.getElementById('problems').textContent") as? String
        #expect(banner == "1 service is not running: taken (backoff)")
        #expect((try page.evaluate("\(Self.row("taken")).querySelector('.err').textContent") as? String)?.contains("Address already in use") == true)
        #expect(try page.evaluate("document.title") as? String == "Portvisor: 1 not running")

        Syscall.close(blocker)
        blocked = false
        try page.waitFor("document.getElementById('problems').hidden && \(Self.row("taken"))?.classList.contains('s-running')",
                         timeout: 8, "taken to show running again")
        #expect(try page.evaluate("document.querySelectorAll('tr.svc.problem').length") as? Int == 0)
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    /// `portvisor stop` is an operator's choice, not a fault: the service is muted and says why,
    /// and neither the banner nor the title counts it; the header shows the last reload.
    @Test func aServiceStoppedByControlIsMutedNotAlarmed() throws {
        let server = try ControlledSupervisor([#"{ "name": "ok", "kind": "echo", "port": 0 }"#, #"{ "name": "held", "kind": "echo", "port": 0 }"#],
                                              status: TestSupervisor.statusOnLoopback)
        guard case .success = ControlSocket.ask(server.controlPath, .stop(["held"])),
              case .success = ControlSocket.ask(server.controlPath, .reload(dryRun: false)) else {
            Issue.record("stop or reload failed")
            return
        }
        let port = try #require(server.supervisor.statusBoundPort)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(port)/", width: 1280, height: 800)
        try page.waitFor("\(Self.row("held"))?.classList.contains('s-stopped')", "held to show stopped")
        #expect(try page.evaluate("\(Self.row("held")).classList.contains('problem')") as? Bool == false)
        #expect(try page.evaluate("\(Self.row("held")).classList.contains('disabled')") as? Bool == true)
        #expect((try page.evaluate("\(Self.row("held")).textContent") as? String)?.contains("stopped by control") == true)
        #expect(try page.evaluate("document.getElementById('problems').hidden") as? Bool == true)
        #expect(try page.evaluate("document.title") as? String == "Portvisor")
        #expect((try page.evaluate("document.body.textContent") as? String)?.contains("last reload") == true)
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    @Test func twoThousandLiveConnectionsRenderInUnderFiveSeconds() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0, "maxConnections": 4000 }"#,
                                        status: TestSupervisor.statusOnLoopback, level: .info)
        let port = try server.port("echo")
        var clients: [TestClient] = []
        clients.reserveCapacity(2000)
        for _ in 0..<2000 { clients.append(try TestClient(port: port)) }
        defer { clients.forEach { $0.close() } }
        _ = try server.waitFor("echo", timeout: 20) { $0.live == 2000 }

        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let started = Date()
        let page = try browser.open(try Self.url(server), width: 1280, height: 800)
        try page.waitFor("document.querySelector('button[data-service=\"echo\"]')", timeout: 5, "the echo row")
        try page.click("button[data-service=\"echo\"]")
        let caption = try page.waitFor("(() => { const r = \(Self.connections("echo")); return r && r.querySelectorAll('table.live > tbody > tr').length === 500 && r.querySelector('.caption').textContent; })()",
                                       timeout: 5, "500 rows of the 2,000 connections")
        let elapsed = Date().timeIntervalSince(started)
        #expect(caption as? String == "Showing 500 of 2,000 live connections.")
        #expect(elapsed < 5, "took \(elapsed) s")
        #expect(try page.evaluate("\(Self.row("echo")).querySelector('[data-label=Live]').textContent") as? String == "2,000")
        // Responsive: the next refresh renders, and collapsing and expanding (two renders) is quick.
        try Self.nextUpdate(page)
        let toggle = try page.evaluate("""
            (() => { const b = document.querySelector('button[data-service="echo"]'); const t = performance.now();
                     b.click(); document.querySelector('button[data-service="echo"]').click(); return performance.now() - t; })()
            """) as? Double ?? .infinity
        #expect(toggle < 1000, "two renders took \(toggle) ms")
        #expect(try page.evaluate("\(Self.connections("echo")).querySelectorAll('table.live > tbody > tr').length") as? Int == 500)
        // A refresh keeps the list where the user scrolled it.
        let wrap = "\(Self.connections("echo")).querySelector('.live-wrap')"
        #expect(try page.evaluate("(\(wrap).scrollTop = 2000, \(wrap).scrollTop)") as? Int == 2000)
        try Self.nextUpdate(page)
        #expect(try page.evaluate("document.getElementById('rows').dataset.updates === document.body.dataset.updates") as? Bool == true)
        #expect(try page.evaluate("\(wrap).scrollTop") as? Int == 2000)
        // While text in the rows is selected (to copy a peer), refreshes leave the rows alone.
        _ = try page.evaluate("getSelection().selectAllChildren(\(Self.connections("echo")).querySelector('table.live > tbody > tr > td'))")
        let frozen = try page.evaluate("document.getElementById('rows').dataset.updates") as? String
        try Self.nextUpdate(page)
        #expect(try page.evaluate("document.getElementById('rows').dataset.updates") as? String == frozen)
        #expect(try page.evaluate("getSelection().toString()") as? String != "")
        _ = try page.evaluate("getSelection().removeAllRanges()")
        try Self.nextUpdate(page)
        #expect(try page.evaluate("document.getElementById('rows').dataset.updates === document.body.dataset.updates") as? Bool == true)
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    @Test func aLostEndpointIsShownAsStale() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let page = try browser.open(try Self.url(server), width: 1280, height: 800)
        try page.waitFor("Number(document.body.dataset.updates) >= 1", "the first update")
        #expect(try page.evaluate("document.getElementById('notice').hidden") as? Bool == true)
        // An answer that is not 200 is a failure too; the next good one clears the notice.
        _ = try page.evaluate("window.realFetch = window.fetch; window.fetch = async () => new Response('busy', { status: 503 })")
        let busy = try page.waitFor("(() => { const n = document.getElementById('notice'); return !n.hidden && n.textContent; })()", "the HTTP 503 notice")
        #expect((busy as? String)?.hasPrefix("Status endpoint not reachable (HTTP 503): what is shown is stale since ") == true, "\(busy)")
        _ = try page.evaluate("window.fetch = window.realFetch")
        try page.waitFor("document.getElementById('notice').hidden && !document.body.classList.contains('stale')", "the notice to clear")
        server.supervisor.stop(drainSeconds: 0)
        let notice = try page.waitFor("(() => { const n = document.getElementById('notice'); return !n.hidden && n.textContent; })()",
                                      timeout: 8, "the not-reachable notice") as? String ?? ""
        #expect(notice.range(of: #"^Status endpoint not reachable \(network error\): what is shown is stale since \d\d:\d\d:\d\d\. Retrying every 2 s\.$"#,
                              options: .regularExpression) != nil, "\(notice)")
        #expect(try page.evaluate("document.body.classList.contains('stale') && !!\(Self.row("echo"))") as? Bool == true)
    }

    /// Documents the supervisor does not send today (later keys, odd types, hostile strings,
    /// 10,000 connections) are fed to the page's own fetch: every string stays text, unknown
    /// members show compactly, and nothing breaks.
    @Test func everyStringIsTextAndUnknownMembersDoNotBreakThePage() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let page = try browser.open(try Self.url(server), width: 1280, height: 800)
        try page.waitFor("Number(document.body.dataset.updates) >= 1", "the first update")
        _ = try page.evaluate(#"""
            (() => {
              const hostile = '<img src=x onerror="window.pwned=1"><b id="injected">b</b>';
              const live = Array.from({ length: 10000 }, (_, i) => ({ peer: '10.0.' + (i >> 8) + '.' + (i & 255) + ':' + (1024 + i),
                since: '2026-11-25T13:02:05.120Z', bytesIn: i, bytesOut: 2 * i, pid: 1000 + i, upstream: '127.0.0.1:5432', later: { x: 1 } }));
              live[3] = { peer: hostile, since: hostile, bytesIn: hostile, bytesOut: null, pid: hostile };
              const doc = {
                supervisor: { pid: 4242, version: hostile, config: '/etc/' + hostile + '/services.json', startedAt: '2026-11-25T13:02:02Z', uptimeSeconds: 7200.5, later: 3 },
                lastReload: { at: '2026-11-25T14:00:00Z', ok: true },
                services: [
                  { name: 'db', kind: 'proxy', host: '::1', port: 15432, range: 'registered', registeredName: null, state: 'running', restarts: 2, lastError: hostile,
                    connections: { live: 10000, total: 123456789, rejected: 5, refused: 6 }, bytes: { in: 5e12, out: 1536 }, live: live,
                    upstreamFailures: 3, processes: { started: 1, running: 1 }, process: { pid: 77, lastExit: hostile }, stoppedBy: 'control',
                    nested: { deep: { deeper: 1 } }, list: [1, 2, 3], protocol: 'tcp', enabled: true },
                  { name: hostile, kind: hostile, host: hostile, port: hostile, range: hostile, state: hostile, restarts: 'x', lastError: { code: hostile },
                    connections: null, bytes: 'none', live: 'oops', timeouts: { idle: 1, write: 0 } },
                  null, 7, 'text',
                  { name: 'u', kind: 'echo', host: '0.0.0.0', port: 7, state: 'paused', protocol: 'udp', datagrams: { in: 1, out: 1, dropped: 1 } }
                ]
              };
              window.pwned = undefined;
              window.fetch = async () => new Response(JSON.stringify(doc), { status: 200, headers: { 'Content-Type': 'application/json' } });
            })()
            """#)
        try Self.nextUpdate(page)
        try page.waitFor("\(Self.row("db"))", "the fed document")
        #expect(try page.evaluate("document.querySelector('#injected') === null && window.pwned === undefined") as? Bool == true)
        let text = try page.evaluate("document.body.textContent") as? String ?? ""
        let hostile = #"<img src=x onerror="window.pwned=1"><b id="injected">b</b>"#
        #expect(text.contains("version \(hostile)") && text.contains("/etc/\(hostile)/services.json"))
        let db = try page.evaluate("\(Self.row("db")).textContent") as? String ?? ""
        for part in ["[::1]:15432", "123,456,789", "4.5 TiB", "1.5 KiB", hostile, "upstreamFailures 3", "processes: started 1, running 1",
                     "process: pid 77, lastExit \(hostile)", "stopped by control", "nested: deep {…}", "list [3]"] {
            #expect(db.contains(part), "\(part) in \(db)")
        }
        #expect(text.contains("lastReload: at 2026-11-25T14:00:00Z, ok yes") && text.contains("up 2h 00m"))
        // An unknown state is shown as it is, and counts as not running.
        #expect(try page.evaluate("\(Self.row("u")).querySelector('.col-state').textContent") as? String == "paused")
        #expect(try page.evaluate("document.getElementById('problems').textContent.includes('u (paused)')") as? Bool == true)
        // 10,000 connections: 500 rows and the full count, rendered at once.
        let started = Date()
        try page.click("button[data-service=\"db\"]")
        let caption = try page.waitFor("(() => { const r = \(Self.connections("db")); return r && r.querySelectorAll('table.live > tbody > tr').length === 500 && r.querySelector('.caption').textContent; })()",
                                       timeout: 3, "500 of 10,000 rows")
        #expect(caption as? String == "Showing 500 of 10,000 live connections.")
        #expect(Date().timeIntervalSince(started) < 2)
        let list = try page.evaluate("\(Self.connections("db")).textContent") as? String ?? ""
        #expect(list.contains(hostile) && list.contains("10.0.1.243:1523") && list.contains("127.0.0.1:5432"))
        #expect(try page.evaluate("document.querySelector('#injected') === null && window.pwned === undefined") as? Bool == true)
        #expect(page.errors.isEmpty, "\(page.errors)")
    }

    /// The Content-Security-Policy holds in the browser: the page's own style and script run,
    /// while markup that slipped in could neither run script nor load anything.
    @Test func theContentSecurityPolicyIsEnforced() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let browser = try HeadlessBrowser()
        defer { browser.close() }
        let page = try browser.open(try Self.url(server), width: 1280, height: 800)
        try page.waitFor("Number(document.body.dataset.updates) >= 1", "the first update (the inline script ran)")
        #expect(try page.evaluate("getComputedStyle(document.querySelector('header')).display") as? String == "flex", "the inline style applies")
        let violations = try page.evaluate("""
            new Promise((resolve) => {
              const seen = new Set();
              document.addEventListener('securitypolicyviolation', (e) => { seen.add(e.effectiveDirective); if (seen.size === 4) resolve([...seen].sort()); });
              setTimeout(() => resolve([...seen].sort()), 4000);
              document.body.insertAdjacentHTML('beforeend', '<img src="/x.png" onerror="window.hole = 1">');
              const script = document.createElement('script');
              script.textContent = 'window.hole = 2';
              document.body.append(script);
              fetch('http://localhost:9/').catch(() => {});
            })
            """) as? [String]
        #expect(violations == ["connect-src", "img-src", "script-src-attr", "script-src-elem"])
        #expect(try page.evaluate("window.hole === undefined") as? Bool == true)
    }

    /// Screenshots at 1280×800 and 400×900 of a few services, one in backoff and a few live
    /// connections; with PORTVISOR_UPDATE_SCREENSHOTS=1 they replace docs/dashboard*.png.
    @Test func screenshots() throws {
        let blocker = try Socket.listen(on: SocketAddress(ip: .loopbackV4, port: 0))
        defer { Syscall.close(blocker) }
        let taken = Int(try Socket.localAddress(blocker).port)
        let json = #"""
            { "status": { "host": "127.0.0.1", "port": 0 }, "services": [
              { "name": "daytime", "kind": "daytime", "port": 0 },
              { "name": "echo", "kind": "echo", "port": 0 },
              { "name": "greeting", "kind": "sentence", "port": 0 },
              { "name": "echo-udp", "kind": "echo", "port": 0, "protocol": "udp" },
              { "name": "legacy", "kind": "echo", "port": \#(taken), "restart": { "initialDelay": 60, "maxDelay": 60 } },
              { "name": "quotes", "kind": "qotd", "port": 20017, "enabled": false, "quotes": ["Q."] } ] }
            """#
        let config = try ConfigLoader.parse(Array(json.utf8), path: "/etc/portvisor/services.json")
        let supervisor = try Supervisor(config: config, logger: Logger(level: .warning, sink: LogSink.memory()))
        try supervisor.start()
        defer { supervisor.stop(drainSeconds: 0) }
        func port(_ name: String) throws -> Int {
            guard let port = supervisor.snapshot(connections: false).services.first(where: { $0.config.name == name })?.boundPort else {
                throw TestFailure("\(name) is not bound")
            }
            return port
        }
        let clients = try (0..<3).map { _ in try TestClient(port: port("echo")) }
        for (i, client) in clients.enumerated() { _ = try client.exchange(Array(repeating: 0x61, count: 100 * (i + 1)), halfClose: false) }
        let greeted = try TestClient(port: port("greeting"))
        _ = try greeted.readLine()
        let datagrams = try TestDatagramSocket()
        try datagrams.send(Array("hello".utf8), to: port("echo-udp"))
        _ = try datagrams.receive()
        guard let status = supervisor.statusBoundPort else { throw TestFailure("no status endpoint") }

        let browser = try HeadlessBrowser()
        defer { browser.close() }
        for (file, width, height) in [("dashboard.png", 1280, 800), ("dashboard-narrow.png", 400, 900)] {
            let page = try browser.open("http://127.0.0.1:\(status)/", width: width, height: height)
            try page.waitFor("document.querySelector('button[data-service=\"echo\"]')", "the echo row")
            try page.click("button[data-service=\"echo\"]")
            try page.waitFor("\(Self.connections("echo"))?.querySelectorAll('table.live > tbody > tr').length === 3", "the three connections")
            _ = try page.evaluate("window.scrollTo(0, 0)")
            try page.send("Input.dispatchMouseEvent", ["type": "mouseMoved", "x": 0, "y": 0])  // no hover effect in the picture
            let png = try page.screenshot()
            // A PNG of exactly the window: the signature, then IHDR's big-endian width and height.
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            let size = (0..<2).map { field in png[(16 + 4 * field)..<(20 + 4 * field)].reduce(0) { $0 << 8 | Int($1) } }
            #expect(size == [width, height])
            if ProcessInfo.processInfo.environment["PORTVISOR_UPDATE_SCREENSHOTS"] == "1" {
                try Data(png).write(to: URL(fileURLWithPath: Repository.path("docs/" + file)))
            }
            #expect(page.errors.isEmpty, "\(page.errors)")
        }
    }
}
