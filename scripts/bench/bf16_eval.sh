#!/usr/bin/env bash
# bf16 against float32 end to end, with F1: `ner evaluate` on People's Daily test, side by side in
# one run, ROUNDS rounds of: float32, bf16 with the BiLSTM's products on AVX512-BF16 vectors
# (NER_AMX=0) and bf16 on AMX tiles (the default where the CPU has AMX). Prints chars/s and the
# overall P/R/F1 line of each run; keeps each run's output under OUT. A benchmark, not a test.
#   scripts/bench/bf16_eval.sh         (MODEL=models/default ROUNDS=2 OUT=out/bench/bf16-eval)
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
MODEL=${MODEL:-models/default}
OUT=${OUT:-out/bench/bf16-eval}
TEST=${TEST:-$SHARED/data/peoples-daily/test.txt}
[[ -f $TEST ]] || { echo "bf16_eval: no test set at $TEST (set NER_SHARED_DIR)" >&2; exit 2; }
mkdir -p "$OUT"
for round in $(seq "${ROUNDS:-2}"); do
  for setting in float32 bfloat16-vectors bfloat16-tiles; do
    dtype=${setting%%-*}
    amx=()
    [[ $setting == bfloat16-vectors ]] && amx=(NER_AMX=0)
    env ${amx[@]+"${amx[@]}"} "$B/tools/ner" evaluate --model "$MODEL" --dtype "$dtype" \
      --threads 1 "$TEST" > "$OUT/$setting-$round.txt" 2>&1
    echo "$setting round $round: $(grep -o '[0-9]* chars/s' "$OUT/$setting-$round.txt")," \
      "$(grep -E '^ *overall' "$OUT/$setting-$round.txt")"
  done
done
