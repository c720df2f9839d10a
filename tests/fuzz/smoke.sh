#!/bin/sh
# Short libFuzzer run of every fuzz target: builds the "fuzz" preset (clang, libFuzzer,
# ASan+UBSan) and fuzzes each target for SECONDS (default 20) with a scratch corpus first,
# so new inputs land in build-fuzz/fuzz/scratch/, never in the checked-in corpus.
# Usage: tests/fuzz/smoke.sh [SECONDS]. Skips (exit 0) when clang++/libFuzzer is missing;
# exits 1 if a target crashes (the reproducer is kept in build-fuzz/fuzz/artifacts/).
set -eu

seconds=${1:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"
targets="command_parser_fuzz reply_parser_fuzz data_reader_fuzz"

if ! command -v clang++ >/dev/null 2>&1; then
  echo "smoke: clang++ not found, skipping"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  >"$probe/probe.cc"
if ! clang++ -fsanitize=fuzzer "$probe/probe.cc" -o "$probe/probe" >/dev/null 2>&1; then
  echo "smoke: clang++ cannot link libFuzzer (libclang-rt-dev missing?), skipping"
  exit 0
fi

(cd "$root" && cmake --preset fuzz >/dev/null)
# shellcheck disable=SC2086
cmake --build "$build" --target $targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p "$build/fuzz/artifacts"
failed=""
for t in $targets; do
  scratch="$build/fuzz/scratch/$t"
  mkdir -p "$scratch"
  echo "smoke: $t for ${seconds}s"
  if ! "$build/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$build/fuzz/artifacts/$t-" \
      "$scratch" "$root/tests/fuzz/corpus/$t" >"$build/fuzz/$t.log" 2>&1; then
    failed="$failed $t"
    tail -n 40 "$build/fuzz/$t.log"
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' "$build/fuzz/$t.log" || true
done

if [ -n "$failed" ]; then
  echo "smoke: FAILED:$failed (logs and reproducers in $build/fuzz/)"
  exit 1
fi
echo "smoke: all targets ran ${seconds}s without a finding"
