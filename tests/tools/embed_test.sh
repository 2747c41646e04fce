#!/bin/sh
# `ner embed` writes character and bigram vectors that `ner train --char_vectors/--bigram_vectors`
# loads; one thread repeats byte for byte; a bad corpus path fails with one line and writes
# nothing.
# Usage: embed_test.sh NER_BINARY
set -u
ner=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n张\n三\n在\n北\n京\n。\n' > "$d/vocab.txt"
i=0
while [ $i -lt 50 ]; do echo "张三在北京。"; echo "北京张三。"; i=$((i + 1)); done > "$d/corpus.txt"
printf '张 B-PER\n三 I-PER\n在 O\n北 B-LOC\n京 I-LOC\n\n' > "$d/train.txt"
embed="embed --corpus $d/corpus.txt --vocab $d/vocab.txt --dim 8 --bigram_dim 4 --epochs 2 --threads 1"

"$ner" $embed --out "$d/emb" > "$d/embed.log" 2>&1 || fail "ner embed: $(cat "$d/embed.log")"
head -1 "$d/emb/chars.vec" | grep -qx "6 8" || fail "chars.vec header: $(head -1 "$d/emb/chars.vec")"
grep -q "^北京 " "$d/emb/bigrams.vec" || fail "no 北京 in bigrams.vec"
grep -q '"min_count": 5' "$d/emb/embed.json" || fail "embed.json: $(cat "$d/emb/embed.json")"
"$ner" $embed --out "$d/emb2" > /dev/null 2>&1 || fail "second ner embed"
cmp -s "$d/emb/chars.vec" "$d/emb2/chars.vec" || fail "one thread did not repeat chars.vec"
cmp -s "$d/emb/bigrams.vec" "$d/emb2/bigrams.vec" || fail "one thread did not repeat bigrams.vec"

echo '{"bigram_buckets": 101, "epochs": 1}' > "$d/cfg.json"
"$ner" train --train "$d/train.txt" --dev "$d/train.txt" --out "$d/run" --vocab "$d/vocab.txt" \
  --variant bilstm-crf --config "$d/cfg.json" --char_vectors "$d/emb/chars.vec" \
  --bigram_vectors "$d/emb/bigrams.vec" > "$d/train.log" 2>&1 || fail "ner train: $(cat "$d/train.log")"
grep -q "character embeddings: 6 of 11 vocabulary rows" "$d/train.log" ||
  fail "no character-vector note: $(cat "$d/train.log")"
grep -q "char_embedding_dim 100 -> 8" "$d/train.log" || fail "width not taken from the vectors"
grep -q "bigram embeddings: .* of 101 hashed rows" "$d/train.log" || fail "no bigram-vector note"
[ -d "$d/run/best" ] || fail "no best checkpoint"
grep -q "\"init_from\": \"char_vectors=$d/emb/chars.vec, bigram_vectors=" "$d/run/best/config.json" ||
  fail "provenance lacks the vectors: $(grep init_from "$d/run/best/config.json")"

out=$("$ner" embed --corpus "$d/missing.txt" --vocab "$d/vocab.txt" --out "$d/bad" 2>&1)
code=$?
[ $code -eq 1 ] && echo "$out" | grep -q "missing.txt" || fail "bad corpus (exit $code): $out"
[ -e "$d/bad" ] && fail "a failed run wrote $d/bad"
touch "$d/file"
out=$("$ner" embed --corpus "$d/corpus.txt" --vocab "$d/vocab.txt" --out "$d/file" 2>&1)
code=$?
[ $code -eq 1 ] && echo "$out" | grep -q "is not a directory" || fail "--out a file (exit $code): $out"
echo "PASS"
