#!/usr/bin/env bash
# compare.sh - one interleaved benchmark matrix against Portvisor, the C reference server and
# whatever peers are running, measured with `portvisor bench` and the C tcpload side by side.
# Loopback only; every load is bounded and stops by itself; only what this script started is
# stopped, by PID, also on Ctrl-C.
set -u -o pipefail

usage() {
    cat <<'EOF'
usage: scripts/compare.sh [--peers[=LIST]] [[NAME=]HOST:PORT[@PID] ...]
       scripts/compare.sh --table RESULTS    (print a results file's tables again)
       scripts/compare.sh --help

Runs one benchmark matrix against several servers, interleaved, each test with both load
generators (`portvisor bench` and the C tcpload) so they check each other, and prints the
medians with ratios against the C reference server (and SwiftNIO when it runs).

Servers:
  portvisor  a release build started here on a temporary services.json (echo, daytime,
             sentence on free loopback ports, maxConnections 100000); stopped at the end
  ref        /work/shared/bench/refserver.c compiled to $REFSERVER and started here
  peers      xinetd, openbsd-inetd, socat, NIOEchoServer (127.0.0.1:20107): those already
             running (bench/run-peers.sh status) are measured and left running; with --peers
             the missing ones are started with run-peers.sh start and stopped at the end
             (--peers=nio,socat: only those; installing them is run-peers.sh install)
  extra      every HOST:PORT argument is an echo server (loopback only); NAME= labels it,
             @PID lets the script read its CPU and memory

Matrix (each knob is an environment variable):
  idle      IDLE_CONNS (5000) held IDLE_HOLD s (3); first, on each fresh server; the server's
            RSS growth per connection (portvisor bench --pid, which runs first) for
            single-process servers whose PID is known
  rr        RR_CONNS ("64 512") connections, RR_SIZE (64) bytes
  stream    STREAM_CONNS (1) connection
  connect   CONNECT_WORKERS (32) workers, daytime servers
  sentence  SENTENCE_WORKERS (32) workers, sentence servers (Portvisor)
  DUR (3) s measured after WARMUP (1) s for rr and stream; THREADS (1) client threads;
  REPEAT (1) rounds, interleaved across servers, tools alternating which goes first.

Paths: PORTVISOR (.build/release/portvisor, built when missing), TCPLOAD (/tmp/tcpload; without
it only portvisor bench runs), REFSERVER (/tmp/refserver), BENCH_DIR (../shared/bench),
RESULTS (raw lines; default /tmp/portvisor-compare-DATE.txt; the load generators' stderr and
portvisor's log go beside it as .stderr and .portvisor.log).

"server cores" is the CPU the server's PID (plus children it reaped) used per second of the run,
from /proc/PID/stat. Client and servers share this machine's cores: compare within one run.
EOF
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
[ -d "$BENCH_DIR" ] || BENCH_DIR=/work/shared/bench
PORTVISOR=${PORTVISOR:-$ROOT/.build/release/portvisor}
TCPLOAD=${TCPLOAD:-/tmp/tcpload}
REFSERVER=${REFSERVER:-/tmp/refserver}
RUN_PEERS=$BENCH_DIR/run-peers.sh
DUR=${DUR:-3}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-1}
THREADS=${THREADS:-1}
RR_CONNS=${RR_CONNS:-"64 512"}
RR_SIZE=${RR_SIZE:-64}
STREAM_CONNS=${STREAM_CONNS:-1}
CONNECT_WORKERS=${CONNECT_WORKERS:-32}
SENTENCE_WORKERS=${SENTENCE_WORKERS:-32}
IDLE_CONNS=${IDLE_CONNS:-5000}
IDLE_HOLD=${IDLE_HOLD:-3}
RESULTS=${RESULTS:-/tmp/portvisor-compare-$(date +%Y%m%d-%H%M%S).txt}
LOAD_ERR=${RESULTS%.txt}.stderr          # what the load generators said on stderr
SERVER_LOG=${RESULTS%.txt}.portvisor.log # portvisor run's log (warnings and errors only)

log() { printf 'compare: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

START_PEERS=0
PEER_NAMES="xinetd openbsd-inetd socat nio"
TABLE_ONLY=
EXTRAS=()
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) usage; exit 0 ;;
    --peers) START_PEERS=1 ;;
    --peers=*) START_PEERS=1; PEER_NAMES=$(echo "${1#--peers=}" | tr ',' ' ') ;;
    --table) [ $# -ge 2 ] || die "--table needs a results FILE"; TABLE_ONLY=$2; shift ;;
    -*) log "unknown option $1"; usage >&2; exit 64 ;;
    *) EXTRAS+=("$1") ;;
    esac
    shift
