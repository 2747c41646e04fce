#!/usr/bin/env bash
# Installs the dependencies (scripts/install_deps.sh) and builds the project into ${BUILD_DIR:-build}.
# Extra arguments go to CMake's configure step, e.g. scripts/build.sh -DNER_ENABLE_ASAN=ON.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@"
cmake --build "$BUILD_DIR" -j "$(nproc)"
