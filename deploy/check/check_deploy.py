#!/usr/bin/env python3
"""Offline checks of deploy/: run by scripts/check-deploy (which installs the tools first).

  python3 deploy/check/check_deploy.py RENDER_DIR

RENDER_DIR holds `kubectl kustomize` output, one file per kustomization (NAME.yaml, with
NAME the kustomization's path under deploy/k8s, slashes as '--'). Checks:
  - every rendered object against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
    unknown fields fail) for the oldest and newest Kubernetes versions below, and KEDA's
    ScaledObject / TriggerAuthentication against the JSON schema of KEDA's CRD types as the
    cloudcoil-models-keda package carries them (made strict the same way);
  - what the schemas cannot say: non-root, read-only root filesystem, requests and limits,
    probes, that the ScaledObject scales the workers on the work queue only, that HPAs, PDBs
    and Services select something, that an overlay's migrate/ uses the overlay's image;
  - docker-compose.yml and the Dockerfile: commands are subcommands of the binary, variables
    are settings it reads, key files lie on a volume;
  - every variable of the README's configuration table is one the binary reads;
  - the metric names in alerts.yml and the Grafana dashboard are registered by the code (or
    listed in deploy/MISSING_METRICS.md as still to be added), or `up`.
"""
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
# metadata keys of KEDA's rabbitmq scaler (keda.sh/docs/2.16/scalers/rabbitmq-queue/)
RABBITMQ_TRIGGER_KEYS = {
    "host", "hostFromEnv", "usernameFromEnv", "passwordFromEnv", "protocol", "mode", "value",
    "activationValue", "queueName", "vhostName", "useRegex", "excludeUnacknowledged",
    "pageSize", "operation", "timeout", "unsafeSsl",
}

errors = []
notes = []


def fail(where, msg):
    errors.append(f"{where}: {msg}")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def rust_sources():
    for path in glob.glob(os.path.join(ROOT, "**", "*.rs"), recursive=True):
        rel = os.path.relpath(path, ROOT)
        parts = rel.split(os.sep)
        if parts[0] in ("target", "tests", "examples") or "tests" in parts or "examples" in parts:
            continue
        yield rel, open(path, encoding="utf-8").read()


# ---------------------------------------------------------------- what the binary offers

def subcommands():
    """The binary's subcommands: from its --help when it is built, else from src/main.rs."""
    for build in ("release", "debug"):
        exe = os.path.join(ROOT, "target", build, "fieldsurvey")
        if os.access(exe, os.X_OK):
            out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
            section = out.split("Commands:", 1)[1].split("Options:", 1)[0]
            names = {line.split()[0] for line in section.splitlines() if line.strip()}
            names.discard("help")
            return names, f"{os.path.relpath(exe, ROOT)} --help"
    src = read("src/main.rs")
    body = re.search(r"enum Command \{(.*?)\n\}", src, re.S).group(1)
    names = set()
    for variant in re.findall(r"^    ([A-Z]\w*)\s*[,{]", body, re.M):
        names.add(re.sub(r"(?<!^)([A-Z])", r"-\1", variant).lower())
    return names, "src/main.rs (enum Command)"