done

# ---- what we started, and stopping it ----------------------------------------------------
STARTED_PIDS=()      # servers started here
STARTED_PEERS=()     # peers started here through run-peers.sh
CHILD=               # the load generator running now
TMP=$(mktemp -d /tmp/portvisor-compare.XXXXXX)

stop_pid() {   # TERM, up to 5 s, then KILL; only a PID we started
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}
cleanup() {
    trap - EXIT INT TERM
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
    local pid
    for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; wait "$pid" 2>/dev/null; done
    if [ ${#STARTED_PEERS[@]} -gt 0 ]; then "$RUN_PEERS" stop "${STARTED_PEERS[@]}" >&2; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# run_bounded OUT CMD...: runs a load generator in the background (so a signal reaches the
# trap at once) and waits; both tools stop by themselves, the watchdogs guard them.
run_bounded() {
    local out=$1; shift
    "$@" > "$out" 2>> "$LOAD_ERR" &
    CHILD=$!
    wait "$CHILD"
    local rc=$?
    CHILD=
    return $rc
}

# ---- ports and processes -----------------------------------------------------------------
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN; }
wait_listen() {
    local i
    for i in $(seq 100); do listening "$1" && return 0; sleep 0.1; done
    return 1
}
CHOSEN=" "
free_port() {   # a port in 21000..32767 nobody listens on (below the usual ephemeral range)
    local p i
    for i in $(seq 200); do
        p=$((21000 + RANDOM % 11767))
        case $CHOSEN in *" $p "*) continue ;; esac
        listening "$p" && continue
        CHOSEN="$CHOSEN$p "
        echo "$p"
        return 0
    done
    die "no free port found"
}
is_loopback() {
    case $1 in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac
}
cpu_ticks() {   # utime+stime+cutime+cstime of PID (fields 14-17 of /proc/PID/stat), or -
    [ "$1" = - ] && { echo -; return; }
    awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo -
}
HZ=$(getconf CLK_TCK)
now_s() { date +%s.%N; }

# ---- servers: NAME PID ECHO DAYTIME SENTENCE SINGLE_PROCESS ----------------------------------
SERVERS=()
add_server() { SERVERS+=("$1|$2|$3|$4|$5|$6"); }
field() { echo "$1" | cut -d'|' -f"$2"; }

start_portvisor() {
    if [ ! -x "$PORTVISOR" ]; then
        log "building $PORTVISOR (swift build -c release)"
        (cd "$ROOT" && swift build -c release --product portvisor >&2) || die "release build failed"
    fi
    local echo_port day_port sent_port pid
    echo_port=$(free_port); day_port=$(free_port); sent_port=$(free_port)
    cat > "$TMP/services.json" <<EOF
{ "status": false,
  "services": [
    { "name": "echo", "kind": "echo", "port": $echo_port, "maxConnections": 100000 },
    { "name": "daytime", "kind": "daytime", "port": $day_port, "maxConnections": 100000 },
    { "name": "sentence", "kind": "sentence", "port": $sent_port, "maxConnections": 100000 }
  ] }
EOF
    "$PORTVISOR" run --config "$TMP/services.json" --log-level warning > "$TMP/portvisor.out" 2> "$SERVER_LOG" < /dev/null &
    pid=$!
    STARTED_PIDS+=("$pid")
    for p in "$echo_port" "$day_port" "$sent_port"; do
        wait_listen "$p" || die "portvisor did not listen on $p (see $SERVER_LOG)"
    done
    log "started portvisor pid $pid: echo $echo_port, daytime $day_port, sentence $sent_port"
    add_server portvisor "$pid" "127.0.0.1:$echo_port" "127.0.0.1:$day_port" "127.0.0.1:$sent_port" 1
}

start_ref() {
    local src=$BENCH_DIR/refserver.c echo_port day_port pid
    if [ ! -x "$REFSERVER" ] || { [ -f "$src" ] && [ "$src" -nt "$REFSERVER" ]; }; then
        [ -f "$src" ] && command -v cc > /dev/null || { log "no $REFSERVER and cannot build it; skipping the C reference"; return; }
        cc -O2 -pthread -o "$REFSERVER" "$src" || { log "building $REFSERVER failed; skipping the C reference"; return; }
    fi
    echo_port=$(free_port); day_port=$(free_port)
    "$REFSERVER" "$echo_port" "$day_port" > /dev/null 2>> "$LOAD_ERR" < /dev/null &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_listen "$echo_port" && wait_listen "$day_port" || die "refserver did not listen (see $LOAD_ERR)"
    log "started ref pid $pid: echo $echo_port, daytime $day_port"
    add_server ref "$pid" "127.0.0.1:$echo_port" "127.0.0.1:$day_port" - 1
}

add_peers() {
    [ -x "$RUN_PEERS" ] || { log "no $RUN_PEERS; no peers"; return; }
    local name state rest pid echo_hp day_hp single
    if [ "$START_PEERS" = 1 ]; then
        for name in $PEER_NAMES; do
            "$RUN_PEERS" status | grep -q "^$name running" && continue
            if "$RUN_PEERS" start "$name" >&2; then STARTED_PEERS+=("$name"); else log "$name did not start; skipping it"; fi
        done
    fi
    while read -r name state rest; do
        [ "$state" = running ] || continue
        pid=$(echo "$rest" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
        echo_hp=$(echo "$rest" | sed -n 's/.*echo=\([^ ]*\).*/\1/p')
        day_hp=$(echo "$rest" | sed -n 's/.*daytime=\([^ ]*\).*/\1/p')
        case $name in nio) single=1 ;; *) single=0 ;; esac   # the inetds and socat fork per connection
        add_server "$name" "${pid:--}" "${echo_hp:--}" "${day_hp:--}" - "$single"
        log "measuring running peer $name (pid $pid)"
    done < <("$RUN_PEERS" status 2>/dev/null)
}

