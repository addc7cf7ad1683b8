#!/usr/bin/env python3
"""Deployment checks that run without a Docker engine or a cluster.

- deploy/compose.yaml passes `docker-compose config -q`;
- every Kubernetes manifest validates against the Kubernetes schemas (kubernetes-validate);
  prometheus-operator objects are checked for their required fields;
- topics, ports, service targets, environment names, partition counts and mounted files agree
  across compose, Kubernetes, the Dockerfile, the docs and the services' own code.
"""

import glob
import json
import pathlib
import re
import subprocess
import sys

import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


def text(path):
    return (ROOT / path).read_text(encoding="utf-8")


# The truth, from the code and the contracts.
topics = sorted(pathlib.Path(p).name.removesuffix(".schema.json") for p in glob.glob(str(ROOT / "schemas/*.schema.json")))
run_rs = text("services/vardpuls/src/commands/run.rs")
targets = {m.lower() for m in re.findall(r"^\s{4}([A-Z][a-z]+),$", run_rs, re.M)}
source = "".join(pathlib.Path(p).read_text(encoding="utf-8") for p in glob.glob(str(ROOT / "services/**/*.rs"), recursive=True))
# `VARDPULS_<SECTION>__<KEY>` names any setting by one rule (docs/configuration.md); such
# names in the code (tests of the rule) are not variables of their own.
known_env = {n for n in re.findall(r'"(VARDPULS_[A-Z_]+)"', source) if "__" not in n} | {"RUST_LOG"}
documented_env = set(re.findall(r"(VARDPULS_[A-Z_]+)", text("docs/configuration.md")))


def by_rule(name):
    """A `VARDPULS_<SECTION>__<KEY>` variable naming a documented setting."""
    m = re.fullmatch(r"VARDPULS_([A-Z]+)__([A-Z_]+)", name)
    return bool(m) and f"`{m.group(1).lower()}.{m.group(2).lower()}`" in text("docs/configuration.md")


def env_ok(name):
    return name in known_env or name.startswith("VARDPULS_KAFKA_OPT_") or by_rule(name)


# Compose.
result = subprocess.run(["docker-compose", "-f", str(ROOT / "deploy/compose.yaml"), "config", "-q"], capture_output=True, text=True)
check(result.returncode == 0, f"docker-compose config: {result.stderr.strip()}")
compose = yaml.safe_load(text("deploy/compose.yaml"))
topic_script = " ".join(compose["services"]["kafka-topics"]["command"])
check(sorted(set(re.findall(r"vardpuls\.[a-z]+\.v1", topic_script))) == topics, f"compose creates other topics than schemas/: {topic_script}")
compose_partitions = set(re.findall(r"--partitions (\d+)", topic_script))
for name, service in compose["services"].items():
    if not name.startswith("vardpuls-"):
        continue
    command = service["command"]
    check(command[:2] == ["run", "--target"] and command[2] in targets, f"compose {name}: unknown target {command}")
    env = service["environment"]
    check(env.get("VARDPULS_INGEST_LISTEN") == "0.0.0.0:8080", f"compose {name}: listens on {env.get('VARDPULS_INGEST_LISTEN')}")
    check(any(p.endswith(":8080") for p in service.get("ports", [])), f"compose {name}: port 8080 not published")
    check({env.get("VARDPULS_KAFKA_PARTITIONS")} == compose_partitions, f"compose {name}: partitions differ from the topic script")
    for key in env:
        check(env_ok(key), f"compose {name}: {key} is read by no service")
prometheus = yaml.safe_load(text("deploy/compose/prometheus.yml"))
jobs = {j["job_name"]: j["static_configs"][0]["targets"][0] for j in prometheus["scrape_configs"]}
for name in (n for n in compose["services"] if n.startswith("vardpuls-")):
    check(jobs.get(name) == f"{name}:8080", f"compose Prometheus does not scrape {name}:8080")
    check(re.fullmatch("vardpuls.*", name), f"job {name} escapes the alert rules' job=~\"vardpuls.*\"")

