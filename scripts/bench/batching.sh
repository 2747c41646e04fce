#!/usr/bin/env bash
# Dynamic batching, measured side by side in one run: the default model served on loopback,
# the 4,636 sentences of People's Daily test.txt streamed by `ner-client bulk` with 1 and with 64
# documents in flight, then again with 64 in flight against a server with batching off
# (--max_batch_size=1). Prints documents/s and characters/s of each, and the server's batch
# counters. A benchmark, not a test: run it on a quiet machine. See docs/performance.md.
#   scripts/bench/batching.sh
set -u
cd "$(dirname "$0")/../.."
B=${BUILD_DIR:-build}
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
mkdir -p /tmp/perf
# One document per line: the first column of the char-per-line file.
python3 - "$SHARED/data/peoples-daily/test.txt" > /tmp/perf/pd-test.txt <<'PY'
import sys
doc = []
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.split()
    if not parts:
        if doc: print("".join(doc)); doc = []
        continue
    doc.append(parts[0])
if doc: print("".join(doc))
PY
read -r n_docs n_chars < <(python3 -c 'import sys; d=open(sys.argv[1],encoding="utf-8").read().split("\n")[:-1]; print(len(d), sum(map(len,d)))' /tmp/perf/pd-test.txt)
serve() {  # $1 = extra flag
  $B/server/ner-server --model_root=models --default_model=default --listen_address=127.0.0.1:50071 \
    --metrics_address=127.0.0.1:9171 "$@" > /tmp/perf/server.log 2>&1 &
  echo $! > /tmp/perf/server.pid
  for i in $(seq 50); do $B/server/ner-server probe --address=127.0.0.1:50071 >/dev/null 2>&1 && return; sleep 0.2; done
}
stop() { kill -TERM "$(cat /tmp/perf/server.pid)"; wait "$(cat /tmp/perf/server.pid)" 2>/dev/null; }
run() {  # $1 label, rest = bulk flags
  label=$1; shift
  rm -f /tmp/perf/out.jsonl
  start=$(date +%s.%N)
  $B/client/cli/ner-client --address 127.0.0.1:50071 bulk --input /tmp/perf/pd-test.txt \
    --output /tmp/perf/out.jsonl --progress=false "$@" > /tmp/perf/$label.summary 2>&1
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'$label: {$n_docs/s:.0f} docs/s, {$n_chars/s:.0f} chars/s, {s:.1f} s')" $start $end
  curl -s 127.0.0.1:9171/metrics | grep -E "^ner_batch_size_(sum|count)" | tr '\n' ' '; echo
}
serve
run inflight1 --max_in_flight 1 --docs_per_message 1
run inflight64 --max_in_flight 64 --docs_per_message 1
stop
serve --max_batch_size=1
run nobatch_inflight64 --max_in_flight 64 --docs_per_message 1
stop
