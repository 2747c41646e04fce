#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang and runs each one for a while on its seeds.
# The build dir is its own (NER_BUILD_FUZZERS=ON, clang, no tests, no server) and only the
# targets and the torch-free libraries they link are built, never the LibTorch code.
#
#   scripts/fuzz.sh                              every target, 60 s each
#   scripts/fuzz.sh --seconds 300 zip dataset    the targets named, 5 minutes each
#   scripts/fuzz.sh --smoke                      every target, 10 s each (the ctest fuzz_smoke)
#   --build-dir DIR                              default build-fuzz (relative to the checkout)
#
# fuzz/corpus/<target>/ is only read. Inputs that find new coverage go to DIR/corpus/<target>/
# (kept between runs, so a later run starts where the last one ended); crashes, leaks, timeouts
# and out-of-memory inputs to DIR/artifacts/<target>/, logs to DIR/logs/<target>.log. Prints per
# target the executions, the seconds and the corpus size, and exits 1 when any target failed
# (also when clang++ or libFuzzer is missing: scripts/install_deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(utf8 tokenizer segmenter dataset config safetensors zip torch_pickle)
seconds=60
build_dir=build-fuzz
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --smoke) seconds=10; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ -d "fuzz/corpus/$t" ]] || { echo "fuzz.sh: unknown target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
done

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: FAILED: clang++ not found; install clang and libclang-rt-14-dev" \
       "(scripts/install_deps.sh)" >&2
  exit 1
fi

# Configure (the CMake step checks that clang can link libFuzzer) and build.
mkdir -p "$build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DNER_BUILD_FUZZERS=ON -DNER_BUILD_TESTS=OFF \
  -DNER_BUILD_SERVER=OFF -DNER_BUILD_BENCH=OFF >"$build_dir/configure.log" 2>&1 || {
  tail -20 "$build_dir/configure.log" >&2
  echo "fuzz.sh: FAILED: configuring $build_dir (log: $build_dir/configure.log)" >&2
  exit 1
}
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Longest input tried: binary checkpoint formats need room for a header and some tensors, text
# and JSON much less. Smaller inputs run faster and still reach every branch.
max_len() {
  case "$1" in
    safetensors|zip|torch_pickle) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
summary=()
failed=0
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t"
  log="$build_dir/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz.sh: fuzz_$t for ${seconds}s (log: $log)"
  status=0
  # The first corpus dir is the writable one; the committed seeds come second, read-only.
  "$build_dir/fuzz/fuzz_$t" "$corpus" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)
  # The corpus in memory at the end (committed seeds + what this and earlier runs found).
  units=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -1)
  if ((status == 0)) && [[ -n "$runs" ]]; then
    result=ok
  else
    result="FAILED (exit $status)"
    failed=1
    grep -E "ERROR: |FUZZ_CHECK failed|runtime error|Test unit written" "$log" | head -5 >&2 || true
  fi
  summary+=("$(printf '%-14s %12s %8s %8s  %s' "$t" "${runs:--}" "${secs:--}" "${units:--}" "$result")")
done

printf '\n%-14s %12s %8s %8s  %s\n' target executions seconds corpus result
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "fuzz.sh: FAILED: see the logs in $build_dir/logs and the inputs in $build_dir/artifacts" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s each without a crash"
