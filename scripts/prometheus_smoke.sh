#!/usr/bin/env bash
# End-to-end check of the metrics path with a real Prometheus (Debian's `prometheus`): starts one
# in a temporary directory that scrapes a ner-server every second (with the alert rules of
# deploy/compose/alerts.yml loaded), puts load on the server, and asserts through Prometheus's
# HTTP API that the server's series exist and that rate() over its request counter is non-zero.
# Takes 20 to 40 s; everything stays on this machine (loopback).
#
# Against a server that is already running:
#   scripts/prometheus_smoke.sh [--grpc HOST:PORT] [--requests N] METRICS_HOST:PORT [LOAD_COMMAND...]
# Or starting one itself on free loopback ports, and stopping it at the end (SIGTERM: it must
# drain and exit 0):
#   scripts/prometheus_smoke.sh --serve BINARY [--requests N] [SERVER_FLAG...] [-- LOAD_COMMAND...]
#
#   METRICS_HOST:PORT  the server's --metrics_address, e.g. 127.0.0.1:9090
#   --grpc HOST:PORT   the server's gRPC address for the built-in load (default: the metrics
#                      host, port 50051); plaintext and loopback only
#   --serve BINARY     start BINARY (build/server/ner-server) with SERVER_FLAGs (e.g.
#                      --model_root=models --default_model=default) plus --listen_address and
#                      --metrics_address on free ports, wait until it is SERVING (or, without
#                      --default_model, until its metrics answer)
#   --requests N       built-in load: N unary Recognize calls, spread over N/10 seconds (default 60)
#   LOAD_COMMAND...    run this instead of the built-in load (e.g. a client CLI invocation); it
#                      must finish RPCs on the server while it runs for a few seconds
#
# The built-in load speaks gRPC through curl's HTTP/2 (no gRPC client needed): hand-encoded
# RecognizeRequest messages to ner.v1.NerService/Recognize. With a default model loaded the
# calls succeed and the document and batch series must move too; without one they fail with
# UNAVAILABLE, which still counts in ner_requests_total.
#
# Examples:
#   scripts/prometheus_smoke.sh --serve build/server/ner-server --model_root=models --default_model=default
#   scripts/prometheus_smoke.sh 127.0.0.1:9090      # a server started by hand, default ports
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--grpc HOST:PORT] [--requests N] METRICS_HOST:PORT [LOAD_COMMAND...]" >&2
  echo "       $0 --serve BINARY [--requests N] [SERVER_FLAG...] [-- LOAD_COMMAND...]" >&2
  exit 2
}

