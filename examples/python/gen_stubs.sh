#!/bin/sh
# Generates the Python modules of the ner.v1 API (ner/v1/ner_pb2.py, ner/v1/ner_pb2_grpc.py)
# into DIR (default: examples/python/gen) with Debian's protoc and grpc_python_plugin
# (packages protobuf-compiler and protobuf-compiler-grpc, which scripts/install_deps.sh installs).
#
# Debian 12's python3-grpc-tools (1.14) bundles a protoc too old for the proto3 `optional`
# fields of ner.proto, so `python3 -m grpc_tools.protoc` works only with a newer grpcio-tools
# (pip): python3 -m grpc_tools.protoc -Iproto --python_out=DIR --grpc_python_out=DIR ner/v1/ner.proto
#
# Usage: examples/python/gen_stubs.sh [DIR]. PROTOC and GRPC_PYTHON_PLUGIN override the tools.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../../proto" && pwd)
out=${1:-$here/gen}
protoc=${PROTOC:-protoc}
plugin=${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin || true)}
if [ -z "$plugin" ]; then
  echo "gen_stubs.sh: grpc_python_plugin not found (Debian: protobuf-compiler-grpc)" >&2
  exit 1
fi
mkdir -p "$out"
"$protoc" -I"$proto" --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" "$proto/ner/v1/ner.proto"