add_extras() {
    local arg name hp pid host n=0
    for arg in "${EXTRAS[@]}"; do
        n=$((n + 1))
        name=extra$n; hp=$arg; pid=-
        case $hp in *=*) name=${hp%%=*}; hp=${hp#*=} ;; esac
        case $hp in *@*) pid=${hp##*@}; hp=${hp%@*} ;; esac
        host=${hp%:*}; host=${host#[}; host=${host%]}
        is_loopback "$host" || die "$arg: only loopback targets (127.0.0.0/8, ::1, localhost)"
        [ "$pid" = - ] || [ -r "/proc/$pid/stat" ] || die "$arg: no process $pid"
        add_server "$name" "$pid" "$host:${hp##*:}" - - 1
    done
}

# ---- one measurement ---------------------------------------------------------------------
# record SERVER TOOL TEST CONNS key=value... : one line of the results file
record() { local s=$1 t=$2 x=$3 c=$4; shift 4; echo "server=$s tool=$t test=$x conns=$c $*" >> "$RESULTS"; }
jnum() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" "$2" | head -1; }   # a number (or null) from a flat JSON line
kv() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" "$2" | head -1; }

# measure SERVER PID TOOL TEST CONNS HOST:PORT
measure() {
    local server=$1 pid=$2 tool=$3 test=$4 conns=$5 hp=$6
    local host=${hp%:*} port=${hp##*:} out=$TMP/out.$$ t0 t1 c0 c1 srv rate p50 p99 p999 errors cli warm=0 size=
    host=${host#[}; host=${host%]}
    case $test in rr|stream) warm=$WARMUP ;; esac
    [ "$test" = rr ] && size=$RR_SIZE
    c0=$(cpu_ticks "$pid"); t0=$(now_s)
    if [ "$tool" = bench ]; then
        run_bounded "$out" "$PORTVISOR" bench "$test" --host "$host" --port "$port" --connections "$conns" \
            --duration "$DUR" --warmup "$warm" --threads "$THREADS" ${size:+--size "$size"} --json
        rate=$(jnum rate "$out"); p50=$(jnum p50_us "$out"); p99=$(jnum p99_us "$out"); p999=$(jnum p999_us "$out")
        errors=$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' "$out"); cli=$(jnum client_cores "$out")
        [ "$p50" = null ] && p50=- && p99=- && p999=-   # stream has no latencies
    else
        local args=(-c "$conns" -d "$DUR" -w "$warm" -t "$THREADS")
        [ -n "$size" ] && args+=(-s "$size")
        run_bounded "$out" "$TCPLOAD" "$test" -H "$host" -p "$port" "${args[@]}"
        case $test in rr) rate=$(kv rps "$out") ;; stream) rate=$(kv MBps "$out") ;; *) rate=$(kv cps "$out") ;; esac
        p50=$(kv p50_us "$out"); p99=$(kv p99_us "$out"); p999=$(kv p999_us "$out")
        errors=$(kv errors "$out"); cli=$(kv client_cores "$out")
    fi
    t1=$(now_s); c1=$(cpu_ticks "$pid")
    srv=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
        'BEGIN { if (a == "-" || b == "-" || b == "") print "-"; else printf "%.2f", (b - a) / hz / (t1 - t0) }')
    [ -n "$rate" ] || { rate=FAILED; log "$server $test c=$conns: $tool gave no result (see $LOAD_ERR)"; }
    record "$server" "$tool" "$test" "$conns" "rate=$rate p50=${p50:--} p99=${p99:--} p999=${p999:--} errors=${errors:--} srv=$srv cli=${cli:--}"
    log "$server $test c=$conns $tool: rate=$rate p99=${p99:--} errors=${errors:--} server_cores=$srv"
    sleep 0.5   # let the server settle (closing connections, TIME_WAIT) before the next run
}

