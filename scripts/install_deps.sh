#!/usr/bin/env bash
# Installs every build and runtime dependency of the project from Debian 12 packages.
# This is the only place that lists them: README, .ci/run and the Dockerfile all call it.
# Idempotent: re-running it on a machine that has everything is quick and changes nothing.
#
# Usage: scripts/install_deps.sh [--runtime]
#   --runtime  only the shared libraries a built server needs (for the Docker runtime stage).
# Environment: NER_TORCH=external leaves out Debian's LibTorch, for builds that bring their own
# (the CUDA image uses the official CUDA LibTorch distribution; see Dockerfile).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libtorch-dev
  libopenblas0-openmp          # without it LibTorch runs on the reference BLAS (~25x slower GEMM)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev
  prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  python3
  python3-grpcio               # examples/python and its test (stubs: protoc + grpc_python_plugin)
  clang libclang-rt-14-dev     # libFuzzer + sanitizers: scripts/fuzz.sh and the ctest fuzz_smoke
)

# Tools that check the deployment files (scripts/check_deploy.sh, the ctest `deploy_check`):
# promtool comes with Debian's prometheus, which scripts/prometheus_smoke.sh (ctest
# `prometheus_smoke`) also starts and queries with curl; openssl makes the certificates of the
# TLS/mTLS tests. Installed with the build packages.
CHECK_PACKAGES=(
  prometheus yamllint curl openssl
)

RUNTIME_PACKAGES=(
  libtorch1.13 libopenblas0-openmp
  libgrpc++1.51 libprotobuf32 libabsl20220623
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
)

packages=("${BUILD_PACKAGES[@]}" "${CHECK_PACKAGES[@]}")
if [[ "${1:-}" == "--runtime" ]]; then
  packages=("${RUNTIME_PACKAGES[@]}")
fi
if [[ "${NER_TORCH:-debian}" == "external" ]]; then
  kept=()
  for p in "${packages[@]}"; do
    [[ "$p" == libtorch* ]] || kept+=("$p")
  done
  packages=("${kept[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
