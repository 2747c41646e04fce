#!/bin/sh
# The client from another CMake project:
#   1. `cmake --install BUILD --component nerclient` into a prefix, then a consumer project
#      (consumer/) configured with find_package(nerclient), built and run;
#   2. a consumer that add_subdirectory()s client/ on its own: configured (not built).
# Usage: find_package_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -eu
build=$1
source=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
here=$source/tests/client

run() {  # run LOG COMMAND...: quiet unless it fails
  log=$1
  shift
  if ! "$@" >"$work/$log" 2>&1; then
    echo "failed: $*" >&2
    cat "$work/$log" >&2
    exit 1
  fi
}

run install.log cmake --install "$build" --component nerclient --prefix "$work/prefix"
test -f "$work/prefix/lib/cmake/nerclient/nerclientConfig.cmake"
test -f "$work/prefix/include/ner/v1/ner.grpc.pb.h"
test -x "$work/prefix/bin/ner-client"

generator=""
if command -v ninja >/dev/null 2>&1; then generator="-GNinja"; fi
run configure.log cmake -S "$here/consumer" -B "$work/consumer" $generator \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release
run build.log cmake --build "$work/consumer"
run consumer.log "$work/consumer/consumer" 127.0.0.1:1

# add_subdirectory(<checkout>/client) from a project that has nothing else of this repository.
mkdir -p "$work/subdir"
cat >"$work/subdir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(ner_client_subdir LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
set(NER_BUILD_CLIENT_CLI OFF)
add_subdirectory("$source/client" ner_client)
add_executable(consumer "$here/consumer/main.cc")
target_link_libraries(consumer PRIVATE nerclient::ner_client)
CMAKE
run subdir.log cmake -S "$work/subdir" -B "$work/subdir/build" $generator
echo "find_package(nerclient) and add_subdirectory(client) work"