# idle SERVER PID SINGLE TOOL HOST:PORT: held connections and the server's RSS per connection
measure_idle() {
    local server=$1 pid=$2 single=$3 tool=$4 hp=$5
    local host=${hp%:*} port=${hp##*:} out=$TMP/idle.$$ held errors per=-
    host=${host#[}; host=${host%]}
    if [ "$tool" = bench ]; then
        local pidarg=()
        [ "$single" = 1 ] && [ "$pid" != - ] && pidarg=(--pid "$pid")
        run_bounded "$out" "$PORTVISOR" bench idle --host "$host" --port "$port" --connections "$IDLE_CONNS" \
            --duration "$IDLE_HOLD" --threads "$THREADS" "${pidarg[@]}" --json
        held=$(jnum still_echoing "$out"); per=$(jnum kib_per_connection "$out")
        errors=$(sed -n 's/.*"errors":{"total":\([0-9]*\).*/\1/p' "$out")
    else
        # Memory only from the first run on a fresh server: a second run reuses the heap the
        # first one grew, so tcpload's idle run cross-checks the held count only.
        run_bounded "$out" "$TCPLOAD" idle -H "$host" -p "$port" -c "$IDLE_CONNS" -d "$IDLE_HOLD" -S 60 -t "$THREADS"
        held=$(kv verified "$out"); errors=$(kv errors "$out")
    fi
    [ -n "$held" ] || held=FAILED
    [ "$per" = null ] && per=-
    record "$server" "$tool" idle "$IDLE_CONNS" "rate=$held errors=${errors:--} kib_per_conn=${per:--}"
    log "$server idle c=$IDLE_CONNS $tool: held=$held errors=${errors:--} KiB/conn=${per:--}"
    sleep 1
}

# ---- the tables ----------------------------------------------------------------------------
# Medians per server and test, for each tool; the p50/p99/p999 and server cores columns come from
# the portvisor bench run with the median rate. "vs ref"/"vs nio": portvisor bench's medians.
table() {
    awk '
    function v(l, k,   re) { re = " " k "=[^ ]*"; if (match(" " l, re)) return substr(" " l, RSTART + length(k) + 2, RLENGTH - length(k) - 2); return "-" }
    function median(key,   m, i, j, x, a) {
        m = n[key]; for (i = 1; i <= m; i++) a[i] = vals[key, i]
        for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j] < a[j-1]; j--) { x = a[j]; a[j] = a[j-1]; a[j-1] = x }
        return m ? a[int((m + 1) / 2)] : ""
    }
    function pick(key, med,   i) { for (i = 1; i <= n[key]; i++) if (vals[key, i] == med) return line[key, i]; return "" }
    function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
    function shown(key, med, unit) {
        if (med == "") return failed[key] ? "FAILED" : "-"
        return sprintf(unit == " MB/s" ? "%.1f" : "%.0f", med) unit
    }
    /^server=/ {
        s = v($0, "server"); t = v($0, "tool"); x = v($0, "test") " c=" v($0, "conns"); r = v($0, "rate")
        if (!((s, x) in seen)) { seen[s, x] = 1; order[++no] = s SUBSEP x }
        errs[s, x, t] += v($0, "errors") + 0
        key = s SUBSEP x SUBSEP t
        if (r == "FAILED") { failed[key] = 1; next }
        n[key]++; vals[key, n[key]] = r + 0; line[key, n[key]] = $0
    }
    END {
        printf "| server | test | portvisor bench | tcpload | bench/tcpload | p50 us | p99 us | p999 us | errors (bench/tcpload) | server cores | vs ref | vs nio | runs |\n"
        printf "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        for (i = 1; i <= no; i++) {
            split(order[i], k, SUBSEP); s = k[1]; x = k[2]
            if (x ~ /^idle/) continue
            kb = s SUBSEP x SUBSEP "bench"; kt = s SUBSEP x SUBSEP "tcpload"
            b = median(kb); c = median(kt); l = pick(kb, b)
            ref = median("ref" SUBSEP x SUBSEP "bench"); nio = median("nio" SUBSEP x SUBSEP "bench")
            unit = (x ~ /^rr/) ? " rps" : (x ~ /^stream/) ? " MB/s" : " conn/s"
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %d/%d | %s | %s | %s | %d |\n", s, x, shown(kb, b, unit), shown(kt, c, unit),
                ratio(b, c), v(l, "p50"), v(l, "p99"), v(l, "p999"), errs[s, x, "bench"], errs[s, x, "tcpload"], v(l, "srv"),
                (s == "ref" ? "1.00" : ratio(b, ref)), (s == "nio" ? "1.00" : ratio(b, nio)), n[kb]
        }
        printf "\n| server | idle | held (bench) | held (tcpload) | bench/tcpload | errors (bench/tcpload) | server RSS KiB/conn |\n"
        printf "|---|---|---|---|---|---|---|\n"
        for (i = 1; i <= no; i++) {
            split(order[i], k, SUBSEP); s = k[1]; x = k[2]
            if (x !~ /^idle/) continue
            kb = s SUBSEP x SUBSEP "bench"; kt = s SUBSEP x SUBSEP "tcpload"
            b = median(kb); c = median(kt)
            printf "| %s | %s | %s | %s | %s | %d/%d | %s |\n", s, x, shown(kb, b, ""), shown(kt, c, ""), ratio(b, c),
                errs[s, x, "bench"], errs[s, x, "tcpload"], v(pick(kb, b), "kib_per_conn")
        }
    }' "$1"
}

