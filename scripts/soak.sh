#!/usr/bin/env bash
# The fault and abuse suite at full size (docs/reliability.md): a 60 s soak of 512 echo
# connections under a signal storm, 1,000 half-closes and resets, descriptor exhaustion,
# 100 listener kills with `ss -K`, 100 reloads, 1,000 config mutations, 10,000 bad status
# requests and slow heads. Built in release (with testing enabled) so the client keeps up.
#   scripts/soak.sh            full size (about 3 minutes after the build)
#   scripts/soak.sh --short    the sizes `swift test` runs on every change
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
    --short) mode=short ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    "") ;;
    *) echo "usage: scripts/soak.sh [--short]" >&2; exit 64 ;;
esac

export PORTVISOR_FAULTS=$mode
log=$(mktemp /tmp/portvisor-soak.XXXXXX)
echo "soak: $mode run; full output in $log"
status=0
timeout 1200 swift test -c release -Xswiftc -enable-testing --scratch-path .build-soak \
    --filter 'FaultTests|AbuseTests' >"$log" 2>&1 || status=$?
grep -E '^FAULTS|Test run with|recorded an issue' "$log" | cut -c1-400
exit $status
