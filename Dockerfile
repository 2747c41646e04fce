# syntax=docker/dockerfile:1
#
# The ner-server image: a thin wrapper around the scripts CI runs (scripts/install_deps.sh is the
# only package list, scripts/build.sh the only build), so the image and CI cannot drift.
#
#   docker build -t ner-server --build-arg NER_VERSION="$(git describe --always --dirty)" .
#   docker run -p 50051:50051 -p 9090:9090 ner-server [EXTRA FLAGS]   # e.g. --intra_op_threads=4
#
# Stages: `build` installs the build packages and builds with tests off; `runtime` installs only
# the shared libraries (install_deps.sh --runtime, OpenBLAS included), copies `ner-server` and the
# `ner` CLI, bakes the default model from models/default/ into /models/default and runs as a
# non-root user. docs/operations.md describes ports, flags, health, metrics and upgrades.
#
# CUDA variant (documented, not buildable on the project's machines: no Docker engine, no GPU).
# NVIDIA publishes no Debian images, so it builds on Ubuntu 24.04, whose abseil, gRPC and protobuf
# are the versions of Debian 12, and takes the official CUDA LibTorch distribution instead of
# Debian's CPU LibTorch (NER_TORCH=external makes install_deps.sh leave Debian's out):
#
#   docker build -t ner-server:cuda \
#     --build-arg VARIANT=cuda \
#     --build-arg BASE=nvidia/cuda:12.6.3-cudnn-devel-ubuntu24.04 \
#     --build-arg RUNTIME_BASE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 \
#     --build-arg LIBTORCH_URL=<the cxx11-ABI "shared-with-deps" CUDA 12.6 zip from pytorch.org> .
#   docker run --gpus all ner-server:cuda
#
# The project's code is written and tested against LibTorch 1.13 (Debian); a newer official
# LibTorch is untested here. The CUDA runtime stage copies the libraries the binaries link
# (found with ldd) instead of installing Debian package names that Ubuntu spells differently.

ARG BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm
# cpu (Debian's LibTorch) or cuda (the official CUDA LibTorch; see above).
ARG VARIANT=cpu

# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS build
ARG VARIANT
ARG LIBTORCH_URL=""
ARG BUILD_TYPE=Release
# The code version stamped into the binaries and the checkpoints they train (the context has no
# .git): docker build --build-arg NER_VERSION="$(git describe --always --dirty)" ...
ARG NER_VERSION=""
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src

# Dependencies first, in their own layer, so that a source change does not reinstall them.
COPY scripts/install_deps.sh scripts/install_deps.sh
RUN if [ "$VARIANT" = cuda ]; then export NER_TORCH=external; fi \
    && scripts/install_deps.sh \
    && rm -rf /var/lib/apt/lists/*

# CUDA only: the official LibTorch zip, unpacked with python3 (one of the build packages) into
# /opt/libtorch.
RUN if [ "$VARIANT" = cuda ]; then \
      test -n "$LIBTORCH_URL" || { echo "VARIANT=cuda needs --build-arg LIBTORCH_URL" >&2; exit 1; }; \
      python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], "/tmp/libtorch.zip")' "$LIBTORCH_URL" \
      && python3 -m zipfile -e /tmp/libtorch.zip /opt \
      && rm /tmp/libtorch.zip; \
    fi

COPY . .
# Same script as CI; extra arguments go to CMake's configure step.
RUN --mount=type=cache,target=/root/.cache/ccache \
    if [ "$VARIANT" = cuda ]; then \
      export NER_TORCH=external; \
      set -- -DNER_WITH_CUDA=ON -DCMAKE_PREFIX_PATH=/opt/libtorch; \
    fi \
    && BUILD_DIR=build BUILD_TYPE="$BUILD_TYPE" scripts/build.sh -DNER_BUILD_TESTS=OFF \
         -DNER_VERSION="$NER_VERSION" "$@" \
    && mkdir -p /out/bin /out/lib /out/models \
    && cp build/server/ner-server build/tools/ner /out/bin/

# CUDA only: every shared library the binaries load, except the C library (the base image's) and
# the driver's libcuda (mounted by the NVIDIA container toolkit).
RUN if [ "$VARIANT" = cuda ]; then \
      ldd /out/bin/ner-server /out/bin/ner | awk '/=> \// { print $3 }' | sort -u \
        | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libcuda)\.so' \
        | xargs -r cp -L -t /out/lib; \
    fi

# The default model, when the checkout has one (models/default/ is a checkpoint directory:
# config.json, vocab.txt, model.safetensors). Without it the image still builds; the server then
# needs a /models volume holding default/, or --default_model= to start without a model.
RUN if [ -f models/default/config.json ]; then \
      cp -a models/default /out/models/default; \
    else \
      echo "WARNING: models/default/ is missing: the image has no baked-in default model" >&2; \
    fi

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_BASE} AS runtime
ARG VARIANT
ENV DEBIAN_FRONTEND=noninteractive

COPY scripts/install_deps.sh /tmp/install_deps.sh
RUN if [ "$VARIANT" != cuda ]; then /tmp/install_deps.sh --runtime; fi \
    && rm -rf /var/lib/apt/lists/* /tmp/install_deps.sh \
    && groupadd --system --gid 10001 ner \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
         --shell /usr/sbin/nologin ner

COPY --from=build /out/lib/ /opt/ner/lib/
COPY --from=build /out/bin/ner-server /out/bin/ner /usr/local/bin/
COPY --from=build --chown=10001:10001 /out/models/ /models/
# Empty in the CPU image; the CUDA image's bundled libraries.
ENV LD_LIBRARY_PATH=/opt/ner/lib

# Checkpoints live under /models (--model_root): the baked default model, and whatever LoadModel
# is asked to load. A named volume mounted here starts as a copy of the baked model.
VOLUME /models

USER 10001:10001
WORKDIR /models

# 50051: gRPC (ner.v1.NerService and grpc.health.v1.Health); 9090: Prometheus /metrics.
EXPOSE 50051 9090

# grpc.health.v1 through the server's own probe: exit 0 only when SERVING (a default model is
# loaded and the server is not draining). The start period covers loading the model. With TLS
# on the gRPC port, probe the metrics port instead: --address=http://127.0.0.1:9090/readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["ner-server", "probe", "--address=127.0.0.1:50051", "--timeout=3s"]

# SIGTERM drains (health NOT_SERVING, in-flight calls get --drain_grace, default 10s): give
# `docker stop` more than that, e.g. `docker stop -t 30`.
STOPSIGNAL SIGTERM

# Flags given to `docker run` (or a Kubernetes `args:`) are appended; a later flag overrides an
# earlier one, and `--default_model=` starts without a model. --encoder_dtype=auto computes in
# bfloat16 on CPUs with AMX (2.6x the float32 throughput of the default model, F1 unchanged;
# docs/performance.md) and float32 elsewhere; --encoder_dtype=float32 gives every host the same
# bits.
ENTRYPOINT ["ner-server", \
            "--listen_address=0.0.0.0:50051", \
            "--metrics_address=0.0.0.0:9090", \
            "--model_root=/models", \
            "--default_model=default", \
            "--device=auto", \
            "--encoder_dtype=auto"]
