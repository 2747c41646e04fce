#!/usr/bin/env bash
# Checks the deployment files (Dockerfile, deploy/kubernetes, deploy/compose) with real tools:
# promtool (Debian's prometheus) for the Prometheus configs, the alert rules and their unit tests,
# yamllint for the YAML, and scripts/check_deploy.py for the metric names, flags and references
# against the server's code. Registered with ctest as `deploy_check` (label deploy).
#
#   scripts/check_deploy.sh                 metric names checked against server/metrics.cc
#   scripts/check_deploy.sh METRICS_DUMP    ... against a /metrics page saved from a running
#                                           server (curl -s localhost:9090/metrics > dump.txt)
# Environment: NER_SERVER_BINARY, a built ner-server (default build/server/ner-server, when it
# exists): the Docker runtime packages must provide every shared library it loads.
#
# Exits 77 (ctest's SKIP_RETURN_CODE) when promtool, yamllint or PyYAML is missing;
# scripts/install_deps.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in promtool yamllint; do
  if ! command -v "$tool" >/dev/null; then
    echo "check_deploy: SKIP: $tool is not installed (scripts/install_deps.sh installs it)"
    exit 77
  fi
done
# A python3 with PyYAML: Debian's has it with yamllint, but a python3 earlier in PATH (pyenv,
# a virtual environment) may not.
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [[ -z "$python" ]]; then
  echo "check_deploy: SKIP: no python3 with the yaml module (Debian's comes with yamllint)"
  exit 77
fi

failed=0
passed=0
step() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    failed=$((failed + 1))
  fi
}

# Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
# kubernetes_sd_configs; check_deploy.py checks that file's structure instead.
check_k8s_scrape_config() {
  local out
  if out=$(promtool check config deploy/kubernetes/prometheus-kubernetes-sd.yml 2>&1); then
    echo "$out"
  elif grep -q "field kubernetes_sd_configs not found" <<<"$out"; then
    echo "skipped: this promtool is built without Kubernetes discovery"
  else
    echo "$out"
    return 1
  fi
}

step "promtool check config (compose)" promtool check config deploy/compose/prometheus.yml
step "promtool check config (kubernetes_sd)" check_k8s_scrape_config
step "promtool check rules" promtool check rules deploy/compose/alerts.yml
step "promtool test rules" promtool test rules deploy/compose/alerts.test.yml
step "yamllint" yamllint --strict -c .yamllint deploy .yamllint
step "shell syntax" bash -n scripts/check_deploy.sh scripts/prometheus_smoke.sh
py_args=()
if [[ $# -ge 1 ]]; then
  py_args+=(--metrics-dump "$1")
fi
# With a built server (ctest passes its path), also check that the runtime image's packages
# provide every library it loads.
binary=${NER_SERVER_BINARY:-build/server/ner-server}
if [[ -x "$binary" ]] && command -v dpkg >/dev/null && command -v apt-cache >/dev/null; then
  py_args+=(--binary "$binary")
fi
step "metrics, flags and references${1:+ (against $1)}" "$python" scripts/check_deploy.py "${py_args[@]}"
# kubectl is optional: where present, the kustomization must render.
if command -v kubectl >/dev/null; then
  step "kubectl kustomize" bash -c 'kubectl kustomize deploy/kubernetes >/dev/null'
fi

echo "check_deploy: $passed passed, $failed failed"
((failed == 0))
