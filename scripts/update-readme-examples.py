#!/usr/bin/env python3
"""Rewrites the lines README.md shows after `$ portvisor check --config examples/X.json` (up
to the next `$ ` prompt or the end of the block) with what the current build prints. Run from
the repository root after a build; ExamplesTests compares the README with the real output."""
import subprocess, sys
binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/portvisor"
lines = open("README.md").read().split("\n")
out, i, changed = [], 0, False
while i < len(lines):
    line = lines[i]
    out.append(line)
    i += 1
    prefix = "$ portvisor check --config examples/"
    if not line.startswith(prefix):
        continue
    run = subprocess.run([binary] + line[2:].split()[1:], capture_output=True, text=True)
    shown = (run.stdout + run.stderr).rstrip("\n").split("\n")
    end = i
    while end < len(lines) and not lines[end].startswith("$ ") and not lines[end].startswith("```"):
        end += 1
    if lines[i:end] != shown:
        changed = True
    out.extend(shown)
    i = end
if changed:
    open("README.md", "w").write("\n".join(out))
    print("README.md updated")