grpc_address=""
requests=60
serve_binary=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --grpc) grpc_address=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --serve) serve_binary=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
server_flags=()
load_command=()
metrics_address=""
if [[ -n "$serve_binary" ]]; then
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    server_flags+=("$1")
    shift
  done
  if [[ $# -gt 0 ]]; then shift; fi
  load_command=("$@")
else
  if [[ $# -lt 1 ]]; then usage; fi
  metrics_address=$1
  shift
  load_command=("$@")
fi

for tool in prometheus promtool curl python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "prometheus_smoke: $tool is not installed (scripts/install_deps.sh installs it)" >&2
    exit 2
  fi
done

# Three free loopback ports (Prometheus, the server's gRPC and metrics), bound together so that
# they differ.
read -r prometheus_port free_grpc_port free_metrics_port < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))')

tmp=$(mktemp -d)
prometheus_pid=""
server_pid=""
cleanup() {
  local pid
  for pid in "$prometheus_pid" "$server_pid"; do
    if [[ -n "$pid" ]]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- The server, when this script starts it -----------------------------------------------------

if [[ -n "$serve_binary" ]]; then
  grpc_address="127.0.0.1:$free_grpc_port"
  metrics_address="127.0.0.1:$free_metrics_port"
  "$serve_binary" "${server_flags[@]}" --listen_address="$grpc_address" \
    --metrics_address="$metrics_address" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  expect_serving=0
  for flag in "${server_flags[@]}"; do
    if [[ "$flag" == --default_model=?* ]]; then expect_serving=1; fi
  done
  started=0
  for _ in $(seq 1 240); do  # 120 s: loading a model takes a while
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    if ((expect_serving)); then
      if "$serve_binary" probe --address="$grpc_address" --timeout=1s >/dev/null 2>&1; then
        started=1; break
      fi
    elif curl -sf "http://$metrics_address/metrics" >/dev/null 2>&1; then
      started=1; break
    fi
    sleep 0.5
  done
  if ((started == 0)); then
    echo "prometheus_smoke: $serve_binary did not start serving; its log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
  fi
  echo "prometheus_smoke: started $serve_binary (gRPC $grpc_address, metrics $metrics_address)"
  # The HTTP probes, and the probe subcommand asking them (what a TLS deployment uses).
  if ((expect_serving)); then
    ready=$(curl -sf "http://$metrics_address/readyz") || ready="(failed)"
    live=$(curl -sf "http://$metrics_address/healthz") || live="(failed)"
    if [[ "$ready" != "ready" || "$live" != "ok" ]]; then
      echo "prometheus_smoke: /readyz said '$ready', /healthz '$live' (want 'ready', 'ok')" >&2
      exit 1
    fi
    if ! "$serve_binary" probe --address="http://$metrics_address/readyz" --timeout=2s; then
      echo "prometheus_smoke: ner-server probe --address=http://$metrics_address/readyz failed" >&2
      exit 1
    fi
  fi
fi
if [[ -z "$grpc_address" ]]; then
  grpc_address="${metrics_address%:*}:50051"
fi

passed=0
failed=0
check() {  # check DESCRIPTION CONDITION-COMMAND...
  local what=$1
  shift
  if "$@"; then
    echo "ok    $what"
    passed=$((passed + 1))
  else
    echo "FAIL  $what"
    failed=$((failed + 1))
  fi
}

# --- Prometheus -------------------------------------------------------------------------------

api="http://127.0.0.1:$prometheus_port"
cp deploy/compose/alerts.yml "$tmp/alerts.yml"
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: ner-server
    metrics_path: /metrics
    static_configs:
      - targets: ["$metrics_address"]
EOF
promtool check config "$tmp/prometheus.yml" >/dev/null
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
prometheus_pid=$!

# query EXPR: the sum of the instant vector's values, or "none" when it is empty.
query() {
  python3 - "$api" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
api, expr = sys.argv[1], sys.argv[2]
url = api + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
with urllib.request.urlopen(url, timeout=5) as r:
    data = json.load(r)["data"]
values = [float(s["value"][1]) for s in data["result"]] if data["resultType"] == "vector" else []
print("%g" % sum(values) if values else "none")
EOF
}
# wait_for SECONDS EXPR: until EXPR returns a non-empty vector (use comparison filters).
wait_for() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if [[ "$(query "$2" 2>/dev/null || echo none)" != none ]]; then return 0; fi
    sleep 1
  done
  return 1
}

ready=0
for _ in $(seq 1 30); do
  if curl -sf "$api/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "$prometheus_pid" 2>/dev/null; then break; fi
  sleep 1
done
if ((ready == 0)); then
  echo "prometheus_smoke: Prometheus did not start:" >&2
  cat "$tmp/prometheus.log" >&2
  exit 1
fi
echo "prometheus_smoke: Prometheus on $api scraping $metrics_address every second"

# --- Series the server exports from start-up on ------------------------------------------------

check "target up (up{job=\"ner-server\"} == 1)" wait_for 20 'up{job="ner-server"} == 1'
if ((failed > 0)); then
  echo "prometheus_smoke: cannot scrape http://$metrics_address/metrics:" >&2
  curl -s "$api/api/v1/targets" | python3 -c \
    'import json, sys; [print("  " + t["lastError"]) for t in json.load(sys.stdin)["data"]["activeTargets"]]' >&2
  exit 1
fi
for series in ner_inflight_requests ner_queue_depth ner_model_loaded ner_build_info \
    'ner_request_latency_seconds_bucket{method="Recognize"}' ner_batch_size_bucket \
    ner_batch_latency_seconds_bucket ner_queue_wait_seconds_bucket ner_train_jobs_running \
    ner_train_steps_total ner_documents_total; do
  check "series $series exists" wait_for 5 "count($series) > 0"
done
check "alert rules loaded and evaluated" bash -c "curl -sf '$api/api/v1/rules' | grep -q NerHighErrorRatio"
models=$(query 'sum(ner_model_loaded{job="ner-server"})')
echo "prometheus_smoke: models loaded: $models"

# --- Load ---------------------------------------------------------------------------------------

builtin_load() {
  local host=${grpc_address%:*}
  host=${host#[}
  host=${host%]}
  case "$host" in
    127.*|localhost|::1) ;;
    *) echo "prometheus_smoke: the built-in load only targets loopback, not $grpc_address" >&2; return 1 ;;
  esac
  # RecognizeRequest{documents: [Document{id, text}]} in gRPC's length-prefixed framing.
  python3 - "$tmp/recognize.bin" <<'EOF'
import struct, sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload
texts = ["张三在北京大学工作。", "李四毕业于清华大学，现任华为技术有限公司工程师。"]
request = b"".join(field(1, field(1, str(i).encode()) + field(2, t.encode("utf-8")))
                   for i, t in enumerate(texts))
with open(sys.argv[1], "wb") as f:
    f.write(b"\x00" + struct.pack(">I", len(request)) + request)
EOF
  local i status ok=0 other=0
  for ((i = 0; i < requests; i++)); do
    status=$(curl -s --http2-prior-knowledge --max-time 10 -o /dev/null -D - \
      -H 'content-type: application/grpc' -H 'te: trailers' \
      --data-binary @"$tmp/recognize.bin" "http://$grpc_address/ner.v1.NerService/Recognize" \
      | tr -d '\r' | awk -F': ' 'tolower($1) == "grpc-status" { print $2 }' | tail -1)
    if [[ "$status" == 0 ]]; then ok=$((ok + 1)); else other=$((other + 1)); fi
    sleep 0.1
  done
  echo "prometheus_smoke: built-in load: $requests Recognize calls, $ok OK, $other not OK"
}

