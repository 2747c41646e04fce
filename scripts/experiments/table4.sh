#!/usr/bin/env bash
# Runs one row of the paper's Table 4 on this machine: trains on a corpus's train split, keeps the
# best dev checkpoint, scores it on the test split and appends one JSON line to
# ${RESULTS:-out/experiments/results.jsonl}. Rows are long (minutes to hours): run them in the
# background, e.g.  nohup scripts/experiments/table4.sh resume bilstm-crf > /dev/null 2>&1 &
#
# Usage: scripts/experiments/table4.sh DATASET ROW [EXTRA ner train FLAGS...]
#   DATASET  resume | peoples-daily
#   ROW      bilstm-crf | bert-bilstm-crf | nezha-bilstm-crf | nezha-df | nezha-df-fgm |
#            nezha-df-fgsm   (transformer rows: add --init DIR for a pretrained encoder)
# Environment: NER_SHARED_DIR (corpora), BUILD_DIR (default build), THREADS (default 2),
#   SEED (default 42), OUT (default out/experiments/DATASET-ROW[-TAG]), TAG (suffix for OUT).
set -euo pipefail
cd "$(dirname "$0")/../.."

if (($# < 2)); then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
dataset=$1 row=$2
shift 2
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
NER=${BUILD_DIR:-build}/tools/ner
THREADS=${THREADS:-2}
SEED=${SEED:-42}
VOCAB=$SHARED/data/vocab/bert-base-chinese-vocab.txt

case $dataset in
  resume)
    train=$SHARED/data/resume/train.char.bmes dev=$SHARED/data/resume/dev.char.bmes
    test=$SHARED/data/resume/test.char.bmes ;;
  peoples-daily)
    train=$SHARED/data/peoples-daily/train.txt dev=$SHARED/data/peoples-daily/dev.txt
    test=$SHARED/data/peoples-daily/test.txt ;;
  *) echo "table4: unknown dataset '$dataset' (resume, peoples-daily)" >&2; exit 2 ;;
esac
[[ -f $train ]] || { echo "table4: no corpus at $train (set NER_SHARED_DIR)" >&2; exit 2; }

# The CPU-sized preset: nezha-tiny / a 4-layer BERT of the same size for the transformer rows.
# BiLSTM-CRF trains its character embeddings from scratch, so it takes a from-scratch recipe
# instead of the fine-tuning one: learning rate 2e-3 (not 1e-4) decaying linearly to a tenth
# (bilstm-crf.json) instead of halving every epoch. (With 1e-3 halving per epoch it reached only
# 69.7 dev F1 on People's Daily after 2 of 8 epochs, its rate already down to a quarter.)
configs=()  # --config files, joined into one comma-separated flag below (the row's first)
case $row in
  bilstm-crf)       args=(--variant bilstm-crf --adversarial none --head_lr 2e-3)
                    configs=(scripts/experiments/bilstm-crf.json) ;;
  bert-bilstm-crf)  args=(--variant bert-bilstm-crf --preset bert-tiny --adversarial none) ;;
  nezha-bilstm-crf) args=(--variant nezha-bilstm-crf --preset nezha-tiny --adversarial none) ;;
  nezha-df)         args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial none) ;;
  nezha-df-fgm)     args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial fgm) ;;
  nezha-df-fgsm)    args=(--variant nezha-df-bilstm-crf --preset nezha-tiny --adversarial fgsm) ;;
  *) echo "table4: unknown row '$row'" >&2; exit 2 ;;
esac

# Extra --config files are applied after the row's (a repeated --config flag is refused by `ner`).
extra=()
while (($#)); do
  case $1 in
    --config) configs+=("$2"); shift 2 ;;
    --config=*) IFS=, read -ra more <<< "${1#--config=}"; configs+=("${more[@]}"); shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
if ((${#configs[@]})); then
  args+=("--config=$(IFS=,; echo "${configs[*]}")")
fi
set -- ${extra[@]+"${extra[@]}"}

out=${OUT:-out/experiments/$dataset-$row${TAG:+-$TAG}}
mkdir -p "$out"
resume=()
[[ -f $out/last/trainer_state.json ]] && resume=(--resume)
start=$(date +%s)
"$NER" train --train "$train" --dev "$dev" --out "$out" --vocab "$VOCAB" --seed "$SEED" \
  --threads "$THREADS" "${args[@]}" "${resume[@]}" "$@" 2>&1 | tee -a "$out/train.log"
train_seconds=$(($(date +%s) - start))
"$NER" evaluate --model "$out/best" --threads "$THREADS" --json "$test" > "$out/test.json" \
  2> >(tee -a "$out/train.log" >&2)
python3 - "$out" "$dataset" "$row" "$SEED" "$train_seconds" "${TAG:-}" "${RESULTS:-out/experiments/results.jsonl}" \
  "$NER train --train $train --dev $dev --out $out --vocab $VOCAB --seed $SEED --threads $THREADS ${args[*]} $*" <<'PY'
import json, sys
out, dataset, row, seed, secs, tag, results, command = sys.argv[1:9]
test = json.load(open(f"{out}/test.json"))  # one entry per file scored
test = test[0] if isinstance(test, list) else test
state = json.load(open(f"{out}/last/trainer_state.json"))  # the run's best dev F1 picked `best`
line = {"dataset": dataset, "row": row, "tag": tag, "seed": int(seed), "train_seconds": int(secs),
        "dev_f1": state["best_dev_f1"], "best_epoch": state["best_epoch"],
        "test": test["overall"], "command": command}
with open(results, "a") as f:
    f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(json.dumps(line, ensure_ascii=False))
PY
