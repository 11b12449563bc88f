// The dashboard's route and page without a browser: GET and HEAD /, its headers and CSP (the
// hashes checked against sha256sum), the 404/405 rules around it, and a page that names no
// other origin and loads nothing but /status.
import Foundation
import Testing
@testable import Portvisor

@Suite struct DashboardPageTests {
    let router = StatusRouter(snapshot: { _ in StatusRouterTests.snapshot() }, environment: { PortEnvironment() })

    func request(_ method: String, _ path: String) -> HTTPRequest {
        HTTPRequest(method: method, path: path, version: "HTTP/1.1", headers: [])
    }

    static let page = String(decoding: Dashboard.page, as: UTF8.self)

    @Test func getServesThePageWithItsHeaders() {
        let response = router.route(request("GET", "/"))
        #expect(response.status == 200)
        #expect(response.contentType == "text/html; charset=utf-8")
        #expect(response.body == Dashboard.page)
        #expect(response.extraHeaders.contains("Content-Security-Policy: \(Dashboard.contentSecurityPolicy)"))
        #expect(response.extraHeaders.contains("X-Content-Type-Options: nosniff"))
        #expect(response.extraHeaders.contains("Referrer-Policy: no-referrer"))
        let wire = String(decoding: router.respond(to: request("GET", "/")), as: UTF8.self)
        #expect(wire.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(Dashboard.page.count)\r\n"))
        #expect(wire.contains("\r\nContent-Security-Policy: default-src 'none'; "))
        #expect(wire.hasSuffix("\r\n\r\n" + Self.page))
    }

    @Test func headHasTheHeadersOfGetWithoutTheBody() {
        let get = String(decoding: router.respond(to: request("GET", "/")), as: UTF8.self)
        let head = String(decoding: router.respond(to: request("HEAD", "/")), as: UTF8.self)
        #expect(head.hasSuffix("\r\n\r\n"))
        #expect(get == head + Self.page)
        #expect(head.contains("Content-Length: \(Dashboard.page.count)\r\n"))
    }

