#!/usr/bin/env bash
# Proves the Portvisor library works as another package's dependency: builds and runs
# scripts/dependency-check twice, depending on this checkout by path and by git URL (SwiftPM
# refuses unsafe build flags in a URL dependency, so this fails if any target uses them).
# Uses a scratch copy in a temporary folder; removes it at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/portvisor-dependency-XXXXXX)
trap 'rm -rf "$work"' EXIT

run_with() {
    local name=$1 dependency=$2
    mkdir -p "$work/$name"
    cp -R "$root/scripts/dependency-check/Sources" "$work/$name/"
    sed "s|DEPENDENCY|$dependency|" "$root/scripts/dependency-check/Package.swift.in" >"$work/$name/Package.swift"
    echo "== dependency by $name: $dependency"
    (cd "$work/$name" && swift build 2>&1 | tail -3 && timeout 60 "$(swift build --show-bin-path)/DependencyCheck")
}

run_with path ".package(path: \"$root\")"
# A URL dependency sees what is committed: clone HEAD (with any uncommitted changes left out).
git clone -q "$root" "$work/repo"
run_with url ".package(url: \"file://$work/repo\", branch: \"$(git -C "$work/repo" rev-parse --abbrev-ref HEAD)\")"
