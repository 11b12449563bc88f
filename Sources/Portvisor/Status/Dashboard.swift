// The dashboard (SPEC §9): one self-contained HTML page served at `/`, its style and script
// inline, that reads `/status` every 2 s and never changes anything. The page and its
// Content-Security-Policy (which pins the inline style and script by SHA-256) are built here only.

/// The page at `/` and the headers it is served with.
enum Dashboard {
    /// `GET /`: the page, with headers that keep it to its own origin.
    static let response = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", bytes: page, extraHeaders: headers)

    /// The page's bytes.
    static let page: [UInt8] = Array(html.utf8)

    /// Nothing but the inline style and script (pinned by their hashes) and fetches to this origin;
    /// no images, fonts, frames, forms or other origins.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src '\(hashSource(script))'; style-src '\(hashSource(style))'; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let headers = [
        "Content-Security-Policy: \(contentSecurityPolicy)",
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: no-referrer",
    ]

    static let html = head + "<style>" + style + "</style>\n</head>\n" + body + "<script>" + script + "</script>\n</body>\n</html>\n"

    /// A CSP hash source (`sha256-BASE64`) for an inline element's exact text.
    static func hashSource(_ text: String) -> String {
        "sha256-" + base64(sha256(Array(text.utf8)))
    }

    static let head = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Portvisor</title>

"""#

    static let body = #"""
<body>
<header>
<h1>Portvisor</h1>
<p id="supervisor" class="facts">Loading /status…</p>
</header>
<div id="notice" class="notice" role="alert" hidden></div>
<div id="problems" class="problems" role="status" hidden></div>
<main>
<div class="table-wrap">
<table class="services">
<thead><tr><th>State</th><th>Service</th><th>Address</th><th>Range</th><th class="n">Live</th><th class="n">Total</th><th class="n">Rejected</th><th class="n">Refused</th><th class="n">Restarts</th><th class="n">In</th><th class="n">Out</th><th>Last error · details</th></tr></thead>
<tbody id="rows"><tr><td colspan="12" class="muted">Waiting for the first answer from /status…</td></tr></tbody>
</table>
</div>
<p class="foot">Read-only view of <code>/status</code>, refreshed every 2 s. Select a service to list its live connections (at most 500 rows each).</p>
</main>
<noscript><p class="foot">This page needs JavaScript; <code>/status</code> has the same data as JSON.</p></noscript>

"""#

    static let style = #"""
:root {
  --bg: #f4f5f7; --panel: #fff; --fg: #1c2128; --muted: #59636e; --line: #d8dee4; --alt: #f6f8fa;
  --ok: #1a7f37; --info: #0969da; --warn: #8a5c00; --bad: #cf222e; --off: #6e7781;
  --warn-bg: #fff5d6; --bad-bg: #ffebe9;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --panel: #161b22; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --alt: #1c2129;
    --ok: #3fb950; --info: #58a6ff; --warn: #d29922; --bad: #f85149; --off: #9198a1;
    --warn-bg: #2b2208; --bad-bg: #3b1419;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 20px; padding: 12px 20px;
  background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 18px; }
