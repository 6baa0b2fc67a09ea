"""What the checks of check_rendered.py share: the names the manifests must
use, the report that collects failures, loading rendered trees, comparing
nested objects, and reading Kubernetes quantities, durations, selectors
and container arguments."""

import json
import re
import sys

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
CORE_KINDS = WORKLOAD_KINDS | {
    "Service",
    "ConfigMap",
    "Secret",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
}
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}
# Exactly one of each in every rendered tree, and exactly one workload
# (a Deployment, or a StatefulSet when sharded); a Secret is optional (real
# secrets are created out of band).
REQUIRED_ONCE = (CORE_KINDS - {"Secret"} - WORKLOAD_KINDS) | MONITORING_KINDS

NAME = "credprobe"
IMAGE_REPOSITORY = "ghcr.io/credprobe/credprobe"
CONFIG_DIR = "/etc/credprobe"
CONFIG_FILE = "/etc/credprobe/credprobe.yml"
CONFIG_KEY = "credprobe.yml"
SECRET_DIR = "/var/run/secrets/credprobe"
PORT = 9891
PORT_NAME = "metrics"
UID = 65534


class Report:
    def __init__(self):
        self.failures = []

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")
        print(f"FAIL {where}: {message}")

    def check(self, condition, where, message):
        if not condition:
            self.fail(where, message)
        return bool(condition)

    def done(self, what):
        if self.failures:
            print(f"{what}: {len(self.failures)} failure(s)")
            return 1
        print(f"{what}: ok")
        return 0


def load_all(path):
    with open(path, encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def named_args(args):
    trees = []
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep:
            sys.exit(f"check_rendered: expected NAME=FILE, got {arg!r}")
        trees.append((name, path))
    return trees


def ident(obj):
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('name')}"


def first_difference(found, wanted, path="groups", other="the rules file"):
    """Where two parsed YAML values first differ, for the message."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        for key in list(wanted) + [k for k in found if k not in wanted]:
            if found.get(key) != wanted.get(key):
                return first_difference(found.get(key), wanted.get(key), f"{path}.{key}", other)
    if isinstance(found, list) and isinstance(wanted, list):
        for i in range(max(len(found), len(wanted))):
            a = found[i] if i < len(found) else None
            b = wanted[i] if i < len(wanted) else None
            if a != b:
                return first_difference(a, b, f"{path}[{i}]", other)
    return f"{path} is {json.dumps(found, default=str)}, {other} has {json.dumps(wanted, default=str)}"


# ------------------------------------------ quantities, durations, arguments

QUANTITY = re.compile(r"^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
FACTORS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def quantity(value):
    match = QUANTITY.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * FACTORS[match.group(2)]


def seconds(text):
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    return sum(float(n) * UNITS[u] for n, u in parts)


def matches(selector, labels):
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def arg_value(args, flag):
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


# -------------------------------------------------------------- workloads


def workload_of(by_kind):
    """The one Deployment or StatefulSet of a tree, or None."""
    found = [obj for kind in sorted(WORKLOAD_KINDS) for obj in by_kind.get(kind, [])]
    return found[0] if len(found) == 1 else None


def main_container(workload):
    pod = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    found = [c for c in pod.get("containers") or [] if c.get("name") == NAME]
    return found[0] if len(found) == 1 else None
