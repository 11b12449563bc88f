#!/usr/bin/env bash
# Validates contrib/ offline with the real tools: systemd-analyze verify and security (units),
# promtool check/test rules (alerts), kubernetes-validate (manifests), bash -n / zsh -n (completions).
# A missing tool is an error naming its package; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

failures=0
fail() { echo "validate-contrib: FAIL: $*" >&2; failures=$((failures + 1)); }
need() { command -v "$1" >/dev/null 2>&1 || { fail "$1 is missing (install $2)"; return 1; }; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== systemd units (systemd-analyze verify, in a scratch root)"
if need systemd-analyze systemd; then
    # verify checks that ExecStart= and ExecReload= exist and loads the units they depend on:
    # give it a root with the distribution's units, /bin/kill and a stand-in portvisor.
    root="$scratch/root"
    mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/usr/local/bin" "$root/bin"
    cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
    cp "$(type -P kill)" "$root/bin/kill"
    printf '#!/bin/sh\n' >"$root/usr/local/bin/portvisor"
    chmod +x "$root/usr/local/bin/portvisor"
    cp contrib/systemd/*.service contrib/systemd/*.socket "$root/etc/systemd/system/"
    units=$(cd contrib/systemd && ls ./*.service ./*.socket | sed 's|^\./||')
    # shellcheck disable=SC2086  # one argument per unit
    if output=$(systemd-analyze verify --root="$root" --man=no $units 2>&1) && [ -z "$output" ]; then
        echo "ok: $(echo $units)"
    else
        fail "systemd-analyze verify: ${output:-exit status}"
    fi
    exposure=$(systemd-analyze security --offline=yes --threshold=30 contrib/systemd/portvisor.service 2>&1 | grep 'Overall exposure') ||
        fail "systemd-analyze security: exposure over 3.0 or no verdict: $exposure"
    echo "${exposure#→ }"
fi

echo "== Prometheus (promtool)"
if need promtool prometheus; then
    (cd contrib/prometheus && promtool check config portvisor.yml >/dev/null && promtool check rules alerts.yml >/dev/null &&
        promtool test rules alerts.test.yml >/dev/null) && echo "ok: portvisor.yml, alerts.yml, alerts.test.yml" ||
        fail "promtool: run it in contrib/prometheus to see why"
fi

echo "== Kubernetes manifests (kubernetes-validate, offline schemas of 1.31)"
if python3 -c 'import kubernetes_validate' 2>/dev/null; then
    python3 -m kubernetes_validate -k 1.31.0 --strict --quiet contrib/kubernetes/*.yaml &&
        echo "ok: $(cd contrib/kubernetes && echo *.yaml)" || fail "kubernetes-validate"
else
    fail "kubernetes-validate is missing (python3 -m pip install kubernetes-validate)"
fi

echo "== shell completions"
bash -n contrib/completion/portvisor.bash && echo "ok: bash -n contrib/completion/portvisor.bash" || fail "bash -n portvisor.bash"
if need zsh zsh; then
    zsh -n contrib/completion/_portvisor && echo "ok: zsh -n contrib/completion/_portvisor" || fail "zsh -n _portvisor"
fi

if [ "$failures" -gt 0 ]; then
    echo "validate-contrib: $failures failure(s)" >&2
    exit 1
fi
echo "validate-contrib: all checks passed"
