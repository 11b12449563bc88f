#!/usr/bin/env bash
# How Portvisor's cost grows, for docs/performance.md: round trips by connection count and by
# message size, memory per idle connection up to the descriptor limit, /status with ten
# thousand live connections (and what polling it costs the echo service), and how fast a
# listener destroyed with `ss -K` serves again. Loopback only; every load is bounded.
#   scripts/perf-matrix.sh            (about 4 minutes; uses .build/release/portvisor)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
esac

PORTVISOR=${PORTVISOR:-.build/release/portvisor}
[ -x "$PORTVISOR" ] || swift build -c release >/dev/null
DUR=${DUR:-3}
work=$(mktemp -d /tmp/portvisor-perf.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo_port=$(free_port); status_port=$(free_port)
cat >"$work/services.json" <<EOF
{ "status": { "host": "127.0.0.1", "port": $status_port },
  "services": [ { "name": "echo", "kind": "echo", "port": $echo_port, "maxConnections": 100000 } ] }
EOF

start() {
    "$PORTVISOR" run --config "$work/services.json" >/dev/null 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do grep -q 'echo: listening' "$work/log" 2>/dev/null && return; sleep 0.05; done
    echo "portvisor did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(str(d.get(k,'-')) for k in sys.argv[1:]))" "$@"; }
bench() { "$PORTVISOR" bench "$@" --port "$echo_port" --json; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== rr by connections (64 B)"
start
for c in 1 64 512 4096; do
    printf 'rr c=%-5s ' "$c"; bench rr --connections "$c" --duration "$DUR" | json rate p50_us p99_us p999_us client_cores
done
echo "== rr by message size (64 connections)"
for s in 64 1024 16384 65536; do
    printf 'rr s=%-6s ' "$s"
    bench rr --connections 64 --size "$s" --duration "$DUR" | json rate p50_us p99_us | awk -v s="$s" '{printf "%s rps (%.0f MB/s each way) p50 %s us p99 %s us\n", $1, $1 * s / 1e6, $2, $3}'
done
stop

echo "== idle memory per connection (fresh server each)"
limit=$(ulimit -Hn)
for c in 1000 5000 10000 $(( limit - 500 )); do
    start
    printf 'idle c=%-6s ' "$c"; bench idle --connections "$c" --duration 1 --pid "$pid" | json established still_echoing kib_per_connection
    stop
done

echo "== /status with 10,000 live connections"
start
"$PORTVISOR" bench idle --port "$echo_port" --connections 10000 --duration $(( DUR * 4 + 8 )) >/dev/null &
idle=$!
sleep 3
before=$(cpu_ticks "$pid")
for _ in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$status_port/status"; done | sort -n | awk '{a[NR]=$1} END {printf "status: median %.1f ms, max %.1f ms over 10 polls; ", a[int((NR+1)/2)]*1000, a[NR]*1000}'
echo "server CPU $(( ($(cpu_ticks "$pid") - before) * 10 / 10 )) ms per poll"
printf 'rr c=64 alone            '; bench rr --connections 64 --duration "$DUR" | json rate p99_us
( end=$((SECONDS + DUR + 2)); while [ $SECONDS -lt $end ]; do curl -s -o /dev/null "http://127.0.0.1:$status_port/status"; sleep 0.1; done ) &
poller=$!
printf 'rr c=64, /status 10/s    '; bench rr --connections 64 --duration "$DUR" | json rate p99_us
wait "$poller" 2>/dev/null || true
kill "$idle" 2>/dev/null || true; wait "$idle" 2>/dev/null || true
stop

if [ "$(id -u)" = 0 ] && command -v ss >/dev/null; then
    echo "== listener destroyed with ss -K (initialDelay 0.1 s)"
    start
    for _ in $(seq 5); do
        sleep 0.3
        t0=$(date +%s%N)
        ss -K -t -l "sport = :$echo_port" >/dev/null
        until python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$echo_port)))" 2>/dev/null; do :; done
        echo "serving again after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    done
    stop
fi
rm -rf "$work"
