#!/usr/bin/env bash
# Micro-benchmarks (Google Benchmark, bench/): builds the four bench binaries with
# NER_BUILD_BENCH=ON, runs each with 1 and with 2 intra-op threads, writes the JSON results to
# out/bench/<bench>-t<threads>.json, prints the console tables and then a summary of the
# side-by-side ratios the performance issue asks about (MFU, relative-position overhead,
# bf16 / fp32). A benchmark, not a test: run it on a quiet machine. See docs/performance.md.
#   scripts/bench/micro.sh
# Environment:
#   BUILD_DIR=build    the configured build tree (scripts/build.sh makes it)
#   THREADS="1 2"      intra-op thread counts to run (--ner_threads)
#   BENCHES="text crf lstm encoder"   which binaries; empty = none (only the summary of what exists)
#   REPS=1             --benchmark_repetitions; > 1 also interleaves the repetitions randomly
#   FILTER=regex       --benchmark_filter for every binary
#   TAG=name           appended to the JSON file names, e.g. TAG=-hugetlb
#   SKIP_BUILD=1       run what is built
#   NER_SHARED_DIR     the shared/ folder with data/ (default: the checkout's sibling)
#   GLIBC_TUNABLES     passed through and recorded in each file's context; on this project's VM
#                      GLIBC_TUNABLES=glibc.malloc.hugetlb=1 changes the encoder figures a lot
#                      (page faults cost ~13 us each there, see docs/performance.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
OUT=out/bench
THREADS=${THREADS-"1 2"}
BENCHES=${BENCHES-"text crf lstm encoder"}
REPS=${REPS:-1}
TAG=${TAG:-}
export NER_SHARED_DIR=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  # Other builds share this machine: take the build lock when there is one.
  lock=()
  command -v flock > /dev/null && lock=(flock /tmp/ner-build.lock)
  "${lock[@]}" cmake "$B" -DNER_BUILD_BENCH=ON > /dev/null
  targets=()
  for b in $BENCHES; do targets+=("ner_${b}_bench"); done
  "${lock[@]}" ninja -C "$B" -j "$(nproc)" "${targets[@]}"
fi

mkdir -p "$OUT"
flags=(--benchmark_repetitions="$REPS" --benchmark_out_format=json)
[[ $REPS -gt 1 ]] && flags+=(--benchmark_enable_random_interleaving=true)
[[ -n ${FILTER:-} ]] && flags+=(--benchmark_filter="$FILTER")
for t in $THREADS; do
  for b in $BENCHES; do
    out="$OUT/$b-t$t$TAG.json"
    echo "== ner_${b}_bench, $t intra-op thread(s) -> $out"
    "$B/bench/ner_${b}_bench" --ner_threads="$t" --benchmark_out="$out" "${flags[@]}"
  done
done

# The ratios, from the JSON just written: medians over repetitions where there are several.
# "wall" = real_time; "cpu" = process CPU time of all threads, which the other load of a shared
# machine inflates much less (see bench/gemm_rate.h).
shopt -s nullglob
files=()
for f in "$OUT"/encoder-t*.json; do
  [[ $(basename "$f") =~ ^encoder-t[0-9]+${TAG}\.json$ ]] && files+=("$f")
done
[[ ${#files[@]} -eq 0 ]] && exit 0
python3 - "${files[@]}" <<'PY'
import json, statistics, sys
from collections import defaultdict

for path in sys.argv[1:]:
    data = json.load(open(path))
    threads = data["context"].get("ner_intra_op_threads", "?")
    tunables = data["context"].get("GLIBC_TUNABLES", "(unset)")
    rows = defaultdict(list)
    for r in data["benchmarks"]:
        if r.get("run_type") == "aggregate" or r.get("error_occurred"):
            continue
        rows[r["run_name"].removesuffix("/real_time").removesuffix("/process_time")].append(r)
    def med(name, key):
        rs = rows.get(name)
        return statistics.median(r[key] for r in rs) if rs else None
    print(f"\n== {path}: {threads} intra-op thread(s), GLIBC_TUNABLES={tunables}")
    print("encoder                          tokens/s   GFLOP/s  MFU   MFU_cpu  FLOP/char")
    for name in rows:
        if name.startswith("Encoder/"):
            print(f"{name[8:]:<32} {med(name, 'items_per_second'):9.0f} {med(name, 'GFLOP/s'):8.1f}"
                  f"  {med(name, 'MFU'):.2f}  {med(name, 'MFU_cpu'):.2f}"
                  f"     {med(name, 'model_FLOP/char') / 1e6:.1f}M")
    print("ratio (time / time)                             wall    cpu")
    def ratio(label, a, b):
        if a in rows and b in rows:
            print(f"{label:<46} {med(a, 'real_time') / med(b, 'real_time'):6.2f} "
                  f"{med(a, 'cpu_time') / med(b, 'cpu_time'):6.2f}")
    for size in ("tiny", "base"):
        for dtype in ("fp32", "bf16"):
            for t in (32, 128, 512):
                shape = f"{dtype}/B16xT{t}"
                ratio(f"nezha-{size} / bert-{size} {shape}", f"Encoder/nezha-{size}/{shape}",
                      f"Encoder/bert-{size}/{shape}")
    for dtype in ("fp32", "bf16"):
        for t in (128, 512):
            shape = f"{dtype}/B16xT{t}"
            ratio(f"attention relative / plain {shape}", f"Attention/relative/{shape}",
                  f"Attention/plain/{shape}")
    for preset in ("nezha-tiny", "bert-tiny", "nezha-base", "bert-base"):
        for t in (32, 128, 512):
            ratio(f"{preset} fp32 / bf16 T{t} (bf16 speed-up)",
                  f"Encoder/{preset}/fp32/B16xT{t}", f"Encoder/{preset}/bf16/B16xT{t}")
    for shape in ("2048x768x768", "2048x768x3072", "2048x3072x768"):
        ratio(f"gemm fp32 / bf16 {shape}", f"Gemm/fp32/{shape}", f"Gemm/bf16/{shape}")
PY
