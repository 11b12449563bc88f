// The status endpoint's token (SPEC §9, `status.tokenFile`): with one configured, `/`, `/status`
// and `/metrics` need `Authorization: Bearer TOKEN`; `/healthz` stays open for probes. Pure, and
// the comparison takes the same time wherever the first difference is.

public enum StatusAccess {
    /// The paths a probe may read without the token.
    public static let openPaths: Set<String> = ["/healthz"]

    /// nil when `request` may be answered; else the 401 to send.
    public static func check(_ request: HTTPRequest, token: String?) -> HTTPResponse? {
        guard let token, !openPaths.contains(request.path) else { return nil }
        let given = request.headers.first { $0.name.lowercased() == "authorization" }?.value ?? ""
        let scheme = "bearer "
        if given.count > scheme.count, given.prefix(scheme.count).lowercased() == scheme,
           constantTimeEqual(Array(given.utf8.dropFirst(scheme.count)), Array(token.utf8)) {
            return nil
        }
        let detail = given.isEmpty ? "this endpoint needs Authorization: Bearer with the token of status.tokenFile"
                                   : "the token does not match status.tokenFile"
        return HTTPResponse.error(401, detail).with(header: "WWW-Authenticate: Bearer realm=\"portvisor\"")
    }

    /// Equal bytes, compared in time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}
