#!/usr/bin/env bash
# Dynamic batching and serving throughput, measured side by side in one run with `ner-bench`
# (bench/load): the default model served on loopback, ~100-character texts of People's Daily
# test set (consecutive sentences joined), closed-loop load at concurrency 1 and 64, unary and
# streaming, against a server with batching on and one with batching off (--max_batch_size=1).
# Prints a Markdown table and writes each run's JSON under out/bench/load/. A benchmark, not a
# test: the ratios are what to read. See docs/performance.md.
#   scripts/bench/load.sh                 (DURATION=20s CONCURRENCY="1 64" MODES="unary stream")
# Also: SETTINGS="batching nobatching" (which servers), SERVER_FLAGS (extra ner-server flags, e.g.
# "--intra_op_threads=2 --batcher_workers=1"), MODEL_ROOT/MODEL (the checkpoint served),
# OUT (default out/bench/load).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
export NER_SHARED_DIR=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-"1 64"}
MODES=${MODES:-"unary stream"}
MODEL_ROOT=${MODEL_ROOT:-models}
MODEL=${MODEL:-default}
SERVER_FLAGS=${SERVER_FLAGS:-}
OUT=${OUT:-out/bench/load}
mkdir -p "$OUT"
PORT=50071
METRICS=9171

server_pid=""
serve() {  # extra server flags
  # shellcheck disable=SC2086
  "$B/server/ner-server" --model_root="$MODEL_ROOT" --default_model="$MODEL" \
    --listen_address=127.0.0.1:$PORT --metrics_address=127.0.0.1:$METRICS $SERVER_FLAGS "$@" \
    > "$OUT/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    "$B/server/ner-server" probe --address=127.0.0.1:$PORT >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not become ready; see $OUT/server.log" >&2
  exit 1
}
stop() { kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
trap 'kill -TERM $server_pid 2>/dev/null || true' EXIT

bench() {  # label mode concurrency
  "$B/bench/load/ner-bench" --address=127.0.0.1:$PORT --metrics_address=127.0.0.1:$METRICS \
    --min_chars=100 --mode="$2" --concurrency="$3" --duration="$DURATION" --warmup=3s \
    --json="$OUT/$1-$2-c$3.json" | tee -a "$OUT/report.txt"
}

: > "$OUT/report.txt"
for setting in ${SETTINGS:-batching nobatching}; do
  if [[ $setting == batching ]]; then serve; else serve --max_batch_size=1; fi
  for mode in $MODES; do
    for c in $CONCURRENCY; do bench "$setting" "$mode" "$c"; done
  done
  stop
done

python3 - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
runs = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
def cores(r, seconds):  # CPU seconds over the run's window (warm-up included) -> cores busy
    window = r.get("client_cpu", {}).get("window_seconds", 0)
    return seconds / window if window else 0.0
print("\n| server | mode | concurrency | docs/s | chars/s | p50 ms | p99 ms | pieces/batch | model ms/batch | server CPU ms/document | server cores | ner-bench cores | errors |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name, r in sorted(runs.items(), key=lambda kv: (kv[0].split("-")[0], kv[1]["mode"], kv[1]["concurrency"])):
    s = r.get("server", {})
    print(f"| {name.split('-')[0]} | {r['mode']} | {r['concurrency']} | {r['documents_per_second']:.1f} "
          f"| {r['characters_per_second']:.0f} | {r['latency_ms']['p50']:.1f} | {r['latency_ms']['p99']:.1f} "
          f"| {s.get('mean_pieces_per_batch', 0):.1f} | {s.get('mean_batch_ms', 0):.1f} "
          f"| {s.get('cpu_ms_per_document', 0):.3f} | {cores(r, s.get('cpu_seconds', 0)):.2f} "
          f"| {cores(r, r.get('client_cpu', {}).get('cpu_seconds', 0)):.2f} | {sum(r['errors'].values())} |")
def get(setting, mode, c):
    return runs.get(f"{setting}-{mode}-c{c}")
for mode in ("unary", "stream"):
    one, many, off = get("batching", mode, 1), get("batching", mode, 64), get("nobatching", mode, 64)
    if one and many:
        print(f"\n{mode}: concurrency 64 / 1 = {many['documents_per_second'] / one['documents_per_second']:.2f}x", end="")
        if off:
            print(f"; batching on / off at 64 = {many['documents_per_second'] / off['documents_per_second']:.2f}x", end="")
        print(f"; at concurrency 1, p50 {one['latency_ms']['p50']:.2f} ms vs model {one['server']['mean_batch_ms']:.2f} ms per batch")
PY
