#!/usr/bin/env python3
"""Consistency checks of the deployment files against the server's code (scripts/check_deploy.sh).

  scripts/check_deploy.py [--metrics-dump FILE] [--binary build/server/ner-server]

- Metrics: every series named in the Grafana dashboard, the alert rules, the HPA and the
  prometheus-adapter rule is one the server exports, with labels it has. The exported series are
  parsed from server/metrics.cc (the families registered there) and server/process_metrics.cc
  (process_*), or, with --metrics-dump, from a
  /metrics page saved from a running server. Every PromQL expression is also parsed by
  `promtool check rules` (Grafana variables substituted).
- Flags: every ner-server flag in the Dockerfile, the Kubernetes manifests and the compose file
  is defined in server/server_flags.cc; the grace periods exceed --drain_grace.
- Dockerfile: COPY sources exist and are not excluded by .dockerignore, referenced scripts exist,
  the final stage runs as a non-root user, has a HEALTHCHECK that probes gRPC health, exposes the
  gRPC and metrics ports, and its ENTRYPOINT serves /models.
- Kubernetes and compose: the objects refer to each other consistently (selectors, ports, names).
- With --binary: the Docker runtime stage's packages (install_deps.sh --runtime and what they
  depend on) provide every shared library the built server loads.

Prints one line per check and exits 1 if any failed. Needs python3 with PyYAML (yamllint's
dependency) and promtool.
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
COMPOSE = os.path.join(DEPLOY, "compose")

# Labels that Prometheus or its service discovery attach to every series of a target.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint", "service"}
# Series Prometheus itself makes for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Flags every absl binary has.
ABSL_BUILTIN_FLAGS = {"flagfile", "fromenv", "tryfromenv", "undefok", "help", "helpfull",
                      "helpshort", "helppackage", "helpon", "helpmatch", "version", "only_check_args"}

failures = []


def report(ok, what, detail=""):
    print(("ok    " if ok else "FAIL  ") + what + (": " + detail if detail else ""))
    if not ok:
        failures.append(what)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, ROOT)


# ---------------------------------------------------------------------------------------------
# What the server exports.


def balanced_args(text, open_at):
    """The text between the parenthesis at `open_at` and its match."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return text[open_at + 1:]


def metrics_from_source(path):
    """{series name: set of label names} for the families registered in metrics.cc.

    A family is `prometheus::Build<Type>().Name("...")`, assigned to a variable or member; its
    label names are the keys of the label sets passed to `<variable>.Add(...)`. Histograms
    expand to _bucket (with le), _sum and _count.
    """
    src = re.sub(r"//[^\n]*", "", read(path))
    family_re = re.compile(
        r"(?:(\w+)\s*(?:\(|=)\s*)?prometheus::Build(Counter|Gauge|Histogram|Summary)\(\)\s*"
        r"\.Name\(\s*\"([^\"]+)\"\s*\)", re.S)
    label_key = re.compile(r"\{\s*\"(\w+)\"\s*,")
    series = {}
    types = {}
    for fm in family_re.finditer(src):
        var, kind, name = fm.groups()
        labels = set()
        # A child added in the builder chain: ...Register(registry).Add({{"key", value}, ...}).
        chain = re.compile(r"(?:\s*\.\s*(?:Help|Labels)\s*\((?:[^()]|\([^()]*\))*\))*"
                           r"\s*\.\s*Register\s*\(\s*\w+\s*\)\s*\.\s*Add\s*\(").match(src, fm.end())
        if chain:
            labels |= set(label_key.findall(balanced_args(src, chain.end() - 1)))
        # Children added later through the variable the family was bound to.
        for m in re.finditer(r"\b" + re.escape(var or "$^") + r"\s*\.\s*Add\s*\(", src):
            labels |= set(label_key.findall(balanced_args(src, m.end() - 1)))
        types[name] = kind.lower()
        if kind == "Histogram":
            series[name + "_bucket"] = labels | {"le"}
            series[name + "_sum"] = set(labels)
            series[name + "_count"] = set(labels)
        elif kind == "Summary":
            series[name] = labels | {"quantile"}
            series[name + "_sum"] = set(labels)
            series[name + "_count"] = set(labels)
        else:
            series[name] = labels
    return series, types