# ---- main ----------------------------------------------------------------------------------------
if [ -n "$TABLE_ONLY" ]; then
    table "$TABLE_ONLY"
    exit
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
command -v ss > /dev/null || die "ss (iproute2) is needed to find free ports"
HAVE_TCPLOAD=1
[ -x "$TCPLOAD" ] || { HAVE_TCPLOAD=0; log "no tcpload at $TCPLOAD: only portvisor bench runs (build: cc -O2 -pthread -o /tmp/tcpload $BENCH_DIR/tcpload.c)"; }
start_portvisor
start_ref
add_peers
add_extras
{
    echo "# compare.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) kernel=$(uname -r) cpus=$(nproc) REPEAT=$REPEAT DUR=$DUR WARMUP=$WARMUP THREADS=$THREADS"
    echo "# RR_CONNS=\"$RR_CONNS\" RR_SIZE=$RR_SIZE STREAM_CONNS=$STREAM_CONNS CONNECT_WORKERS=$CONNECT_WORKERS SENTENCE_WORKERS=$SENTENCE_WORKERS IDLE_CONNS=$IDLE_CONNS IDLE_HOLD=$IDLE_HOLD"
    for s in "${SERVERS[@]}"; do echo "# server $s"; done
} >> "$RESULTS"
TOOLS="bench"
[ "$HAVE_TCPLOAD" = 1 ] && TOOLS="bench tcpload"

# Idle first, on each fresh server: memory per connection is cleanest before any other load.
for s in "${SERVERS[@]}"; do
    [ "$(field "$s" 3)" = - ] && continue
    for tool in $TOOLS; do measure_idle "$(field "$s" 1)" "$(field "$s" 2)" "$(field "$s" 6)" "$tool" "$(field "$s" 3)"; done
done
# Then REPEAT rounds: each test on every server that has the service, both tools, their order
# alternating from round to round.
for r in $(seq "$REPEAT"); do
    tools=$TOOLS
    [ $((r % 2)) = 0 ] && [ "$HAVE_TCPLOAD" = 1 ] && tools="tcpload bench"
    tests=()
    for c in $RR_CONNS; do tests+=("rr $c 3"); done
    tests+=("stream $STREAM_CONNS 3" "connect $CONNECT_WORKERS 4" "sentence $SENTENCE_WORKERS 5")
    for t in "${tests[@]}"; do
        set -- $t
        for s in "${SERVERS[@]}"; do
            hp=$(field "$s" "$3")
            [ "$hp" = - ] && continue
            for tool in $tools; do measure "$(field "$s" 1)" "$(field "$s" 2)" "$tool" "$1" "$2" "$hp"; done
        done
    done
done
echo
echo "results: $RESULTS"
echo
table "$RESULTS"
