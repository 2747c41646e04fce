#!/usr/bin/env bash
# Sets up, builds and runs the main job. Until the server and its default model land, that is the
# `ner` CLI on the shared corpora: data statistics of every split.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
SHARED=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
if [[ -d "$SHARED/data" ]]; then
  exec "${BUILD_DIR:-build}"/tools/ner data stats "$SHARED"/data/resume/*.char.bmes \
    "$SHARED"/data/peoples-daily/*.txt
fi
echo "no corpora at $SHARED/data (set NER_SHARED_DIR); showing the CLI's help" >&2
exec "${BUILD_DIR:-build}"/tools/ner