def metrics_from_process_source(path):
    """The process_* families of process_metrics.cc: Family("name", "help", MetricType::Kind, ...)."""
    src = re.sub(r"//[^\n]*", "", read(path))
    series, types = {}, {}
    for name, kind in re.findall(r"Family\(\s*\"(process_\w+)\"\s*,\s*\"[^\"]*\"\s*,\s*"
                                 r"MetricType::(\w+)", src, re.S):
        series[name] = set()
        types[name] = kind.lower()
    return series, types


def metrics_from_dump(path):
    """{series name: set of label names, or None when no sample shows them} from a /metrics page."""
    series = {}
    types = {}
    for line in read(path).splitlines():
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            name, kind = m.groups()
            types[name] = kind
            names = [name + s for s in ("_bucket", "_sum", "_count")] if kind == "histogram" else [name]
            for n in names:
                series.setdefault(n, None)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s", line)
        if m:
            labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*\"", m.group(2) or ""))
            series[m.group(1)] = (series.get(m.group(1)) or set()) | labels
    return series, types


# ---------------------------------------------------------------------------------------------
# PromQL: the series and labels an expression uses (a tokenizer, not a full parser; promtool
# checks the syntax).

AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}
KEYWORDS = AGGREGATIONS | {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[a-z]*|\.\d+)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
""", re.X)


def promql_refs(expr):
    """[(series, {label names in its matcher})] and the set of grouping label names."""
    tokens = []
    pos = 0
    while pos < len(expr):
        m = TOKEN_RE.match(expr, pos)
        if not m:
            raise ValueError("cannot tokenize at %r" % expr[pos:pos + 20])
        pos = m.end()
        if m.lastgroup != "ws":
            tokens.append((m.lastgroup, m.group()))
    refs, grouping = [], set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if kind == "ident" and text in GROUPING and nxt == "(":
            j = i + 2
            while j < len(tokens) and tokens[j][1] != ")":
                if tokens[j][0] == "ident":
                    grouping.add(tokens[j][1])
                j += 1
            i = j + 1
            continue
        if text == "[":  # range or subquery duration
            while i < len(tokens) and tokens[i][1] != "]":
                i += 1
            i += 1
            continue
        if (kind == "ident" and text not in KEYWORDS and nxt != "(") or text == "{":
            name = text if text != "{" else None
            labels = set()
            j = i + 1 if name else i
            if j < len(tokens) and tokens[j][1] == "{":
                j += 1
                while j < len(tokens) and tokens[j][1] != "}":
                    if tokens[j][0] == "ident" and j + 1 < len(tokens) and tokens[j + 1][1] in ("=", "!=", "=~", "!~"):
                        labels.add(tokens[j][1])
                    j += 1
                i = j
            if name:
                refs.append((name, labels))
        i += 1
    return refs, grouping


def grafana_to_promql(expr):
    """A dashboard expression with Grafana's variables replaced by valid PromQL."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m").replace("$__range", "1h")
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", ".*", expr)


# ---------------------------------------------------------------------------------------------
# Sources of expressions.


