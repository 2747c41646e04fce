#!/bin/sh
# The shipped default model (models/default) loads and scores what models/README.md says on the
# People's Daily test split: a damaged or swapped model file fails here, not in production.
# Skips (77) without the corpus. Usage: default_model_test.sh NER_BINARY MODEL_DIR
set -u
ner=$1 model=$2
shared=${NER_SHARED_DIR:-${NER_SHARED_DIR_DEFAULT:-../shared}}
test=$shared/data/peoples-daily/test.txt
[ -f "$test" ] || { echo "SKIP: no $test (set NER_SHARED_DIR)"; exit 77; }
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$ner" evaluate --model "$model" --threads 2 --json "$test" 2>"$err") || {
  echo "FAIL: ner evaluate: $(cat "$err")"; exit 1; }
# models/README.md: test F1 88.19 (6,691 of 7,707 entities); float rounding on another CPU may
# move an entity or two, not a point.
echo "$out" | python3 -c '
import json, sys
result = json.load(sys.stdin)[0]["overall"]
print("test F1 %.4f (%d correct of %d)" % (result["f1"], result["correct"], result["gold"]))
sys.exit(0 if result["gold"] == 7707 and result["f1"] >= 0.880 else 1)
' || { echo "FAIL: the default model scores below models/README.md's figure"; exit 1; }
echo PASS