    @Test func otherMethodsAre405AndOtherPathsStill404() throws {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "BREW"] {
            let response = router.route(request(method, "/"))
            #expect(response.status == 405, "\(method)")
            #expect(response.extraHeaders == ["Allow: GET, HEAD"])
        }
        for path in ["/index.html", "//", "/status/", "/dashboard", ""] {
            #expect(router.route(request("GET", path)).status == 404, "\(path)")
        }
        #expect(router.route(request("GET", "/nope")).body == Array("404 Not Found: no such path; try /, /status, /healthz or /metrics\n".utf8))
        var head = HTTPRequestHead()
        let query = try #require(try head.append(Array("GET /?refresh=1 HTTP/1.1\r\n\r\n".utf8)))
        #expect(router.route(query).status == 200, "a query string is ignored")
        #expect(!StatusRouter.needsConnections(request("GET", "/")), "the page itself needs no connection lists")
    }

    /// Over a real socket: the whole page arrives, and HEAD sends the same head alone.
    @Test func theEndpointServesThePage() throws {
        let server = try TestSupervisor(#"{ "name": "echo", "kind": "echo", "port": 0 }"#, status: TestSupervisor.statusOnLoopback, level: .info)
        let get = try server.statusExchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(statusCode(get) == 200)
        #expect(get.hasSuffix("\r\n\r\n" + Self.page))
        #expect(get.contains("\r\nContent-Type: text/html; charset=utf-8\r\n") && get.contains("\r\nX-Content-Type-Options: nosniff\r\n"))
        let head = try server.statusExchange("HEAD / HTTP/1.0\r\n\r\n")
        #expect(get == head + Self.page)
        #expect(statusCode(try server.statusExchange("POST / HTTP/1.1\r\n\r\n")) == 405)
    }

    /// The policy allows nothing but this origin's fetches and the page's own style and script.
    @Test func theContentSecurityPolicyForbidsEveryOtherSource() throws {
        var directives: [String: [String]] = [:]
        for part in Dashboard.contentSecurityPolicy.split(separator: ";") {
            let words = part.split(separator: " ").map(String.init)
            directives[words[0]] = Array(words.dropFirst())
        }
        #expect(directives["default-src"] == ["'none'"])
        #expect(directives["connect-src"] == ["'self'"])
        #expect(directives["base-uri"] == ["'none'"] && directives["form-action"] == ["'none'"] && directives["frame-ancestors"] == ["'none'"])
        #expect(directives["script-src"] == ["'\(try Self.hashSource(of: "script"))'"])
        #expect(directives["style-src"] == ["'\(try Self.hashSource(of: "style"))'"])
        #expect(Set(directives.keys) == ["default-src", "script-src", "style-src", "connect-src", "base-uri", "form-action", "frame-ancestors"])
        for word in ["unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http:", "https:", "data:"] {
            #expect(!Dashboard.contentSecurityPolicy.contains(word), "\(word)")
        }
    }

    /// `sha256-BASE64` of the element's text in the served page, computed by sha256sum.
    static func hashSource(of element: String) throws -> String {
        let parts = page.components(separatedBy: "<\(element)>")
        #expect(parts.count == 2, "one <\(element)>")
        guard parts.count == 2, let text = parts[1].components(separatedBy: "</\(element)>").first else { throw TestFailure("no <\(element)>") }
        return "sha256-" + Data(try sha256sum(Array(text.utf8))).base64EncodedString()
    }

    static func sha256sum(_ bytes: [UInt8]) throws -> [UInt8] {
        let directory = try TempDirectory()
        let file = directory.file("input")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let run = try ChildProcess("/usr/bin/sha256sum", [file])
        run.closeStdin()
        #expect(try run.waitForExit() == 0)
        let hex = Array(run.stdoutText.prefix(64).utf8)
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16) ?? 0 }
    }

    @Test func sha256AndBase64MatchTheirReferences() throws {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex(Dashboard.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(Dashboard.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Dashboard.sha256(Array(repeating: 0x61, count: 1_000_000))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        for count in [1, 55, 56, 57, 63, 64, 65, 119, 120, 1000] {
            let bytes = randomBytes(count, seed: UInt64(count))
            #expect(Dashboard.sha256(bytes) == (try Self.sha256sum(bytes)), "\(count) bytes")
        }
        for (text, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            #expect(Dashboard.base64(Array(text.utf8)) == encoded)
        }
        let bytes = randomBytes(1000, seed: 7)
        #expect(Dashboard.base64(bytes) == Data(bytes).base64EncodedString())
    }

    /// One page, nothing to fetch but /status: no other origin, no stylesheet, image, font,
    /// frame, form or script file, and a single fetch.
    @Test func thePageIsSelfContained() {
        let page = Self.page
        for needle in ["http://", "https://", "//", "<link", "<img", "@import", "url(", "src=", "<iframe", "<object", "<embed",
                       "<form", "<input", "<base", "<meta http-equiv", "XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon",
                       "import(", "new Image", "@font-face", "eval(", "new Function", "method:", "POST"] {
            #expect(!page.contains(needle), "the page contains \(needle)")
        }
        #expect(page.components(separatedBy: "<script").count == 2 && page.components(separatedBy: "<style").count == 2)
        #expect(page.components(separatedBy: "fetch(").count == 2)
        #expect(page.contains("fetch('/status', { cache: 'no-store'"))
        #expect(Dashboard.script.range(of: "</script", options: .caseInsensitive) == nil && !Dashboard.script.contains("<!--"))
        #expect(Dashboard.style.range(of: "</style", options: .caseInsensitive) == nil)
        #expect(page.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"))
        // The limits the docs promise.
        #expect(Dashboard.script.contains("const REFRESH_MS = 2000;") && Dashboard.script.contains("const MAX_ROWS = 500;"))
        // Nothing from /status reaches the markup without esc(): every innerHTML takes built strings only.
        #expect(Dashboard.script.components(separatedBy: "innerHTML =").count == 4)
        #expect(!Dashboard.script.contains("outerHTML") && !Dashboard.script.contains("insertAdjacentHTML") && !Dashboard.script.contains("document.write"))
    }
}
