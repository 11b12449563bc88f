#!/usr/bin/env bash
# Proves the Portvisor library works as another package's dependency: builds and runs
# scripts/dependency-check twice, depending on this checkout by path, and by version from a git
# URL in a release build. SwiftPM refuses unsafe build flags in a dependency taken by version
# ("the target 'Portvisor' in product 'Portvisor' contains unsafe build flags"), so the second
# run fails if any target uses them.
# Uses a scratch copy in a temporary folder; removes it at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/portvisor-dependency-XXXXXX)
trap 'rm -rf "$work"' EXIT

run_with() {
    local name=$1 dependency=$2 configuration=$3
    mkdir -p "$work/$name"
    cp -R "$root/scripts/dependency-check/Sources" "$work/$name/"
    sed "s|DEPENDENCY|$dependency|" "$root/scripts/dependency-check/Package.swift.in" >"$work/$name/Package.swift"
    echo "== dependency by $name: $dependency"
    (cd "$work/$name" && swift build -c "$configuration" 2>&1 | tail -3 &&
        timeout 60 "$(swift build -c "$configuration" --show-bin-path)/DependencyCheck")
}

# A package's identity is its folder's name: reach the checkout as .../Portvisor, whatever its
# own folder is called.
ln -s "$root" "$work/Portvisor"
run_with path ".package(path: \"$work/Portvisor\")" debug
# A URL dependency sees what is committed: clone HEAD (uncommitted changes are left out) and tag
# it with a version no real release uses.
mkdir "$work/remote"
git clone -q "$root" "$work/remote/Portvisor"
git -C "$work/remote/Portvisor" tag 999.0.0
run_with version ".package(url: \"file://$work/remote/Portvisor\", exact: \"999.0.0\")" release
