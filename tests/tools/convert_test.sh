#!/bin/sh
# `ner convert` rewrites a checkpoint with float16 (or other) storage: about half the bytes, the
# dtype in the provenance, loadable and scoring like the original; float32 storage writes the
# same weights byte for byte; a bad dtype or a missing model fails with one line and writes
# nothing.
# Usage: convert_test.sh NER_BINARY
set -u
ner=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n张\n三\n在\n北\n京\n。\n' > "$d/vocab.txt"
i=0
while [ $i -lt 20 ]; do
  printf '张 B-PER\n三 I-PER\n在 O\n北 B-LOC\n京 I-LOC\n。 O\n\n'
  i=$((i + 1))
done > "$d/train.txt"
echo '{"epochs": 3}' > "$d/cfg.json"
"$ner" train --train "$d/train.txt" --dev "$d/train.txt" --out "$d/run" --vocab "$d/vocab.txt" \
  --variant bilstm-crf --adversarial none --head_lr 5e-3 --config "$d/cfg.json" --threads 1 \
  > "$d/train.log" 2>&1 || fail "ner train: $(cat "$d/train.log")"

"$ner" convert --model "$d/run/best" --out "$d/f16" > "$d/convert.log" 2>&1 ||
  fail "ner convert: $(cat "$d/convert.log")"
grep -q "stored as float16; largest change of a weight" "$d/convert.log" ||
  fail "no rounding report: $(cat "$d/convert.log")"
grep -q '"storage_dtype": "float16"' "$d/f16/config.json" || fail "provenance lacks the dtype"
grep -q '"dtype":"F16"' "$d/f16/model.safetensors" || fail "weights not stored as F16"
full=$(wc -c < "$d/run/best/model.safetensors")
half=$(wc -c < "$d/f16/model.safetensors")
[ "$half" -lt $((full * 6 / 10)) ] || fail "float16 file is $half bytes against $full"
for m in run/best f16; do
  "$ner" evaluate --model "$d/$m" --threads 1 "$d/train.txt" 2>/dev/null | grep overall > "$d/$(basename $m).score" ||
    fail "ner evaluate --model $m"
done
cmp -s "$d/best.score" "$d/f16.score" ||
  fail "float16 scores differ: $(cat "$d/best.score") / $(cat "$d/f16.score")"

"$ner" convert --model "$d/run/best" --out "$d/f32" --storage_dtype float32 > /dev/null 2>&1 ||
  fail "convert to float32"
cmp -s "$d/run/best/model.safetensors" "$d/f32/model.safetensors" ||
  fail "float32 storage changed the weights file"

out=$("$ner" convert --model "$d/run/best" --out "$d/bad" --storage_dtype int8 2>&1)
code=$?
[ $code -eq 1 ] && echo "$out" | grep -q "storage_dtype 'int8'" || fail "bad dtype (exit $code): $out"
[ ! -e "$d/bad" ] || fail "a bad dtype wrote $d/bad"
out=$("$ner" convert --model "$d/missing" --out "$d/bad" 2>&1)
code=$?
[ $code -eq 1 ] && echo "$out" | grep -q "missing" || fail "missing model (exit $code): $out"
[ ! -e "$d/bad" ] || fail "a missing model wrote $d/bad"
echo PASS
