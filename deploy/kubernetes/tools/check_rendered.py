#!/usr/bin/env python3
"""Checks of scripts/check-kubernetes on the rendered manifests.

  check_rendered.py prepare OUT NAME=RENDERED.yaml ... [--extra NAME=FILE.yaml ...]
      Splits every rendered tree into one file per object: the core kinds go
      to OUT/core/NAME/ (for kubernetes-validate), ServiceMonitor and
      PrometheusRule to OUT/monitoring.json (for the prometheus-operator
      models). Any other kind is an error: nothing is skipped unseen.

  check_rendered.py rules RULES_FILE PROMETHEUSRULE.yaml NAME=RENDERED.yaml ...
      spec.groups of the committed PrometheusRule, and of the PrometheusRule
      in every rendered tree, equal the rules file's groups.

  check_rendered.py policy OUT SECRET_EXAMPLE NAME=RENDERED.yaml ... [--web-secret FILE ...]
      The restricted Pod Security settings, probes, mounts and the wiring
      between the objects (selectors, ports, ConfigMap/Secret names and
      keys, secret paths in the config) of every rendered tree. Writes each
      tree's config, with the secret paths pointed at placeholder files, to
      OUT/configs/NAME/credprobe.yml for `credprobe check-config`.
      A tree whose credprobe has --web.config.file serves TLS: the web
      configuration (read from a rendered Secret or one of the --web-secret
      examples) and the certificate are mounted from Secrets, the probes
      are TCP (the kubelet cannot send basic auth), and the ServiceMonitor
      scrapes with https, the CA, a server name and basic auth; a tree
      without it is scraped over plain http.

  check_rendered.py shards BASE=RENDERED.yaml NAME=RENDERED.yaml ... [--statefulset NAME ...]
      The workload of every tree shards consistently: a Deployment has one
      replica and no --shard.from-hostname (its pod names have no ordinal);
      a StatefulSet has --shard.count equal to spec.replicas,
      --shard.from-hostname and no --shard.index, ordinals from 0, and a
      serviceName naming the tree's headless Service (clusterIP: None).
      Each tree named after --statefulset must render a StatefulSet and no
      Deployment, with podManagementPolicy Parallel and the pod template of
      the base tree's Deployment (security, probes, mounts, volumes, image,
      args) apart from the shard flags, the topology spread and resources.

Every failure is printed with the tree and object it concerns; the exit code
is 1 when there was any.
"""

import json
import sys
from pathlib import Path

import yaml

from rendered import (
    CORE_KINDS,
    MONITORING_KINDS,
    REQUIRED_ONCE,
    Report,
    WORKLOAD_KINDS,
    first_difference,
    load_all,
    named_args,
)
from policy_checks import policy
from shard_checks import shards


# ---------------------------------------------------------------- prepare


def prepare(out, args):
    report = Report()
    out = Path(out)
    extras = []
    if "--extra" in args:
        at = args.index("--extra")
        extras = named_args(args[at + 1 :])
        args = args[:at]
    monitoring = []
    for name, path in named_args(args) + extras:
        core_dir = out / "core" / name
        core_dir.mkdir(parents=True, exist_ok=True)
        docs = load_all(path)
        report.check(docs, name, f"{path} holds no object")
        counts = {}
        for number, obj in enumerate(docs):
            kind = obj.get("kind") if isinstance(obj, dict) else None
            counts[kind] = counts.get(kind, 0) + 1
            if kind in CORE_KINDS:
                target = core_dir / f"{number:02d}-{kind.lower()}-{obj['metadata']['name']}.yaml"
                target.write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
            elif kind in MONITORING_KINDS:
                monitoring.append({"source": name, "object": obj})
            else:
                report.fail(name, f"object {number} has kind {kind!r}, which no check validates")
        if name not in dict(extras):
            for kind in sorted(REQUIRED_ONCE):
                report.check(
                    counts.get(kind, 0) == 1,
                    name,
                    f"expected exactly one {kind}, rendered {counts.get(kind, 0)}",
                )
            workloads = {k: counts[k] for k in sorted(WORKLOAD_KINDS) if counts.get(k)}
            report.check(
                sum(workloads.values()) == 1,
                name,
                f"expected exactly one Deployment or StatefulSet, rendered {workloads or 'none'}",
            )
            report.check(counts.get("Secret", 0) <= 1, name, "more than one Secret")
        listed = ", ".join(f"{k} x{v}" if v > 1 else str(k) for k, v in sorted(counts.items(), key=str))
        print(f"     {name}: {listed}")
    (out / "monitoring.json").write_text(json.dumps(monitoring), encoding="utf-8")
    return report.done("split")


# ---------------------------------------------------------------- rules


def rules(rules_file, committed, args):
    report = Report()
    documents = load_all(rules_file)
    if not report.check(
        len(documents) == 1 and isinstance(documents[0], dict) and "groups" in documents[0],
        rules_file,
        "not a Prometheus rules file with `groups:`",
    ):
        return report.done("spec.groups")
    groups = documents[0]["groups"]
    sources = [("committed " + committed, load_all(committed))]
    sources += [(f"{name} (rendered)", load_all(path)) for name, path in named_args(args)]
    for where, docs in sources:
        found = [d for d in docs if d.get("kind") == "PrometheusRule"]
        if not report.check(len(found) == 1, where, f"expected one PrometheusRule, found {len(found)}"):
            continue
        spec = found[0].get("spec") or {}
        report.check(
            set(spec) == {"groups"},
            where,
            f"PrometheusRule spec has keys {sorted(spec)}, expected only groups",
        )
        if spec.get("groups") != groups:
            report.fail(where, f"PrometheusRule spec.groups differ from {rules_file}: {first_difference(spec.get('groups'), groups)}")
        else:
            rules_count = sum(len(g.get("rules") or []) for g in groups)
            print(f"ok   {where}: spec.groups == {rules_file} ({len(groups)} groups, {rules_count} rules)")
    return report.done("spec.groups")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    command, args = sys.argv[1], sys.argv[2:]
    if command == "prepare" and len(args) >= 2:
        return prepare(args[0], args[1:])
    if command == "rules" and len(args) >= 2:
        return rules(args[0], args[1], args[2:])
    if command == "policy" and len(args) >= 3:
        return policy(args[0], args[1], args[2:])
    if command == "shards" and len(args) >= 2:
        return shards(args[0], args[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