if ((${#load_command[@]} > 0)); then
  echo "prometheus_smoke: load: ${load_command[*]}"
  "${load_command[@]}"
else
  builtin_load
fi

# --- Rates after load ---------------------------------------------------------------------------

check "rate(ner_requests_total) > 0" wait_for 20 'sum(rate(ner_requests_total{job="ner-server"}[30s])) > 0'
echo "prometheus_smoke: requests by method and code:"
python3 - "$api" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode(
    {"query": 'sum by (method, code) (ner_requests_total{job="ner-server"})'})
for s in json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]:
    print("  %-16s %-20s %s" % (s["metric"].get("method"), s["metric"].get("code"), s["value"][1]))
EOF
if ((${#load_command[@]} == 0)) && [[ "$models" != none && "$models" != 0 ]]; then
  check "rate(ner_documents_total) > 0" wait_for 10 'sum(rate(ner_documents_total{job="ner-server"}[30s])) > 0'
  check "batches observed (rate(ner_batch_size_count) > 0)" \
    wait_for 10 'sum(rate(ner_batch_size_count{job="ner-server"}[30s])) > 0'
  check "Recognize latency observed" \
    wait_for 10 'sum(rate(ner_request_latency_seconds_count{job="ner-server",method="Recognize"}[30s])) > 0'
fi

# --- Shutdown of a server this script started: SIGTERM drains, then exit 0 ----------------------

if [[ -n "$server_pid" ]]; then
  kill -TERM "$server_pid"
  server_status=0
  wait "$server_pid" || server_status=$?
  server_pid=""
  check "server drained on SIGTERM and exited 0 (exit $server_status)" test "$server_status" -eq 0
  if ((server_status != 0)); then tail -20 "$tmp/server.log" >&2; fi
fi

echo "prometheus_smoke: $passed passed, $failed failed"
((failed == 0))
