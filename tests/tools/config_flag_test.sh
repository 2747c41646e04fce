#!/bin/sh
# `ner train --config`: several files are given once, comma-separated, and applied in order (an
# error in the second file is reported, so both were read); repeating the flag, which would
# silently keep only the last file, is refused with exit code 2.
# Usage: config_flag_test.sh NER_BINARY
set -u
ner=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
echo '{"epochs": 2}' > "$d/a.json"
echo '{"epochs": "two"}' > "$d/b.json"
printf '张 B-PER\n三 I-PER\n\n' > "$d/train.txt"
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n张\n三\n' > "$d/vocab.txt"
common="--train $d/train.txt --dev $d/train.txt --out $d/out --vocab $d/vocab.txt --variant bilstm-crf"

out=$("$ner" train --config="$d/a.json,$d/b.json" $common 2>&1)
code=$?
if [ $code -eq 0 ] || ! echo "$out" | grep -q "b.json: train config 'epochs'"; then
  echo "FAIL: comma-separated --config did not read the second file (exit $code): $out"
  exit 1
fi

out=$("$ner" train --config "$d/a.json" --config="$d/a.json" $common 2>&1)
code=$?
if [ $code -ne 2 ] || ! echo "$out" | grep -q "given 2 times"; then
  echo "FAIL: a repeated --config was not refused (exit $code): $out"
  exit 1
fi
[ -e "$d/out" ] && { echo "FAIL: a refused run wrote $d/out"; exit 1; }
echo "PASS"
