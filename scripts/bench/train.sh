#!/usr/bin/env bash
# Training throughput, side by side in one run: `ner train` on Resume NER for a fixed number of
# optimizer steps per row (batch 16, the paper's recipe otherwise), then the time split the
# trainer records in <out>/last/trainer_state.json: characters per second of the steps (data
# handling included) and the share of that time spent in data handling (batch planning and
# assembly: ids, masks and tags into tensors). Encoding the corpus before the first step is
# reported apart (the "encoded" line of train.log). A benchmark, not a test: see
# docs/performance.md.
#   scripts/bench/train.sh            (STEPS=60 THREADS=2 ROWS="bilstm-crf nezha-df nezha-df-fgm")
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
STEPS=${STEPS:-60}
THREADS=${THREADS:-2}
ROWS=${ROWS:-"bilstm-crf nezha-df nezha-df-fgm"}
OUT=${OUT:-out/bench/train}
data=$SHARED/data/resume
[[ -f $data/train.char.bmes ]] || { echo "train.sh: no Resume corpus under $data" >&2; exit 2; }
mkdir -p "$OUT"

for row in $ROWS; do
  case $row in
    bilstm-crf)   args=(--variant bilstm-crf --adversarial none --head_lr 2e-3) ;;
    nezha-df)     args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial none) ;;
    nezha-df-fgm) args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial fgm) ;;
    nezha-df-pgd) args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial pgd) ;;
    *) echo "train.sh: unknown row '$row'" >&2; exit 2 ;;
  esac
  rm -rf "${OUT:?}/$row"
  "$B/tools/ner" train --train "$data/train.char.bmes" --dev "$data/dev.char.bmes" \
    --vocab "$SHARED/data/vocab/bert-base-chinese-vocab.txt" --out "$OUT/$row" --seed 42 \
    --threads "$THREADS" --max_steps "$STEPS" "${args[@]}" > "$OUT/$row.log" 2>&1
done

python3 - "$OUT" $ROWS <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"\n| row | steps | characters | chars/s | data handling | steps s | dev evaluation s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for row in sys.argv[2:]:
    state = json.loads((out / row / "last" / "trainer_state.json").read_text())
    e = state["history"][-1]
    train = e["data_seconds"] + e["step_seconds"]
    print(f"| {row} | {e['steps']} | {e['characters']} | {e['characters'] / train:,.0f} "
          f"| {100 * e['data_seconds'] / train:.2f}% ({e['data_seconds']:.2f} s) "
          f"| {e['step_seconds']:.1f} | {e['eval_seconds']:.1f} |")
PY
