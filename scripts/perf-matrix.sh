#!/usr/bin/env bash
# How Portvisor's cost grows, for docs/performance.md: round trips by connection count and by
# message size, memory per idle connection up to the descriptor limit, /status with ten
# thousand live connections (and what polling it costs the echo service), and how fast a
# listener destroyed with `ss -K` serves again. Loopback only; every load is bounded.
#   scripts/perf-matrix.sh                      (about 5 minutes; uses .build/release/portvisor)
#   SECTIONS="status sskill" scripts/perf-matrix.sh   (some of: rr size idle status sskill)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
esac

PORTVISOR=${PORTVISOR:-.build/release/portvisor}
[ -x "$PORTVISOR" ] || swift build -c release >/dev/null
DUR=${DUR:-3}
SECTIONS=${SECTIONS:-"rr size idle status sskill"}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
work=$(mktemp -d /tmp/portvisor-perf.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo_port=$(free_port); status_port=$(free_port)
cat >"$work/services.json" <<EOF
{ "status": { "host": "127.0.0.1", "port": $status_port },
  "services": [ { "name": "echo", "kind": "echo", "port": $echo_port, "maxConnections": 100000,
                  "restart": { "initialDelay": 0.1, "resetAfter": 0.5 } } ] }
EOF

start() {
    rm -f "$work/log"
    "$PORTVISOR" run --config "$work/services.json" >/dev/null 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do grep -q 'echo: listening' "$work/log" 2>/dev/null && return; sleep 0.05; done
    echo "portvisor did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(str(d.get(k,'-')) for k in sys.argv[1:]))" "$@"; }
bench() { "$PORTVISOR" bench "$@" --port "$echo_port" --json; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if want rr; then
echo "== rr by connections (64 B): rate p50 p99 p999 (us) client-cores"
start
for c in 1 64 512 4096; do
    printf 'rr c=%-5s ' "$c"; bench rr --connections "$c" --duration "$DUR" | json rate p50_us p99_us p999_us client_cores
done
stop
fi
if want size; then
echo "== rr by message size (64 connections)"
start
for s in 64 1024 16384 65536; do
    printf 'rr s=%-6s ' "$s"
    bench rr --connections 64 --size "$s" --duration "$DUR" | json rate p50_us p99_us | awk -v s="$s" '{printf "%s rps (%.0f MB/s each way) p50 %s us p99 %s us\n", $1, $1 * s / 1e6, $2, $3}'
done
stop
fi

if want idle; then
echo "== idle memory per connection (fresh server each): established still-echoing KiB-per-connection"
limit=$(ulimit -Hn)
for c in 1000 5000 10000 $(( limit - 500 )); do
    start
    printf 'idle c=%-6s ' "$c"; bench idle --connections "$c" --duration 1 --pid "$pid" | json established still_echoing kib_per_connection
    stop
done
fi

if want status; then
echo "== /status with 10,000 live connections"
start
"$PORTVISOR" bench idle --port "$echo_port" --connections 10000 --duration $(( DUR * 14 + 10 )) >"$work/idle" &
idle=$!
for _ in $(seq 200); do [ "$(curl -s "http://127.0.0.1:$status_port/status" | grep -c '"peer"')" -ge 10000 ] && break; sleep 0.1; done
before=$(cpu_ticks "$pid")
for _ in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$status_port/status"; done | sort -n | awk '{a[NR]=$1} END {printf "status: median %.1f ms, max %.1f ms over 10 polls; ", a[int((NR+1)/2)]*1000, a[NR]*1000}'
echo "server CPU $(( ($(cpu_ticks "$pid") - before) * 10 / 10 )) ms per poll"
# Polling costs the client machine too (curl, 1 MB a poll): polling /healthz at the same rate
# measures that harness cost, so the difference to /status polling is what /status costs.
poll() {  # PATH: GET it 10 times a second for DUR+2 seconds, in the background
    ( end=$((SECONDS + DUR + 2)); while [ $SECONDS -lt $end ]; do curl -s -o /dev/null "http://127.0.0.1:$status_port$1"; sleep 0.1; done ) &
    poller=$!
}
for round in 1 2 3; do
    printf 'round %s: rr c=64 alone %s' "$round" "$(bench rr --connections 64 --duration "$DUR" | json rate)"
    poll /healthz; printf ', polling /healthz %s' "$(bench rr --connections 64 --duration "$DUR" | json rate)"; wait "$poller" 2>/dev/null || true
    poll /status; printf ', polling /status %s rps\n' "$(bench rr --connections 64 --duration "$DUR" | json rate)"; wait "$poller" 2>/dev/null || true
done
kill "$idle" 2>/dev/null || true; wait "$idle" 2>/dev/null || true
stop
fi

if want sskill && [ "$(id -u)" = 0 ] && command -v ss >/dev/null; then
    # Measured in the server's own log: from the line reporting the failure to the next
    # "listening on" line (initialDelay 0.1 s, jitter only shortens it). resetAfter is 0.5 s
    # here so each kill starts from initialDelay again.
    echo "== listener destroyed with ss -K (initialDelay 0.1 s)"
    start
    for _ in $(seq 5); do
        sleep 0.8
        ss -K -t -l "sport = :$echo_port" >/dev/null
    done
    sleep 0.5
    stop
    grep -E 'echo: (listening socket:|listening on)' "$work/log" | tail -n +2 | python3 -c '
import sys, datetime
def t(line): return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
lines = sys.stdin.read().splitlines()
for failed, back in zip(lines[0::2], lines[1::2]):
    print("failure logged -> listening again: %.0f ms" % ((t(back) - t(failed)).total_seconds() * 1000))'
fi
rm -rf "$work"