def dashboard_exprs():
    out = []
    for path in sorted(glob.glob(os.path.join(COMPOSE, "grafana", "dashboards", "*.json"))):
        try:
            dash = json.loads(read(path))
            report(True, "dashboard JSON parses", rel(path))
        except ValueError as e:
            report(False, "dashboard JSON parses", "%s: %s" % (rel(path), e))
            continue
        report(bool(dash.get("uid")) and bool(dash.get("panels")), "dashboard has a uid and panels", rel(path))

        def walk(panels):
            for p in panels:
                yield p
                yield from walk(p.get("panels", []))

        for p in walk(dash.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(("%s panel %r" % (rel(path), p.get("title")), grafana_to_promql(t["expr"])))
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.match(r"\s*label_values\((.*),\s*\w+\s*\)\s*$", q)
            if m:
                out.append(("%s variable %r" % (rel(path), v.get("name")), grafana_to_promql(m.group(1))))
    return out


def alert_exprs():
    out = []
    for path in (os.path.join(COMPOSE, "alerts.yml"),):
        for g in yaml.safe_load(read(path))["groups"]:
            for r in g["rules"]:
                out.append(("%s %s" % (rel(path), r.get("alert") or r.get("record")), r["expr"]))
    return out


def k8s_docs():
    docs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        for d in yaml.safe_load_all(read(path)):
            if isinstance(d, dict) and "kind" in d and "apiVersion" in d:
                docs.setdefault(d["kind"], []).append((path, d))
    return docs


def adapter_exprs():
    out = []
    path = os.path.join(K8S, "prometheus-adapter-config.yaml")
    for r in yaml.safe_load(read(path))["rules"]:
        series = r["name"]["as"]
        out.append(("%s seriesQuery" % rel(path), r["seriesQuery"]))
        q = (r["metricsQuery"].replace("<<.Series>>", series)
             .replace("<<.LabelMatchers>>", 'namespace="ner"').replace("<<.GroupBy>>", "pod"))
        out.append(("%s metricsQuery" % rel(path), q))
    return out


def check_expressions(exprs, series):
    """Every expression parses (promtool) and names exported series and labels only."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = {"groups": [{"name": "deploy_check", "rules": [
            {"record": "deploy_check:expr_%d" % i, "expr": e} for i, (_, e) in enumerate(exprs)]}]}
        path = os.path.join(tmp, "exprs.yml")
        with open(path, "w") as f:
            yaml.safe_dump(rules, f)
        r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
        report(r.returncode == 0, "promtool parses all %d dashboard/alert/adapter expressions" % len(exprs),
               "" if r.returncode == 0 else (r.stdout + r.stderr).strip())
    all_labels = set().union(*[l for l in series.values() if l]) | TARGET_LABELS
    for where, e in exprs:
        try:
            refs, grouping = promql_refs(e)
        except ValueError as err:
            report(False, where, str(err))
            continue
        bad = []
        for name, labels in refs:
            if name in SCRAPE_SERIES:
                continue
            if name not in series:
                bad.append("unknown series %s" % name)
                continue
            known = series[name]
            if known is None:  # declared in a dump but no sample shows its labels
                continue
            extra = labels - known - TARGET_LABELS - {"__name__"}
            if extra:
                bad.append("%s has no label %s" % (name, ", ".join(sorted(extra))))
        extra = grouping - all_labels
        if any(series.get(name, set()) is None for name, _ in refs):
            extra = set()  # a series whose labels the dump does not show
        if extra:
            bad.append("grouping by unknown label %s" % ", ".join(sorted(extra)))
        if not refs:
            bad.append("names no series")
        report(not bad, "metrics of " + where, "; ".join(bad))


# ---------------------------------------------------------------------------------------------
# Flags.


def server_flags():
    src = read(os.path.join(ROOT, "server", "server_flags.cc"))
    flags = {}
    for m in re.finditer(r"ABSL_FLAG\(\s*(.+?),\s*(\w+),\s*(.+?),\s*\n?\s*\"", src, re.S):
        flags[m.group(2)] = (m.group(1).strip(), m.group(3).strip())
    return flags


def parse_duration_s(text):
    """Seconds of an absl duration ("10s", "1m30s", "500ms") or of absl::Seconds(N) etc."""
    m = re.match(r"absl::(Seconds|Milliseconds|Minutes)\((\d+)\)", text)
    if m:
        return int(m.group(2)) * {"Seconds": 1, "Milliseconds": 0.001, "Minutes": 60}[m.group(1)]
    total, units = 0.0, {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", text)
    if not parts:
        raise ValueError("not a duration: %r" % text)
    for number, unit in parts:
        total += float(number) * units[unit]
    return total


def check_flag_args(where, args, flags):
    bad = []
    for a in args:
        m = re.match(r"--?([a-z_]+)(?:=(.*))?$", a)
        if not m:
            continue
        name, value = m.groups()
        if name.startswith("no") and name[2:] in flags:
            name = name[2:]
        if name not in flags and name not in ABSL_BUILTIN_FLAGS:
            bad.append("unknown flag --" + name)
        if name in ("fromenv", "tryfromenv") and value:
            bad += ["unknown flag %s in --%s" % (n, name) for n in value.split(",") if n not in flags]
    report(not bad, "flags of " + where, "; ".join(bad))


# ---------------------------------------------------------------------------------------------
# Dockerfile.


def dockerfile_instructions(path):
    lines, cur = [], ""
    for raw in read(path).splitlines():
        if not cur and (raw.strip().startswith("#") or not raw.strip()):
            continue
        if cur and raw.strip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        lines.append(cur.strip())
        cur = ""
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerignore_excludes(path_rel, patterns):
    excluded = False
    parts = path_rel.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for neg, pat in patterns:
        pat = pat.rstrip("/")
        if any(fnmatch.fnmatch(c, pat) or fnmatch.fnmatch(c, pat.replace("**/", "")) for c in candidates):
            excluded = not neg
    return excluded


def check_dockerfile(flags):
    path = os.path.join(ROOT, "Dockerfile")
    ins = dockerfile_instructions(path)
    patterns = []
    ignore = os.path.join(ROOT, ".dockerignore")
    report(os.path.exists(ignore), ".dockerignore exists")
    if os.path.exists(ignore):
        for line in read(ignore).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append((line.startswith("!"), line.lstrip("!")))
        for must in ("build", "out", ".git"):
            report(dockerignore_excludes(must, patterns), ".dockerignore excludes " + must)
        report(not dockerignore_excludes("models/default/config.json", patterns),
               ".dockerignore keeps models/default/")
    stages = [i for i, (w, _) in enumerate(ins) if w == "FROM"]
    report(len(stages) >= 2, "Dockerfile is multi-stage", "%d stages" % len(stages))
    args = {}
    for w, rest in ins:
        if w == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args.setdefault(k.strip(), v.strip().strip('"'))
    report(args.get("BASE") == "debian:bookworm", "build stage defaults to debian:bookworm", args.get("BASE", ""))
    # COPY sources.
    for w, rest in ins:
        if w not in ("COPY", "ADD"):
            continue
        words = [x for x in shlex.split(rest) if not x.startswith("--")]
        if "--from=" in rest or not words:
            continue
        for src in words[:-1]:
            if src == ".":
                continue
            exists = bool(glob.glob(os.path.join(ROOT, src)))
            report(exists and not dockerignore_excludes(src.rstrip("/"), patterns),
                   "COPY source %s is in the build context" % src)
    # Scripts run in RUN instructions exist and are executable.
    text = read(path)
    for script in sorted(set(re.findall(r"\bscripts/[\w.-]+", "\n".join(r for w, r in ins if w == "RUN")))):
        p = os.path.join(ROOT, script)
        report(os.path.isfile(p) and os.access(p, os.X_OK), "Dockerfile runs %s, which exists" % script)
    report("-DNER_BUILD_TESTS=OFF" in text, "image builds with -DNER_BUILD_TESTS=OFF")
    cmake = read(os.path.join(ROOT, "CMakeLists.txt"))
    for opt in sorted(set(re.findall(r"-D(NER_\w+)=", text))):
        declared = r"(option\(\s*%s\b|set\(\s*%s\b[^)]*\bCACHE\b)" % (opt, opt)
        report(re.search(declared, cmake) is not None, "CMake option %s exists" % opt)
    # The binaries it copies are the CMake targets at those paths.
    for binary, cml in (("build/server/ner-server", "server/CMakeLists.txt"), ("build/tools/ner", "tools/CMakeLists.txt")):
        target = os.path.basename(binary)
        ok = binary in text and re.search(r"add_executable\(\s*%s\b" % re.escape(target), read(os.path.join(ROOT, cml)))
        report(bool(ok), "Dockerfile copies %s, a target of %s" % (binary, cml))
    # The final stage.
    final = ins[stages[-1]:]
    users = [r for w, r in final if w == "USER"]
    report(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "final stage runs as a non-root user",
           users[-1] if users else "no USER")
    health = [r for w, r in final if w == "HEALTHCHECK"]
    report(bool(health) and "probe" in health[-1] and "ner-server" in health[-1],
           "final stage has a HEALTHCHECK running `ner-server probe`")
    exposed = set(" ".join(r for w, r in final if w == "EXPOSE").split())
    report({"50051", "9090"} <= exposed, "final stage exposes 50051 and 9090", " ".join(sorted(exposed)))
    report(any(w == "VOLUME" and "/models" in r for w, r in final), "final stage declares the /models volume")
    entry = [r for w, r in final if w == "ENTRYPOINT"]
    try:
        entry_args = json.loads(entry[-1]) if entry else []
    except ValueError:
        entry_args = []
    report(bool(entry_args) and entry_args[0] == "ner-server", "ENTRYPOINT is ner-server in exec form")
    report("--model_root=/models" in entry_args and any(a.startswith("--default_model=") for a in entry_args),
           "ENTRYPOINT serves the default model from /models")
    check_flag_args("the Dockerfile ENTRYPOINT", entry_args, flags)
    if health:
        h = health[-1]
        probe_args = json.loads(h[h.index("["):]) if "[" in h else shlex.split(h)
        check_flag_args("the Dockerfile HEALTHCHECK", probe_args, flags)
        listen = [a.split(":")[-1] for a in entry_args if a.startswith("--listen_address=")]
        probed = [a.split(":")[-1] for a in probe_args if a.startswith("--address=")]
        report(listen == probed, "HEALTHCHECK probes the port ENTRYPOINT listens on", "%s vs %s" % (listen, probed))
    return entry_args


def check_runtime_packages(binary):
    """The Docker runtime stage's packages (install_deps.sh --runtime, with what they depend on)
    provide every shared library a built binary loads. Needs dpkg and apt-cache (Debian)."""
    src = read(os.path.join(ROOT, "scripts", "install_deps.sh"))
    m = re.search(r"^RUNTIME_PACKAGES=\((.*?)^\)", src, re.S | re.M)
    runtime = re.sub(r"#[^\n]*", "", m.group(1)).split() if m else []
    report(bool(runtime), "RUNTIME_PACKAGES found in scripts/install_deps.sh", " ".join(runtime))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
    libs = re.findall(r"=>\s+(/\S+)", ldd.stdout)
    report(any(p.startswith("libopenblas0") for p in runtime), "runtime packages include OpenBLAS",
           "without it LibTorch runs on the reference BLAS")
    owner = {}  # file path, without a leading /usr (merged /usr), -> package
    for path in glob.glob("/var/lib/dpkg/info/*.list"):
        package = os.path.basename(path)[:-len(".list")].split(":")[0]
        for line in read(path).splitlines():
            if "/lib" in line and ".so" in line:
                owner.setdefault(re.sub(r"^/usr/", "/", line), package)

    def owner_of(lib):
        for candidate in (lib, os.path.realpath(lib)):
            package = owner.get(re.sub(r"^/usr/", "/", candidate))
            if package:
                return package
        return None

    # The base image has the C and C++ runtimes (apt needs them). Alternatives count as provided
    # (apt-cache lists every provider of a virtual package), hence the OpenBLAS check above.
    deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                           "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]
                          + runtime + ["libc6", "libstdc++6", "libgcc-s1"],
                          capture_output=True, text=True).stdout
    have = {l.split(":")[0] for l in deps.splitlines() if l and not l.startswith(" ")}
    if not set(runtime) <= have:
        print("warn  apt-cache does not know the runtime packages (no package lists?): "
              "runtime library check skipped")
        return
    missing, unowned = set(), []
    for lib in libs:
        package = owner_of(lib)
        if package is None:
            unowned.append(lib)
        elif package not in have:
            missing.add("%s (%s)" % (package, os.path.basename(lib)))
    report(bool(libs) and not missing, "runtime packages provide the %d libraries of %s" % (len(libs), rel(binary)),
           "missing " + ", ".join(sorted(missing)) if missing else "")
    if unowned:
        print("warn  libraries no package owns (not in the image unless copied): " + ", ".join(unowned))


# ---------------------------------------------------------------------------------------------
# Kubernetes.


def flagfile_args(text):
    return [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]


def check_kubernetes(series, flags, entry_args):
    docs = k8s_docs()
    kust = yaml.safe_load(read(os.path.join(K8S, "kustomization.yaml")))
    for r in kust.get("resources", []):
        report(os.path.isfile(os.path.join(K8S, r)), "kustomization resource %s exists" % r)
    listed = set(kust.get("resources", []))
    for kind, items in docs.items():
        for path, d in items:
            if kind != "Kustomization" and os.path.basename(path) not in listed \
                    and "patch" not in os.path.basename(path):
                report(False, "%s (%s) is listed in kustomization.yaml" % (rel(path), kind))
    deploy = docs["Deployment"][0][1]
    pod = deploy["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    report(ports.get("grpc") == 50051 and ports.get("metrics") == 9090, "Deployment ports grpc 50051, metrics 9090")

    def matches(sel):
        return all(pod_labels.get(k) == v for k, v in (sel or {}).items())

    report(matches(deploy["spec"]["selector"]["matchLabels"]), "Deployment selector matches its pods")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe, {})
        report(p.get("grpc", {}).get("port") == ports.get("grpc"), "%s is a gRPC health probe on the gRPC port" % probe)
    res = c.get("resources", {})
    report(all(k in res.get(s, {}) for s in ("requests", "limits") for k in ("cpu", "memory")),
           "Deployment sets cpu and memory requests and limits")
    report(pod["spec"].get("securityContext", {}).get("runAsNonRoot") is True, "pods run as non-root")
    # Flags: the ConfigMap's flagfile and the args.
    cms = {d["metadata"]["name"]: d for _, d in docs.get("ConfigMap", [])}
    file_args = []
    for a in c.get("args", []):
        m = re.match(r"--flagfile=(.*)", a)
        if m:
            mount = [vm for vm in c.get("volumeMounts", []) if m.group(1).startswith(vm["mountPath"] + "/")]
            vol = [v for v in pod["spec"]["volumes"] if mount and v["name"] == mount[0]["name"]]
            cm = cms.get(vol[0].get("configMap", {}).get("name")) if vol else None
            key = os.path.basename(m.group(1))
            report(cm is not None and key in cm.get("data", {}), "flagfile %s comes from a ConfigMap" % m.group(1))
            if cm is not None and key in cm.get("data", {}):
                file_args = flagfile_args(cm["data"][key])
                check_flag_args("ConfigMap %s" % cm["metadata"]["name"], file_args, flags)
        m = re.match(r"--(?:try)?fromenv=(.*)", a)
        if m:
            env = {e["name"] for e in c.get("env", [])}
            missing = [n for n in m.group(1).split(",") if "FLAGS_" + n not in env]
            report(not missing, "flags read from the environment have FLAGS_ variables", ", ".join(missing))
    check_flag_args("the Deployment args", c.get("args", []), flags)
    # Grace period: preStop sleep + drain_grace must fit.
    drain = parse_duration_s(flags["drain_grace"][1])
    for a in entry_args + file_args + c.get("args", []):
        if a.startswith("--drain_grace="):
            drain = parse_duration_s(a.split("=", 1)[1])
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = float(pre[-1]) if pre[:1] == ["sleep"] else 0
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    report(grace > pre_s + drain, "terminationGracePeriodSeconds exceeds preStop + --drain_grace",
           "%ss vs %ss + %ss" % (grace, pre_s, drain))
    # Services.
    svcs = [d for _, d in docs.get("Service", [])]
    headless = [s for s in svcs if s["spec"].get("clusterIP") == "None"]
    report(any(p.get("port") == 50051 for s in headless for p in s["spec"]["ports"]),
           "a headless Service serves gRPC for client-side balancing")
    for s in svcs:
        report(matches(s["spec"]["selector"]), "Service %s selects the pods" % s["metadata"]["name"])
        for p in s["spec"]["ports"]:
            report(p.get("targetPort") in ports or p.get("targetPort") in ports.values(),
                   "Service %s port %s targets a container port" % (s["metadata"]["name"], p.get("name")))
    for _, pdb in docs.get("PodDisruptionBudget", []):
        report(matches(pdb["spec"]["selector"]["matchLabels"]), "PodDisruptionBudget selects the pods")
    for _, pm in docs.get("PodMonitor", []):
        report(matches(pm["spec"]["selector"]["matchLabels"]), "PodMonitor selects the pods")
        for ep in pm["spec"]["podMetricsEndpoints"]:
            report(ep.get("port") in ports, "PodMonitor scrapes the named port %s" % ep.get("port"))
    # HPA: its custom metric is exported and served by the adapter rule.
    adapter = yaml.safe_load(read(os.path.join(K8S, "prometheus-adapter-config.yaml")))
    served = {r["name"]["as"] for r in adapter["rules"]}
    for _, hpa in docs.get("HorizontalPodAutoscaler", []):
        report(hpa["apiVersion"] == "autoscaling/v2", "HPA is autoscaling/v2")
        report(hpa["spec"]["scaleTargetRef"]["name"] == deploy["metadata"]["name"], "HPA scales the Deployment")
        for m in hpa["spec"]["metrics"]:
            if m["type"] == "Pods":
                name = m["pods"]["metric"]["name"]
                report(name in series, "HPA metric %s is exported by the server" % name)
                report(name in served, "HPA metric %s is served by the prometheus-adapter rule" % name)
    # Prometheus with Kubernetes discovery: checked here when promtool cannot (see the .sh).
    sd = yaml.safe_load(read(os.path.join(K8S, "prometheus-kubernetes-sd.yml")))
    job = sd["scrape_configs"][0]
    keeps = [r for r in job.get("relabel_configs", []) if r.get("action") == "keep"]
    report(any(r.get("regex") == "metrics" for r in keeps), "Kubernetes scrape job keeps the port named metrics")
    report(all(os.path.isfile(os.path.join(K8S, f)) for f in sd.get("rule_files", [])),
           "Kubernetes scrape config's rule files exist")


# ---------------------------------------------------------------------------------------------
# Compose.


def check_compose(flags):
    compose = yaml.safe_load(read(os.path.join(COMPOSE, "docker-compose.yml")))
    svc = compose["services"]
    ner = svc["ner-server"]
    ctx = os.path.normpath(os.path.join(COMPOSE, ner["build"]["context"]))
    report(os.path.isfile(os.path.join(ctx, ner["build"].get("dockerfile", "Dockerfile"))),
           "compose builds ner-server from the repository's Dockerfile")
    check_flag_args("the compose ner-server command", ner.get("command", []), flags)
    drain = parse_duration_s(flags["drain_grace"][1])
    for a in ner.get("command", []):
        if a.startswith("--drain_grace="):
            drain = parse_duration_s(a.split("=", 1)[1])
    report(parse_duration_s(ner.get("stop_grace_period", "10s")) > drain, "compose stop_grace_period exceeds --drain_grace")
    for name, s in svc.items():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                report(os.path.exists(os.path.join(COMPOSE, src)), "compose %s mounts %s, which exists" % (name, src))
    prom = yaml.safe_load(read(os.path.join(COMPOSE, "prometheus.yml")))
    targets = [t for j in prom["scrape_configs"] for sc in j.get("static_configs", []) for t in sc["targets"]]
    report("ner-server:9090" in targets, "compose Prometheus scrapes ner-server:9090")
    report([j["job_name"] for j in prom["scrape_configs"]] == ["ner-server"], "scrape job is named ner-server (the alerts' job)")
    ds = yaml.safe_load(read(os.path.join(COMPOSE, "grafana", "provisioning", "datasources", "prometheus.yml")))
    uids = {d.get("uid") for d in ds["datasources"]}
    for path in glob.glob(os.path.join(COMPOSE, "grafana", "dashboards", "*.json")):
        used = set(re.findall(r'"uid":\s*"([^"]+)"', read(path))) - {"-- Grafana --", json.loads(read(path)).get("uid")}
        report(used <= uids, "dashboard %s uses provisioned datasources" % os.path.basename(path), ", ".join(used - uids))
    prov = yaml.safe_load(read(os.path.join(COMPOSE, "grafana", "provisioning", "dashboards", "ner-service.yml")))
    mounts = {v.split(":")[1] for v in svc["grafana"]["volumes"] if v.startswith(".")}
    report(all(p["options"]["path"] in mounts for p in prov["providers"]), "dashboard provider path is mounted")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--metrics-dump", help="a /metrics page of a running ner-server to check against")
    ap.add_argument("--binary", help="a built ner-server: check the runtime packages provide its libraries")
    opts = ap.parse_args()
    if opts.metrics_dump:
        series, types = metrics_from_dump(opts.metrics_dump)
        source = opts.metrics_dump
    else:
        series, types = metrics_from_source(os.path.join(ROOT, "server", "metrics.cc"))
        process_series, process_types = metrics_from_process_source(
            os.path.join(ROOT, "server", "process_metrics.cc"))
        report(len(process_types) >= 5, "process metric families found in server/process_metrics.cc",
               ", ".join(sorted(process_types)))
        series.update(process_series)
        types.update(process_types)
        source = "server/metrics.cc"
    report(len(types) >= 5, "exported metric families found in " + source, ", ".join(sorted(types)))
    for name, kind in sorted(types.items()):
        if kind == "counter" and not name.endswith("_total"):
            print("warn  counter %s does not end in _total" % name)
    flags = server_flags()
    report(len(flags) >= 10 and "drain_grace" in flags, "server flags found in server/server_flags.cc", "%d flags" % len(flags))

    check_expressions(dashboard_exprs() + alert_exprs() + adapter_exprs(), series)
    entry_args = check_dockerfile(flags)
    check_kubernetes(series, flags, entry_args)
    if opts.binary:
        check_runtime_packages(opts.binary)
    check_compose(flags)
    print("check_deploy.py: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
