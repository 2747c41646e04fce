#!/usr/bin/env bash
# Load and soak on loopback, bounded in time: the default model served with its default flags,
#   1. soak: SOAK_STREAMS (200) concurrent RecognizeStream workers for SOAK_DURATION (5m), the
#      server's RSS sampled every second;
#   2. overload: a server with a small queue (--max_queue_items=32) under OVERLOAD_CONCURRENCY
#      (200) unary workers for OVERLOAD_DURATION (30s).
# Checks, each printed PASS/FAIL (exit 1 on any FAIL):
#   - soak: no errors at all, p99 latency <= SOAK_P99_MS (10000), RSS flat: the mean of the
#     last quarter of samples exceeds that of the second quarter by < RSS_GROWTH_MB (32);
#   - overload: only OK and RESOURCE_EXHAUSTED, some of each, and rejections are prompt (p99 of
#     the rejected calls <= REJECT_P99_MS (100), while accepted calls queue far longer).
# Results: out/bench/soak/{soak,overload}.json, rss.csv. See docs/reliability.md.
#   scripts/bench/soak.sh            SOAK_DURATION=30s OVERLOAD_DURATION=10s for a smoke run
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
export NER_SHARED_DIR=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
SOAK_DURATION=${SOAK_DURATION:-5m}
SOAK_STREAMS=${SOAK_STREAMS:-200}
SOAK_P99_MS=${SOAK_P99_MS:-10000}
RSS_GROWTH_MB=${RSS_GROWTH_MB:-32}
OVERLOAD_DURATION=${OVERLOAD_DURATION:-30s}
OVERLOAD_CONCURRENCY=${OVERLOAD_CONCURRENCY:-200}
REJECT_P99_MS=${REJECT_P99_MS:-100}
OUT=${OUT:-out/bench/soak}
PORT=${PORT:-50073}
METRICS=${METRICS_PORT:-9173}
mkdir -p "$OUT"
if [[ ! -f "$NER_SHARED_DIR/data/peoples-daily/test.txt" ]]; then
  echo "soak: SKIP: $NER_SHARED_DIR/data/peoples-daily/test.txt not found (set NER_SHARED_DIR)"
  exit 77
fi

server_pid=""
sampler_pid=""
cleanup() {
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
  [[ -n $server_pid ]] && kill -TERM "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
serve() {
  "$B/server/ner-server" --model_root=models --default_model=default \
    --listen_address=127.0.0.1:$PORT --metrics_address=127.0.0.1:$METRICS "$@" \
    > "$OUT/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    "$B/server/ner-server" probe --address=127.0.0.1:$PORT >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "soak: server did not become ready; see $OUT/server.log" >&2
  exit 1
}
stop() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "soak: FAIL server exit status $? after SIGTERM"; exit 1; }
  server_pid=""
}

# 1. Soak.
serve
: > "$OUT/rss.csv"
( while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(date +%s),$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status 2>/dev/null)" >> "$OUT/rss.csv"
    sleep 1
  done ) &
sampler_pid=$!
"$B/bench/load/ner-bench" --address=127.0.0.1:$PORT --metrics_address=127.0.0.1:$METRICS \
  --mode=stream --concurrency="$SOAK_STREAMS" --channels=4 --min_chars=100 \
  --warmup=10s --duration="$SOAK_DURATION" --json="$OUT/soak.json"
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
stop

# 2. Overload.
serve --max_queue_items=32
"$B/bench/load/ner-bench" --address=127.0.0.1:$PORT --metrics_address=127.0.0.1:$METRICS \
  --mode=unary --concurrency="$OVERLOAD_CONCURRENCY" --channels=4 --min_chars=100 \
  --warmup=3s --duration="$OVERLOAD_DURATION" --json="$OUT/overload.json"
stop

python3 - "$OUT" "$SOAK_P99_MS" "$RSS_GROWTH_MB" "$REJECT_P99_MS" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
p99_bound, growth_bound, reject_bound = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
soak = json.loads((out / "soak.json").read_text())
over = json.loads((out / "overload.json").read_text())
rss = [int(l.split(",")[1]) / 1024 for l in (out / "rss.csv").read_text().split() if l.split(",")[1]]
failed = 0
def check(ok, what):
    global failed
    failed += not ok
    print(("PASS " if ok else "FAIL ") + what)
check(soak["documents_ok"] > 0 and not soak["errors"],
      f"soak: {soak['documents_ok']} documents at {soak['documents_per_second']:.0f}/s over "
      f"{soak['elapsed_seconds']:.0f} s, {soak['concurrency']} streams, errors {soak['errors'] or 'none'}")
check(soak["latency_ms"]["p99"] <= p99_bound,
      f"soak: p99 {soak['latency_ms']['p99']:.0f} ms <= {p99_bound:.0f} ms "
      f"(p50 {soak['latency_ms']['p50']:.0f} ms, max {soak['latency_ms']['max']:.0f} ms)")
q = max(1, len(rss) // 4)
second, last = rss[q:2 * q], rss[-q:]
growth = sum(last) / len(last) - sum(second) / len(second) if second and last else float("nan")
check(len(rss) >= 8 and growth < growth_bound,
      f"soak: RSS {min(rss):.0f}-{max(rss):.0f} MB over {len(rss)} samples; last quarter - second "
      f"quarter = {growth:+.1f} MB < {growth_bound:.0f} MB")
codes = set(over["errors"])
check(over["documents_ok"] > 0 and codes == {"RESOURCE_EXHAUSTED"},
      f"overload: {over['documents_ok']} OK, rejected {over['errors'] or 'none'} "
      f"(only RESOURCE_EXHAUSTED expected, and some)")
rejected = over.get("failed_latency_ms", {})
check(rejected.get("p99", float("inf")) <= reject_bound,
      f"overload: rejections p99 {rejected.get('p99', float('nan')):.1f} ms <= {reject_bound:.0f} ms "
      f"(accepted calls p50 {over['latency_ms']['p50']:.0f} ms)")
sys.exit(1 if failed else 0)
PY
