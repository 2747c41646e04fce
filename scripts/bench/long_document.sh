#!/usr/bin/env bash
# One long document through segmentation: texts of SIZES bytes (default 125 000 to 1 000 000,
# People's Daily training sentences joined, so the segmenter cuts at sentence ends) each sent as
# a single Recognize call to a freshly started server serving the default model. Reports the
# time per size, the time per 1,000 characters (constant = linear in the length) and the
# server's peak RSS growth during the call (VmHWM after - VmRSS before). Writes
# out/bench/long_document/results.txt. A benchmark, not a test. See docs/performance.md.
#   scripts/bench/long_document.sh                 SIZES="125000 250000 500000 1000000"
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
export NER_SHARED_DIR=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
SIZES=${SIZES:-"125000 250000 500000 1000000"}
OUT=out/bench/long_document
PORT=50075
mkdir -p "$OUT"
: > "$OUT/results.txt"

for size in $SIZES; do
  python3 - "$NER_SHARED_DIR/data/peoples-daily/train.txt" "$size" > "$OUT/doc-$size.txt" <<'PY'
import sys
target = int(sys.argv[2])
text, sentence = [], []
size = 0
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.split()
    if parts:
        sentence.append(parts[0]); continue
    s = "".join(sentence); sentence = []
    text.append(s); size += len(s.encode())
    if size >= target: break
doc = "".join(text).encode()[:target].decode("utf-8", errors="ignore")
print(doc)
PY
  "$B/server/ner-server" --model_root=models --default_model=default \
    --listen_address=127.0.0.1:$PORT --metrics_address= > "$OUT/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$B/server/ner-server" probe --address=127.0.0.1:$PORT >/dev/null 2>&1 && break
    sleep 0.2
  done
  rss_before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  "$B/bench/load/ner-bench" --address=127.0.0.1:$PORT --input="$OUT/doc-$size.txt" \
    --format=lines --warmup=0s --max_documents=1 --duration=600s --deadline=600s \
    --json="$OUT/run-$size.json" > /dev/null
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid; wait $pid || true
  python3 - "$OUT/run-$size.json" "$size" "$rss_before" "$hwm" <<'PY' | tee -a "$OUT/results.txt"
import json, sys
r = json.load(open(sys.argv[1])); size = int(sys.argv[2])
before, hwm = int(sys.argv[3]) / 1024, int(sys.argv[4]) / 1024
ms = r["latency_ms"]["max"]; chars = r["characters_ok"]
assert r["documents_ok"] == 1, r
print(f"{size} bytes, {chars} characters: {ms / 1000:.2f} s, {ms / chars * 1000:.1f} ms per 1,000 "
      f"characters, {r['entities']} entities, peak RSS +{hwm - before:.0f} MB ({before:.0f} -> {hwm:.0f} MB)")
PY
done