# Dockerfile.
dockerfile = text("Dockerfile")
check("EXPOSE 8080" in dockerfile and "VARDPULS_INGEST_LISTEN=0.0.0.0:8080" in dockerfile, "Dockerfile: port 8080")
for key in re.findall(r"(VARDPULS_[A-Z_]+)=", dockerfile):
    check(env_ok(key), f"Dockerfile: {key} is read by no service")
check(re.search(r"^USER 10001$", dockerfile, re.M), "Dockerfile: runs as non-root user 10001")

# Kubernetes.
hpa_max = None
for path in sorted(glob.glob(str(ROOT / "deploy/k8s/**/*.yaml"), recursive=True)):
    name = str(pathlib.Path(path).relative_to(ROOT / "deploy/k8s"))
    for doc in yaml.safe_load_all(open(path, encoding="utf-8")):
        kind = doc["kind"]
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            check(kind in ("ServiceMonitor", "PrometheusRule") and "spec" in doc, f"{name}: {kind} without spec")
            continue
        try:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        except Exception as e:  # noqa: BLE001 - the message is the finding
            errors.append(f"{name}: {kind} {doc['metadata']['name']}: {e}")
        if kind in ("Deployment", "StatefulSet"):
            pod = doc["spec"]["template"]["spec"]
            for c in pod["containers"]:
                check(c["args"][:2] == ["run", "--target"] and c["args"][2] in targets, f"{name}: unknown target {c['args']}")
                check(c["securityContext"].get("runAsNonRoot") is True, f"{name}: container runs as root")
                check(c["ports"][0]["containerPort"] == 8080, f"{name}: container port")
                check("resources" in c and "requests" in c["resources"], f"{name}: no resource requests")
                env = {e["name"]: e.get("value") for e in c["env"]}
                check(env.get("VARDPULS_INGEST_LISTEN") == "0.0.0.0:8080", f"{name}: listen address")
                check({env.get("VARDPULS_KAFKA_PARTITIONS")} == compose_partitions, f"{name}: partitions differ from compose")
                for key in env:
                    check(env_ok(key), f"{name}: {key} is read by no service")
                if kind == "StatefulSet":
                    check(env.get("VARDPULS_AGGREGATOR_INSTANCES") == str(doc["spec"]["replicas"]),
                          f"{name}: VARDPULS_AGGREGATOR_INSTANCES differs from replicas")
        if kind == "HorizontalPodAutoscaler":
            hpa_max = doc["spec"]["maxReplicas"]
        if kind == "ConfigMap":
            check(doc["data"]["targets.toml"] == text("deploy/targets.toml"), "configmap.yaml: targets.toml differs from deploy/targets.toml")
            check(doc["data"]["units.csv"] == text("deploy/units.csv"), "configmap.yaml: units.csv differs from deploy/units.csv")
        if kind == "Secret":
            for key in doc["stringData"]:
                check(env_ok(key), f"{name}: {key} is read by no service")
check(hpa_max is not None and {str(hpa_max)} == compose_partitions, f"aggregator maxReplicas {hpa_max} differs from the partition count")

# Every variable a service reads from the environment is documented.
for key in sorted(known_env - {"RUST_LOG", "VARDPULS_KAFKA_OPT_"}):
    if key.startswith(("VARDPULS_TEST", "VARDPULS_KAFKA_OPT_")) or key in ("VARDPULS_BIN", "VARDPULS_WALLBOARD_SCREENSHOT"):
        continue
    check(key in documented_env, f"{key} is read by the code but not in docs/configuration.md")

if errors:
    print("deployment checks failed:\n  " + "\n  ".join(errors))
    sys.exit(1)
print(f"deployment checks passed: compose ({len(compose['services'])} services), Kubernetes manifests, {len(topics)} topics")
