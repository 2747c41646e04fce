#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (the README's test command; CI runs exactly this).
# Tests that need ../shared (corpora, golden vectors) find it through NER_SHARED_DIR, default
# ../shared next to the checkout, and skip with a message when it is absent.
#   scripts/test.sh                 everything (unit, integration, slow)
#   scripts/test.sh -L unit         only the unit tests (any ctest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
export NER_SHARED_DIR=${NER_SHARED_DIR:-$(cd .. && pwd)/shared}
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