def settings():
    """Environment variables the binary reads: src/config.rs KEYS, direct env reads, RUST_LOG,
    and the S3 variables object_store reads as the README's configuration table names them."""
    keys_src = re.search(r"const KEYS: \[&str; \d+\] = \[(.*?)\];", read("src/config.rs"), re.S)
    names = set(re.findall(r'"([A-Z0-9_]+)"', keys_src.group(1)))
    for _, text in rust_sources():
        names |= set(re.findall(r'env::var(?:_os)?\("([A-Z0-9_]+)"\)', text))
        if "EnvFilter::try_from_default_env" in text or "EnvFilter::from_default_env" in text:
            names.add("RUST_LOG")
    readme = read("README.md")
    table = readme.split("| variable | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    names |= {n for n in documented if n.startswith("AWS_")}
    undocumented = sorted(n for n in names if n not in documented and not n.startswith("AWS_")
                          and n not in ("USER", "LOGNAME", "RUST_LOG"))
    if undocumented:
        notes.append("settings read but not in the README's table: " + ", ".join(undocumented))
    for name in sorted(documented - names):
        fail("README.md", f"the configuration table names {name}, which the binary never reads"
                          " from the environment (src/config.rs KEYS)")
    return names


SUBCOMMANDS, SUBCOMMANDS_FROM = subcommands()
SETTINGS = settings()


def dockerfile():
    text = read("deploy/Dockerfile")
    uid = re.search(r"useradd[^\n]*--uid (\d+)", text)
    user = re.search(r"^USER (\S+)", text, re.M)
    entry = re.search(r"^ENTRYPOINT (\[.*\])", text, re.M)
    cmd = re.search(r"^CMD (\[.*\])", text, re.M)
    where = "deploy/Dockerfile"
    if not (uid and user and entry and cmd):
        fail(where, "expected useradd --uid, USER, ENTRYPOINT [...] and CMD [...]")
        return None
    if json.loads(entry.group(1)) != ["fieldsurvey"]:
        fail(where, "ENTRYPOINT must be [\"fieldsurvey\"] (compose and k8s pass only the subcommand)")
    if json.loads(cmd.group(1))[0] not in SUBCOMMANDS:
        fail(where, f"CMD {cmd.group(1)} is not a subcommand")
    for env in re.findall(r"^ENV (.*)$", text, re.M):
        for key in re.findall(r"(\w+)=", env):
            if key not in SETTINGS:
                fail(where, f"ENV {key} is not a setting the binary reads")
    # turbojpeg-sys builds libjpeg-turbo with cmake and nasm; diesel links libpq and SQLite
    # (the same packages scripts/setup installs for a build).
    build_stage = text.split("FROM debian", 1)[0]
    for pkg in ("libpq-dev", "libsqlite3-dev", "pkg-config", "cmake", "nasm"):
        if pkg not in build_stage:
            fail(where, f"the build stage does not install {pkg}")
    for pkg in ("libpq-dev", "libsqlite3-dev", "pkg-config", "cmake", "nasm"):
        if pkg not in read("scripts/setup"):
            notes.append(f"{pkg} is in the Dockerfile's build stage but not in scripts/setup")
    return int(uid.group(1))


UID = dockerfile()


# ---------------------------------------------------------------- Kubernetes

def keda_schemas():
    from cloudcoil.models.keda import v1alpha1 as keda

    def strict(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for v in node.values():
                strict(v)
        elif isinstance(node, list):
            for v in node:
                strict(v)
        return node

    out = {}
    for kind in ("ScaledObject", "TriggerAuthentication"):
        schema = getattr(keda, kind).model_json_schema(by_alias=True, mode="validation")
        out[kind] = strict(schema)
    return out


KEDA = keda_schemas()


def container_checks(where, pod, kind):
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        fail(where, "pod securityContext.runAsNonRoot must be true")
    if UID is not None and psc.get("runAsUser") != UID:
        fail(where, f"pod securityContext.runAsUser must be {UID}, the Dockerfile's user")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod seccompProfile must be RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken must be false (nothing talks to the API server)")
    mounts_of = {}
    for c in pod.get("initContainers", []) + pod["containers"]:
        cw = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(cw, "readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(cw, "allowPrivilegeEscalation must be false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(cw, "capabilities must drop ALL")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(part, {}):
                    fail(cw, f"resources.{part}.{r} missing")
        args = c.get("args") or []
        if c.get("command"):
            fail(cw, "set args (the subcommand), not command: the image's ENTRYPOINT is the binary")
        if not args or args[0] not in SUBCOMMANDS:
            fail(cw, f"args {args} do not start with a subcommand ({sorted(SUBCOMMANDS)})")
        for e in c.get("env", []):
            if e["name"] not in SETTINGS:
                fail(cw, f"env {e['name']} is not a setting the binary reads")
        if kind == "Deployment":
            if "livenessProbe" not in c:
                fail(cw, "no livenessProbe")
            if args and args[0] == "api" and "readinessProbe" not in c:
                fail(cw, "the API needs a readinessProbe (/readyz)")
            ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None and port not in ports:
                    fail(cw, f"{probe} port {port} is not a container port")
        mounts_of[c["name"]] = {m["mountPath"] for m in c.get("volumeMounts", [])}
    return mounts_of


def check_render(name, docs):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    for d in docs:
        where = f"{name}: {d['kind']}/{d['metadata']['name']}"
        api = d["apiVersion"]
        if api.startswith("keda.sh/"):
            if api != "keda.sh/v1alpha1" or d["kind"] not in KEDA:
                fail(where, f"no schema for {api} {d['kind']}")
                continue
            for err in jsonschema.Draft202012Validator(KEDA[d["kind"]]).iter_errors(d):
                fail(where, f"KEDA schema: {'/'.join(map(str, err.absolute_path))}: {err.message}")
        else:
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(d, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    fail(where, f"Kubernetes {version} schema: {'/'.join(map(str, e.path))}: {e.message}")
                except kubernetes_validate.SchemaNotFoundError:
                    fail(where, f"no Kubernetes {version} schema for {api} {d['kind']}")
    configmaps = by_kind.get("ConfigMap", {})
    for cm_name, cm in configmaps.items():
        for key in cm.get("data", {}):
            if key not in SETTINGS:
                fail(f"{name}: ConfigMap/{cm_name}", f"{key} is not a setting the binary reads")
    prefix = next((cm["data"].get("AMQP_PREFIX") for cm in configmaps.values()), None) or "fieldsurvey"
    pods = {}
    for kind in ("Deployment", "Job"):
        for n, d in by_kind.get(kind, {}).items():
            pod = d["spec"]["template"]["spec"]
            container_checks(f"{name}: {kind}/{n}", pod, kind)
            pods[(kind, n)] = d["spec"]["template"]["metadata"].get("labels", {})
            for c in pod["containers"]:
                for ref in c.get("envFrom", []):
                    cm = ref.get("configMapRef", {}).get("name")
                    if cm and cm not in configmaps:
                        fail(f"{name}: {kind}/{n}", f"envFrom names ConfigMap {cm}, not in this render")
            for v in pod.get("volumes", []):
                claim = v.get("persistentVolumeClaim", {}).get("claimName")
                if claim and claim not in by_kind.get("PersistentVolumeClaim", {}):
                    fail(f"{name}: {kind}/{n}", f"volume claims {claim}, not in this render")
    deployments = by_kind.get("Deployment", {})

    def selects(selector):
        return [n for (k, n), labels in pods.items()
                if selector and all(labels.get(a) == b for a, b in selector.items())]

    for kind in ("PodDisruptionBudget", "Service"):
        for n, d in by_kind.get(kind, {}).items():
            sel = d["spec"]["selector"]
            sel = sel.get("matchLabels", sel) if kind == "PodDisruptionBudget" else sel
            if not selects(sel):
                fail(f"{name}: {kind}/{n}", f"selector {sel} selects no pod template")
    for n, d in by_kind.get("NetworkPolicy", {}).items():
        if not selects(d["spec"]["podSelector"].get("matchLabels", {})):
            fail(f"{name}: NetworkPolicy/{n}", "selects no pod template")
    if by_kind.get("NetworkPolicy"):
        deny = [d for d in by_kind["NetworkPolicy"].values()
                if not d["spec"].get("ingress") and not d["spec"].get("egress")
                and set(d["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}]
        covered = set()
        for d in deny:
            covered |= set(selects(d["spec"]["podSelector"].get("matchLabels", {})))
        for (_, n) in pods:
            if n not in covered:
                fail(f"{name}: {n}", "not selected by a default-deny NetworkPolicy")
    for n, d in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = d["spec"]["scaleTargetRef"]
        if ref["name"] not in deployments:
            fail(f"{name}: HorizontalPodAutoscaler/{n}", f"scales {ref['name']}, not in this render")
        if d["spec"].get("minReplicas", 1) > d["spec"]["maxReplicas"]:
            fail(f"{name}: HorizontalPodAutoscaler/{n}", "minReplicas > maxReplicas")
    for n, d in by_kind.get("ScaledObject", {}).items():
        where = f"{name}: ScaledObject/{n}"
        spec = d["spec"]
        target = spec["scaleTargetRef"]["name"]
        if target not in deployments:
            fail(where, f"scales {target}, not in this render")
        elif deployments[target]["spec"]["template"]["spec"]["containers"][0].get("args", [None])[0] != "worker":
            fail(where, f"{target} does not run `worker`")
        if not 1 <= spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 100):
            fail(where, "need 1 <= minReplicaCount <= maxReplicaCount (a worker always present)")
        for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
            if hpa["spec"]["scaleTargetRef"]["name"] == target:
                fail(where, f"{target} is also scaled by HorizontalPodAutoscaler/{hpa['metadata']['name']}")
        for t in spec["triggers"]:
            if t["type"] != "rabbitmq":
                fail(where, f"trigger type {t['type']}: expected rabbitmq")
                continue
            md = t["metadata"]
            unknown = set(md) - RABBITMQ_TRIGGER_KEYS
            if unknown:
                fail(where, f"rabbitmq trigger metadata has unknown keys {sorted(unknown)}")
            if md.get("queueName") != f"{prefix}.submissions":
                fail(where, f"queueName {md.get('queueName')!r}: the work queue is {prefix}.submissions "
                            "(the retry and parking queues are not triggers)")
            if md.get("mode") not in ("QueueLength", "MessageRate"):
                fail(where, "mode must be QueueLength or MessageRate")
            auth = t.get("authenticationRef", {}).get("name")
            if "host" not in md and "hostFromEnv" not in md:
                if auth not in by_kind.get("TriggerAuthentication", {}):
                    fail(where, f"no host and authenticationRef {auth!r} is not in this render")
                elif not any(r["parameter"] == "host" for r in
                             by_kind["TriggerAuthentication"][auth]["spec"].get("secretTargetRef", [])):
                    fail(where, f"TriggerAuthentication/{auth} gives no host")
    return by_kind


def check_kubernetes(render_dir):
    renders = {}
    for path in sorted(glob.glob(os.path.join(render_dir, "*.yaml"))):
        name = os.path.basename(path)[:-5].replace("--", "/")
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        renders[name] = check_render(name, docs)
        print(f"  {name}: {len(docs)} objects: " + ", ".join(
            f"{len(v)} {k}" for k, v in sorted(renders[name].items())))
    if not renders:
        fail(render_dir, "nothing rendered")
    for name, kinds in renders.items():
        mig = renders.get(f"{name}/migrate")
        if not name.startswith("overlays/") or name.endswith("/migrate"):
            continue
        if mig is None:
            fail(name, "an overlay needs a migrate/ beside it (the pre-upgrade Job)")
            continue
        images = {c["image"] for d in kinds.get("Deployment", {}).values()
                  for c in d["spec"]["template"]["spec"]["containers"]}
        job_images = {c["image"] for d in mig.get("Job", {}).values()
                      for c in d["spec"]["template"]["spec"]["containers"]}
        if len(images) != 1 or images != job_images:
            fail(name, f"the Deployments run {sorted(images)} but migrate/ runs {sorted(job_images)}")
        ns = {d["metadata"].get("namespace") for k in kinds.values() for d in k.values()}
        mns = {d["metadata"].get("namespace") for k in mig.values() for d in k.values()}
        if len(ns) != 1 or ns != mns:
            fail(name, f"namespaces {sorted(map(str, ns))} vs migrate/ {sorted(map(str, mns))}")


# ---------------------------------------------------------------- compose

def check_compose():
    where = "deploy/docker-compose.yml"
    doc = yaml.safe_load(read("deploy/docker-compose.yml"))
    services = doc["services"]
    ours = 0
    for name, svc in services.items():
        sw = f"{where}: {name}"
        for dep in svc.get("depends_on", {}) or {}:
            if dep not in services:
                fail(sw, f"depends on unknown service {dep}")
        if "build" not in svc:
            continue
        ours += 1
        build = svc["build"]
        dockerfile_path = os.path.normpath(os.path.join(DEPLOY, build["context"], build["dockerfile"]))
        if dockerfile_path != os.path.join(DEPLOY, "Dockerfile"):
            fail(sw, f"builds {dockerfile_path}, not deploy/Dockerfile")
        cmd = svc.get("command")
        if not isinstance(cmd, list) or not cmd or cmd[0] not in SUBCOMMANDS:
            fail(sw, f"command {cmd!r} is not [subcommand, ...] of {sorted(SUBCOMMANDS)}")
            continue
        if "entrypoint" in svc:
            fail(sw, "overrides the image's entrypoint")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        for key in env:
            if key not in SETTINGS:
                fail(sw, f"variable {key} is not a setting the binary reads")
        mounts = [v.split(":")[1] for v in svc.get("volumes", [])]
        if cmd[0] in ("api", "worker"):
            for key in ("JWT_KEY_FILE", "LEDGER_KEY_FILE", "PII_KEY_FILE", "STORAGE_URL"):
                path = env.get(key, "").replace("file://", "")
                if key == "JWT_KEY_FILE" and cmd[0] == "worker":
                    continue
                if not path.startswith("/"):
                    fail(sw, f"{key} is not set to a path")
                elif not any(path.startswith(m.rstrip("/") + "/") for m in mounts):
                    fail(sw, f"{key}={env[key]} is not on a volume: it would be lost with the container")
            if cmd[0] == "worker" and "METRICS_LISTEN" not in env:
                fail(sw, "workers serve /metrics only with METRICS_LISTEN")
            deps = svc.get("depends_on", {})
            migrate = [n for n, s in services.items() if s.get("command", [None])[0] == "migrate"]
            if not any(deps.get(m, {}).get("condition") == "service_completed_successfully" for m in migrate):
                fail(sw, "does not wait for the migrate service to complete")
        if cmd[0] == "migrate" and "DATABASE_URL" not in env:
            fail(sw, "migrate needs DATABASE_URL")
    print(f"  {where}: {len(services)} services, {ours} built from deploy/Dockerfile; "
          f"commands checked against {SUBCOMMANDS_FROM}")


# ---------------------------------------------------------------- metrics

def registered_metrics():
    suffixes = {"Counter": ["_total"], "Gauge": [""], "Histogram": ["_bucket", "_sum", "_count"]}
    names = {}
    for rel, text in rust_sources():
        fields = {}
        for field, ty in re.findall(r"pub (\w+): ([^\n]+?),\n", text):
            inner = re.search(r"Family<\w+,\s*(\w+)", ty)
            fields[field] = inner.group(1) if inner else ty.strip().split("<")[0]
        for name, value in re.findall(r'register\(\s*"(\w+)",\s*"[^"]*",\s*([\w.]+)', text):
            parts = value.split(".")
            field = parts[1] if len(parts) > 1 else parts[0]
            ty = fields.get(field)
            if ty not in suffixes:
                notes.append(f"{rel}: cannot tell the type of {name}; allowing every suffix")
                ty_suffixes = ["", "_total", "_bucket", "_sum", "_count"]
            else:
                ty_suffixes = suffixes[ty]
            for s in ty_suffixes:
                names[name + s] = rel
    return names


def missing_metrics():
    """Names deploy/MISSING_METRICS.md asks the code to add (its second table), if it exists."""
    if not os.path.exists(os.path.join(ROOT, "deploy/MISSING_METRICS.md")):
        return set()
    text = read("deploy/MISSING_METRICS.md")
    table = text.split("| metric (as scraped) |", 1)[1].split("\n\n", 1)[0]
    out = set()
    for line in table.splitlines()[2:]:
        cells = line.split("|")
        m = re.match(r"\s*`(\w+)`", cells[1])
        if not m:
            continue
        if cells[2].strip().startswith("histogram"):
            out |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
        else:
            out.add(m.group(1))
    return out


PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                "group_right", "bool", "offset", "inf", "nan"}


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])[a-zA-Z_:][\w:]*", e):
        if re.match(r"\s*\(", e[m.end():]) or m.group().lower() in PROMQL_WORDS:
            continue  # a function, or a keyword
        names.add(m.group())
    return names


def check_metrics():
    exported = registered_metrics()
    pending = missing_metrics()
    for name in sorted(pending & set(exported)):
        notes.append(f"{name} is now registered ({exported[name]}): take it out of deploy/MISSING_METRICS.md")
    allowed = set(exported) | pending | {"up"}
    used_pending = set()

    def check_expr(where, expr):
        for m in metric_names(expr):
            if m not in allowed:
                fail(where, f"metric {m} is not registered by the code nor listed in MISSING_METRICS.md")
            elif m in pending and m not in exported:
                used_pending.add(m)

    rules = yaml.safe_load(read("deploy/prometheus/alerts.yml"))
    n_rules = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            n_rules += 1
            check_expr(f"alerts.yml {rule.get('alert') or rule.get('record')}", rule["expr"])
    jobs_used = set(re.findall(r'job="([^"]+)"', read("deploy/prometheus/alerts.yml")))
    dash = json.loads(read("deploy/grafana/fieldsurvey.json"))
    jobs_used |= set(re.findall(r'job=\\?"([^"\\]+)', read("deploy/grafana/fieldsurvey.json")))
    scrape = yaml.safe_load(read("deploy/prometheus/prometheus.yml"))
    jobs = {s["job_name"] for s in scrape["scrape_configs"]}
    for j in sorted(jobs_used - jobs):
        fail("deploy/prometheus/prometheus.yml", f"no scrape job {j} (alerts or dashboard use it)")
    if "alerts.yml" not in scrape.get("rule_files", []):
        fail("deploy/prometheus/prometheus.yml", "does not load alerts.yml")
    ids = set()
    n_exprs = 0

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash["panels"]):
        where = f"grafana panel {p.get('title')!r}"
        if p["id"] in ids:
            fail(where, f"duplicate id {p['id']}")
        ids.add(p["id"])
        if p["type"] == "row":
            continue
        if not p.get("targets"):
            fail(where, "no query")
        for t in p.get("targets", []):
            n_exprs += 1
            check_expr(where, t["expr"])
    if dash.get("uid") != "fieldsurvey" or not dash.get("schemaVersion"):
        fail("deploy/grafana/fieldsurvey.json", "needs uid and schemaVersion")
    print(f"  metrics registered by the code: {len(exported)} series names; "
          f"{n_rules} alert rules and {n_exprs} dashboard queries use only those, `up`, and "
          f"{len(used_pending)} from MISSING_METRICS.md")


def main():
    render_dir = sys.argv[1]
    print(f"subcommands ({SUBCOMMANDS_FROM}): {' '.join(sorted(SUBCOMMANDS))}")
    print(f"settings (src/config.rs, env reads, README): {len(SETTINGS)}")
    print(f"Kubernetes schemas {', '.join(K8S_VERSIONS)} (kubernetes-validate {kubernetes_validate.version.__version__}, strict); "
          f"KEDA schemas from cloudcoil-models-keda")
    check_kubernetes(render_dir)
    check_compose()
    check_metrics()
    for n in notes:
        print(f"  note: {n}")
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  FAIL {e}", file=sys.stderr)
        return 1
    print("deploy/: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
