#!/usr/bin/env bash
# The README's second command: installs what is missing, builds everything once, runs the
# unit, fuzz-corpus replay and integration tests with CTest, then a short fuzz smoke run
# (clang + libFuzzer) when available. Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/setup.sh"
jobs=$(nproc)
cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
ninja -C "$root/build" -j "$jobs"
cd "$root/build"
ctest --output-on-failure -j "$jobs" --timeout 900
if [[ -x "$root/tests/fuzz/smoke.sh" && "${GW_SKIP_FUZZ:-0}" != 1 ]]; then
  "$root/tests/fuzz/smoke.sh" "${GW_FUZZ_SECONDS:-15}"
fi
