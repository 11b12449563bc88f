#!/usr/bin/env bash
# Fuzzing (docs/fuzzing.md). `scripts/fuzz.sh [SECONDS] [TARGET...]` builds the libFuzzer binaries
# and runs each target for SECONDS (30); `scripts/fuzz.sh --replay` replays the committed inputs.
set -euo pipefail
cd "$(dirname "$0")/.."

# target folder name, executable, -max_len (the HTTP one reaches past the 8 KiB head limit)
targets=(
    "config ConfigFuzzer 8192"
    "http-request HTTPRequestFuzzer 10240"
    "ack-line AckLineFuzzer 2048"
    "cidr CIDRFuzzer 128"
    "zone-rules ZoneRulesFuzzer 4096"
)

# The existing input folders of one target: seeds first, then regressions.
inputs() {
    for dir in "Fuzz/corpus/$1" "Fuzz/regressions/$1"; do
        if [ -d "$dir" ]; then echo "$dir"; fi
    done
}

if [ "${1:-}" = "--replay" ]; then
    scratch="${SCRATCH_PATH:-.build}"
    swift build --scratch-path "$scratch"
    bin="$(swift build --scratch-path "$scratch" --show-bin-path)"
    status=0
    for entry in "${targets[@]}"; do
        read -r name executable _ <<<"$entry"
        # shellcheck disable=SC2046
        "$bin/$executable" $(inputs "$name") || status=1
    done
    exit $status
fi

seconds="${1:-30}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...] | --replay" >&2; exit 64 ;;
esac
shift || true
wanted=("$@")

scratch="${SCRATCH_PATH:-.build-fuzz}"
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld)
out="fuzz-out"
# No Swift backtracer inside a sanitized binary: libFuzzer and ASan report the crash themselves.
export SWIFT_BACKTRACE=enable=no

status=0
for entry in "${targets[@]}"; do
    read -r name executable max_len <<<"$entry"
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
    echo "== $name: building $executable"
    swift build "${flags[@]}" --product "$executable"
    bin="$(swift build "${flags[@]}" --show-bin-path)"
    # New inputs go to fuzz-out/NAME/corpus (ignored by git); findings to fuzz-out/NAME/.
    mkdir -p "$out/$name/corpus"
    dict=()
    if [ -f "Fuzz/dictionaries/$name.dict" ]; then dict=(-dict="Fuzz/dictionaries/$name.dict"); fi
    echo "== $name: fuzzing for $seconds s"
    # shellcheck disable=SC2046
    if ! timeout $((seconds + 120)) "$bin/$executable" "$out/$name/corpus" $(inputs "$name") "${dict[@]}" \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=2 -rss_limit_mb=2048 \
        -artifact_prefix="$out/$name/" -print_final_stats=1; then
        echo "== $name: FINDING, see $out/$name/ (crash-*, timeout-*, oom-*)" >&2
        status=1
    fi
done
exit $status