.facts { display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0; }
.facts .k, .muted, .kind, .foot, .caption, .extras { color: var(--muted); }
.facts code { overflow-wrap: anywhere; }
.notice, .problems { margin: 12px 20px 0; padding: 10px 14px; border-radius: 6px; }
.notice { border: 2px solid var(--bad); background: var(--bad-bg); font-weight: 600; }
.problems { border: 1px solid var(--warn); border-left-width: 6px; background: var(--warn-bg); }
.problems.bad { border-color: var(--bad); background: var(--bad-bg); }
.pill { display: inline-block; margin: 2px 8px 2px 0; font-weight: 600; }
body.stale main { opacity: 0.55; }
main { padding: 12px 20px 24px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 7px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
th { font-size: 12px; font-weight: 600; color: var(--muted); white-space: nowrap; background: var(--panel); }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:last-child > td { border-bottom: 0; }
.s-running { --state: var(--ok); }
.s-starting { --state: var(--info); }
.s-backoff { --state: var(--warn); }
.s-failed { --state: var(--bad); }
.s-stopped, .s-other { --state: var(--off); }
tr.svc.problem { background: var(--warn-bg); }
tr.svc.problem.s-failed { background: var(--bad-bg); }
tr.svc.problem > td:first-child { box-shadow: inset 5px 0 0 var(--state); }
tr.svc.disabled { color: var(--muted); }
.state { display: inline-flex; align-items: center; gap: 7px; font-weight: 700; color: var(--state); white-space: nowrap; }
.mark { display: inline-block; flex: none; width: 11px; height: 11px; }
.s-running .mark { border-radius: 50%; background: var(--state); }
.s-starting .mark { border-radius: 50%; border: 2px solid var(--state); }
.s-backoff .mark { width: 0; height: 0; border-left: 6px solid transparent; border-right: 6px solid transparent; border-bottom: 11px solid var(--state); }
.s-failed .mark { background: var(--state); }
.s-stopped .mark, .s-other .mark { border: 2px solid var(--state); }
.name { font-weight: 600; }
.kind { display: block; font-size: 12px; white-space: nowrap; }
.toggle { display: inline-flex; align-items: center; gap: 7px; margin: -2px -4px; padding: 2px 4px; border: 0; border-radius: 4px;
  background: none; color: inherit; font: inherit; font-weight: 600; cursor: pointer; text-align: left; }
.toggle:hover { background: var(--alt); text-decoration: underline; }
.toggle:focus-visible { outline: 2px solid var(--info); outline-offset: 1px; }
.chev { flex: none; width: 7px; height: 7px; border-right: 2px solid currentColor; border-bottom: 2px solid currentColor;
  transform: rotate(-45deg); margin-right: 2px; }
.toggle[aria-expanded="true"] .chev { transform: rotate(45deg); }
.addr { white-space: nowrap; }
.col-detail { min-width: 14em; }
.err { overflow-wrap: anywhere; }
tr.problem .err { color: var(--bad); font-weight: 600; }
.extras { font-size: 12px; overflow-wrap: anywhere; }
.extra { margin-right: 12px; }
.pair { white-space: nowrap; }
.dgrams { font-size: 13px; }
tr.conns > td { background: var(--alt); padding: 6px 10px 12px 34px; }
.caption { margin: 0 0 6px; font-size: 13px; }
.live-wrap { display: inline-block; max-width: 100%; min-width: min(36em, 100%); vertical-align: top; max-height: 26em; overflow: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 4px; }
table.live th, table.live td { padding: 3px 10px; font-size: 13px; }
table.live th { position: sticky; top: 0; z-index: 1; }
.foot { margin: 10px 2px 0; font-size: 12px; }
@media (max-width: 760px) {
  header { padding: 10px 12px; }
  main { padding: 10px 8px 20px; }
  .notice, .problems { margin: 10px 8px 0; }
  .table-wrap { overflow: visible; }
  table.services, table.services > tbody { display: block; }
  table.services > thead { display: none; }
  table.services tr.svc { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 6px 10px; padding: 10px 12px;
    border-bottom: 1px solid var(--line); }
  tr.svc.problem { box-shadow: inset 5px 0 0 var(--state); }
  tr.svc.problem > td:first-child { box-shadow: none; }
  table.services tr.svc > td { display: flex; flex-direction: column; padding: 0; border: 0; text-align: left; min-width: 0; grid-column: span 3; }
  table.services tr.svc > td::before { content: attr(data-label); color: var(--muted); font-size: 11px; line-height: 1.2; }
  table.services tr.svc > td.col-name { order: -3; grid-column: span 8; display: block; }
  table.services tr.svc > td.col-state { order: -2; grid-column: span 4; align-items: flex-end; }
  table.services tr.svc > td.addr { order: -1; grid-column: span 8; }
  table.services tr.svc > td.range { order: -1; grid-column: span 4; align-items: flex-end; }
  table.services tr.svc > td.col-name::before, table.services tr.svc > td.col-state::before,
  table.services tr.svc > td.addr::before, table.services tr.svc > td.range::before { content: none; }
  table.services tr.svc > td.n:nth-child(n+9) { grid-column: span 4; }
  table.services tr.svc > td.col-detail { grid-column: 1 / -1; min-width: 0; }
  table.services tr.svc > td.col-detail.empty { display: none; }
  .kind { display: inline; margin-left: 6px; }
  .addr { white-space: normal; overflow-wrap: anywhere; }
  table.services tr.conns, table.services tr.conns > td { display: block; }
  table.services tr.conns > td { padding: 6px 8px 12px; border-bottom: 1px solid var(--line); }
}
"""#

    static let script = #"""
(() => {
  'use strict';
  const REFRESH_MS = 2000;
  const TIMEOUT_MS = 5000;
  const MAX_ROWS = 500;
  const KNOWN = new Set(['name', 'kind', 'host', 'port', 'range', 'registeredName', 'state', 'restarts', 'lastError',
    'connections', 'bytes', 'live', 'timeouts', 'protocol', 'enabled', 'datagrams', 'stoppedBy']);
  const KNOWN_SUPERVISOR = new Set(['pid', 'version', 'config', 'startedAt', 'uptimeSeconds', 'lastReload']);
  const RANK = { failed: 0, backoff: 1, starting: 2, stopped: 3, running: 5 };
  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const open = new Set();
  const loadedAt = Date.now();
  let last = null;
  let updates = 0;

  const el = (id) => document.getElementById(id);
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const obj = (v) => (v !== null && typeof v === 'object' && !Array.isArray(v)) ? v : {};
  const int = (v) => isNum(v) ? String(Math.trunc(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '–';
  const num = (v) => Number.isInteger(v) ? int(v) : String(Math.round(v * 1000) / 1000);
  const two = (v) => String(v).padStart(2, '0');
  const clock = (ms) => { const t = new Date(ms); return two(t.getHours()) + ':' + two(t.getMinutes()) + ':' + two(t.getSeconds()); };
  const clip = (text, limit = 300) => text.length > limit ? text.slice(0, limit - 1) + '…' : text;

  const bytes = (v) => {
    if (!isNum(v)) return '–';
    if (Math.abs(v) < 1024) return int(v) + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let n = v;
    let i = -1;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (Math.abs(n) < 10 ? n.toFixed(1) : String(Math.round(n))) + ' ' + units[i];
  };

  const duration = (seconds) => {
    if (!isNum(seconds)) return '–';
    const s = Math.max(0, Math.floor(seconds));
    const m = Math.floor(s / 60);
    const h = Math.floor(m / 60);
    if (s < 60) return s + 's';
    if (m < 60) return m + 'm ' + two(s % 60) + 's';
    if (h < 24) return h + 'h ' + two(m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + two(h % 24) + 'h';
  };

  const stateOf = (s) => typeof s.state === 'string' ? s.state : 'unknown';
  const enabled = (s) => s.enabled !== false;
  /* Stopped on purpose (portvisor stop): shown muted, like a disabled one, not as a fault. */
  const held = (s) => s.stoppedBy === 'control';
  const isProblem = (s) => enabled(s) && !held(s) && stateOf(s) !== 'running';
  const rank = (s) => !enabled(s) ? 7 : held(s) ? 6 : (Object.hasOwn(RANK, stateOf(s)) ? RANK[stateOf(s)] : 4);
  const stateClass = (s) => Object.hasOwn(RANK, stateOf(s)) ? 's-' + stateOf(s) : 's-other';
  const isUDP = (s) => s.protocol === 'udp' || (s.protocol === undefined && s.datagrams !== undefined);
  const nameOf = (s) => typeof s.name === 'string' ? s.name : '?';

  const address = (s) => {
    const host = typeof s.host === 'string' ? s.host : '?';
    const port = isNum(s.port) ? String(s.port) : '?';
    return (host.includes(':') ? '[' + host + ']' : host) + ':' + port + (isUDP(s) ? '/udp' : '');
  };

  const scalar = (v) => {
    if (isNum(v)) return num(v);
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (v === null || v === undefined) return '–';
    return Array.isArray(v) ? '[' + v.length + ']' : '{…}';
  };

  /* A member of /status this page does not know, as short escaped HTML ('' for null): a number,
     string or flag as "key value", an object as "key: a 1, b 2" (its first 8 members). */
  const pair = (key, value) => '<span class="pair">' + esc(clip(key + ' ' + scalar(value), 80)) + '</span>';
  const compact = (key, value) => {
    if (value === null || value === undefined) return '';
    if (typeof value !== 'object' || Array.isArray(value)) return pair(key, value);
    return esc(clip(key, 80)) + ': ' + Object.keys(value).slice(0, 8).map((k) => pair(k, value[k])).join(', ');
  };

  const td = (cls, label, html) => '<td class="' + cls + '" data-label="' + label + '">' + html + '</td>';

  const detail = (s, udp) => {
    const parts = [];
    if (s.lastError !== null && s.lastError !== undefined) {
      parts.push('<div class="err">' + esc(clip(typeof s.lastError === 'string' ? s.lastError : JSON.stringify(s.lastError))) + '</div>');
    }
    if (udp) {
      const d = obj(s.datagrams);
      parts.push('<div class="dgrams">datagrams in ' + int(d.in) + ' · out ' + int(d.out) + ' · dropped ' + int(d.dropped) + '</div>');
    }
    const extras = [];
    const t = obj(s.timeouts);
    const fired = Object.keys(t).filter((k) => isNum(t[k]) && t[k] > 0);
    if (fired.length) extras.push('timeouts: ' + fired.map((k) => pair(k, t[k])).join(', '));
    for (const key of Object.keys(s)) {
      if (!KNOWN.has(key)) { const html = compact(key, s[key]); if (html) extras.push(html); }
    }
    if (extras.length) parts.push('<div class="extras">' + extras.map((html) => '<span class="extra">' + html + '</span>').join('') + '</div>');
    return parts.join('');
  };

  const serviceRow = (s, expanded) => {
    const name = nameOf(s);
    const udp = isUDP(s);
    const c = obj(s.connections);
    const b = obj(s.bytes);
    const cls = stateClass(s);
    const details = detail(s, udp);
    const title = udp ? '' : '<button type="button" class="toggle" data-service="' + esc(name) + '" aria-expanded="' + expanded
      + '"><span class="chev" aria-hidden="true"></span>' + esc(name) + '</button>';
    return '<tr class="svc ' + cls + (isProblem(s) ? ' problem' : '') + (enabled(s) && !held(s) ? '' : ' disabled') + '" data-name="' + esc(name) + '">'
      + td('col-state', 'State', '<span class="state ' + cls + '"><span class="mark" aria-hidden="true"></span>' + esc(stateOf(s)) + '</span>')
      + td('col-name', 'Service', (udp ? '<span class="name">' + esc(name) + '</span>' : title) + '<span class="kind">' + esc(scalar(s.kind)) + (enabled(s) ? '' : ' · disabled') + (held(s) ? ' · stopped by control' : '') + '</span>')
      + td('addr mono', 'Address', esc(address(s)))
      + td('range', 'Range', esc(scalar(s.range)) + (typeof s.registeredName === 'string' ? ' <span class="muted">(' + esc(s.registeredName) + ')</span>' : ''))
      + td('n', 'Live', udp ? '–' : int(c.live))
      + td('n', 'Total', udp ? '–' : int(c.total))
      + td('n', 'Rejected', udp ? '–' : int(c.rejected))
      + td('n', 'Refused', udp ? '–' : int(c.refused))
      + td('n', 'Restarts', int(s.restarts))
      + td('n', 'In', esc(bytes(b.in)))
      + td('n', 'Out', esc(bytes(b.out)))
      + (details ? td('col-detail', 'Last error · details', details) : td('col-detail empty', 'Last error', '<span class="muted">–</span>'))
      + '</tr>';
  };

  const liveRows = (s, nowMs) => {
    const list = Array.isArray(s.live) ? s.live : [];
    const counted = isNum(obj(s.connections).live) ? obj(s.connections).live : 0;
    const shown = list.slice(0, MAX_ROWS).map(obj);
    let caption = 'No live connections.';
    if (list.length) caption = 'Showing ' + int(shown.length) + ' of ' + int(list.length) + ' live connection' + (list.length === 1 ? '' : 's') + '.';
    else if (counted > 0) caption = int(counted) + ' live; their list did not arrive in this update.';
    let table = '';
    if (shown.length) {
      const pid = shown.some((e) => e.pid !== undefined);
      const upstream = shown.some((e) => e.upstream !== undefined);
      const rows = new Array(shown.length);
      for (let i = 0; i < shown.length; i += 1) {
        const e = shown[i];
        const since = typeof e.since === 'string' ? Date.parse(e.since) : NaN;
        rows[i] = '<tr><td class="mono">' + esc(scalar(e.peer)) + '</td><td class="n" title="' + esc(scalar(e.since)) + '">'
          + (Number.isFinite(since) ? duration((nowMs - since) / 1000) : '–') + '</td><td class="n">' + esc(bytes(e.bytesIn))
          + '</td><td class="n">' + esc(bytes(e.bytesOut)) + '</td>' + (pid ? '<td class="n">' + esc(scalar(e.pid)) + '</td>' : '')
          + (upstream ? '<td class="mono">' + esc(scalar(e.upstream)) + '</td>' : '') + '</tr>';
      }
      table = '<div class="live-wrap"><table class="live"><thead><tr><th>Peer</th><th class="n">Age</th><th class="n">In</th><th class="n">Out</th>'
        + (pid ? '<th class="n">PID</th>' : '') + (upstream ? '<th>Upstream</th>' : '') + '</tr></thead><tbody>' + rows.join('') + '</tbody></table></div>';
    }
    return '<tr class="conns" data-for="' + esc(nameOf(s)) + '"><td colspan="12"><p class="caption">' + esc(caption) + '</p>' + table + '</td></tr>';
  };

  const supervisorFacts = (doc, sup) => {
    const fact = (k, html) => '<span><span class="k">' + k + '</span> ' + html + '</span>';
    const facts = [
      fact('pid', esc(isNum(sup.pid) ? String(sup.pid) : scalar(sup.pid))),
      fact('version', esc(scalar(sup.version))),
      fact('up', esc(duration(sup.uptimeSeconds))),
      fact('config', '<code>' + esc(scalar(sup.config)) + '</code>'),
    ];
    const reload = sup.lastReload;
    if (reload && typeof reload === 'object') {
      const when = typeof reload.at === 'string' && Number.isFinite(Date.parse(reload.at)) ? clock(Date.parse(reload.at)) : '?';
      const errors = Array.isArray(reload.errors) ? reload.errors.length : 0;
      facts.push(fact('last reload', esc(when + ' ' + (reload.ok === true ? 'ok' : 'failed' + (errors ? ' (' + errors + ' error' + (errors === 1 ? '' : 's') + ')' : '')))));
    }
    const extras = [];
    for (const key of Object.keys(sup)) if (!KNOWN_SUPERVISOR.has(key)) extras.push(compact(key, sup[key]));
    for (const key of Object.keys(doc)) if (key !== 'supervisor' && key !== 'services') extras.push(compact(key, doc[key]));
    for (const html of extras) if (html) facts.push('<span class="extras">' + html + '</span>');
    facts.push(fact('updated', esc(clock(last.at))));
    return facts.join('');
  };

  const renderProblems = (services) => {
    const box = el('problems');
    const bad = services.filter(isProblem);
    document.title = bad.length ? 'Portvisor: ' + bad.length + ' not running' : 'Portvisor';
    if (!bad.length) { box.hidden = true; box.textContent = ''; return; }
    box.className = 'problems' + (bad.some((s) => stateOf(s) === 'failed') ? ' bad' : '');
    box.innerHTML = '<strong>' + bad.length + (bad.length === 1 ? ' service is' : ' services are') + ' not running:</strong> '
      + bad.map((s) => '<span class="pill">' + esc(nameOf(s)) + ' (' + esc(stateOf(s)) + ')</span>').join('');
    box.hidden = false;
  };

  /* Renders the last answer: one innerHTML for the rows. Focus and the scroll position of each
     connection list are kept; while the user is selecting text in the rows (to copy a peer),
     only the header and the banner move on, unless `always` (the user asked for the change). */
  const render = (always) => {
    const doc = last.doc;
    const sup = obj(doc.supervisor);
    const services = (Array.isArray(doc.services) ? doc.services : []).filter((s) => s !== null && typeof s === 'object' && !Array.isArray(s));
    const started = typeof sup.startedAt === 'string' ? Date.parse(sup.startedAt) : NaN;
    const nowMs = Number.isFinite(started) && isNum(sup.uptimeSeconds) ? started + sup.uptimeSeconds * 1000 : last.at;
    el('supervisor').innerHTML = supervisorFacts(doc, sup);
    renderProblems(services);
    document.body.dataset.updates = String(updates);
    const rows = el('rows');
    const selection = document.getSelection();
    if (!always && selection && !selection.isCollapsed && rows.contains(selection.anchorNode)) return;
    const order = services.map((s, i) => [rank(s), i, s]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const html = [];
    for (const [, , s] of order) {
      const expanded = !isUDP(s) && open.has(nameOf(s));
      html.push(serviceRow(s, expanded));
      if (expanded) html.push(liveRows(s, nowMs));
    }
    const active = document.activeElement;
    const focused = active && active.getAttribute ? active.getAttribute('data-service') : null;
    const scrolled = new Map();
    for (const list of rows.querySelectorAll('tr.conns')) {
      const box = list.querySelector('.live-wrap');
      if (box) scrolled.set(list.getAttribute('data-for'), box.scrollTop);
    }
    rows.innerHTML = html.length ? html.join('') : '<tr><td colspan="12" class="muted">/status lists no services.</td></tr>';
    for (const list of rows.querySelectorAll('tr.conns')) {
      const box = list.querySelector('.live-wrap');
      const top = scrolled.get(list.getAttribute('data-for'));
      if (box && top) box.scrollTop = top;
    }
    if (focused !== null) {
      for (const button of rows.querySelectorAll('button[data-service]')) {
        if (button.getAttribute('data-service') === focused) { button.focus({ preventScroll: true }); break; }
      }
    }
    rows.dataset.updates = String(updates);
  };

  /* The red notice over the table: null clears it. */
  const setNotice = (text) => {
    const box = el('notice');
    document.body.classList.toggle('stale', text !== null);
    box.textContent = text === null ? '' : text;
    box.hidden = text === null;
  };

  const unreachable = (reason) => 'Status endpoint not reachable (' + reason + ')'
    + (last ? ': what is shown is stale since ' + clock(last.at) : ' since ' + clock(loadedAt)) + '. Retrying every 2 s.';

  const refresh = async () => {
    const started = Date.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    let doc = null;
    try {
      const response = await fetch('/status', { cache: 'no-store', headers: { Accept: 'application/json' }, signal: abort.signal });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      doc = await response.json();
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a status document');
    } catch (error) {
      doc = null;
      setNotice(unreachable(error && error.name === 'AbortError' ? 'no answer within 5 s' : error instanceof TypeError ? 'network error' : String(error && error.message || error)));
    }
    clearTimeout(timer);
    if (doc !== null) {
      last = { doc: doc, at: Date.now() };
      updates += 1;
      setNotice(null);
      try { render(false); } catch (error) { setNotice('Cannot show the answer from /status (' + String(error && error.message || error) + '). Retrying every 2 s.'); }
    }
    setTimeout(refresh, Math.max(0, REFRESH_MS - (Date.now() - started)));
  };

  el('rows').addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-service]') : null;
    if (!button || !last) return;
    const name = button.getAttribute('data-service');
    if (open.has(name)) open.delete(name); else open.add(name);
    render(true);
  });

  refresh();
})();
"""#
}

// MARK: - SHA-256 (FIPS 180-4) and base64, for the CSP hash sources

extension Dashboard {
    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// The SHA-256 digest of `message`.
    static func sha256(_ message: [UInt8]) -> [UInt8] {
        var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        func rotate(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for block in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let at = block + 4 * i
                w[i] = UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3])
            }
            for i in 16..<64 {
                let s0 = rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
            for i in 0..<64 {
                let t1 = h &+ (rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)) &+ ((e & f) ^ (~e & g)) &+ roundConstants[i] &+ w[i]
                let t2 = (rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, value) in [a, b, c, d, e, f, g, h].enumerated() { state[i] = state[i] &+ value }
        }
        return state.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> UInt32($0)) } }
    }

    /// Standard base64 with padding (RFC 4648 §4).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: 3) {
            let chunk = bytes[start..<min(start + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for i in 0..<4 {
                out.append(i <= chunk.count ? alphabet[Int((value >> (18 - 6 * UInt32(i))) & 63)] : UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
