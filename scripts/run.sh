#!/usr/bin/env bash
# Sets up, builds and runs the main job: the gRPC NER service serving the shipped default model
# (models/default, People's Daily PER/LOC/ORG; see models/README.md) on 0.0.0.0:50051, with
# Prometheus metrics on 0.0.0.0:9090. Extra arguments go to ner-server (see docs/api.md), e.g.
#   scripts/run.sh --listen_address=127.0.0.1:50051 --encoder_dtype=bfloat16
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it drains in-flight calls and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
if [[ ! -f models/default/model.safetensors ]]; then
  echo "run: no default model at models/default (see models/README.md)" >&2
  exit 1
fi
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
data_root=.
[[ -d "$SHARED/data" ]] && data_root="$SHARED/data"
exec "${BUILD_DIR:-build}"/server/ner-server --model_root=models --default_model=default \
  --data_root="$data_root" --train_vocab=default/vocab.txt "$@"
