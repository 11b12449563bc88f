#!/usr/bin/env bash
# Regenerates the files rendered from CommandSpec: docs/portvisor.1 and contrib/completion/.
# A test compares them with a fresh rendering, so run this after changing a command or option.
#   scripts/generate-docs.sh [SCRATCH_PATH]     (default .build; e.g. .build-prod)
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=${1:-.build}
swift build --scratch-path "$scratch" --product portvisor >/dev/null
portvisor="$(swift build --scratch-path "$scratch" --show-bin-path)/portvisor"

mkdir -p docs contrib/completion
"$portvisor" help --man >docs/portvisor.1
"$portvisor" completion bash >contrib/completion/portvisor.bash
"$portvisor" completion zsh >contrib/completion/_portvisor
echo "generated docs/portvisor.1, contrib/completion/portvisor.bash, contrib/completion/_portvisor"
