"""`check_rendered.py shards`: the workload of every rendered tree shards
consistently (see check_rendered.py)."""

import json

from rendered import (
    NAME,
    Report,
    WORKLOAD_KINDS,
    arg_value,
    first_difference,
    ident,
    load_all,
    main_container,
    named_args,
    workload_of,
)


SHARD_FLAGS = ("--shard.count", "--shard.index", "--shard.from-hostname")


def without_shard_flags(args):
    """The args with every --shard.* flag (and its value) taken out."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--shard.count", "--shard.index"):
            skip = True
        elif not any(arg == f or arg.startswith(f + "=") for f in SHARD_FLAGS):
            kept.append(arg)
    return kept


def check_shards(report, name, docs):
    """Sharding of one tree's workload; returns it (None if there is none)."""
    by_kind = {}
    for obj in docs:
        by_kind.setdefault(obj.get("kind"), []).append(obj)
    workload = workload_of(by_kind)
    if workload is None:
        found = {k: len(by_kind[k]) for k in sorted(WORKLOAD_KINDS) if by_kind.get(k)}
        report.fail(name, f"expected exactly one Deployment or StatefulSet, rendered {found or 'none'}")
        return None
    where = f"{name} {ident(workload)}"
    spec = workload.get("spec") or {}
    container = main_container(workload)
    if not report.check(container is not None, where, f"no container named {NAME}"):
        return workload
    args = [str(a) for a in container.get("args") or []]
    replicas = spec.get("replicas", 1)
    count = arg_value(args, "--shard.count")

    if workload["kind"] == "Deployment":
        # Every replica of a Deployment gets the same args, so the same
        # shard, and a name like credprobe-7d9f8b6c5-x2k4p has no ordinal.
        report.check(
            replicas == 1,
            where,
            f"{replicas} replicas of a Deployment would all probe the same tenants: "
            "shard with a StatefulSet (overlays/sharded)",
        )
        report.check(
            "--shard.from-hostname" not in args,
            where,
            "--shard.from-hostname needs a StatefulSet: a Deployment's pod names have no ordinal",
        )
        return workload

    # StatefulSet: pod <name>-N is shard N of --shard.count.
    report.check(isinstance(replicas, int) and replicas >= 1, where, f"spec.replicas must be set, is {replicas!r}")
    if report.check(count is not None, where, "args must have --shard.count N (N = spec.replicas)"):
        report.check(
            count.isdigit() and int(count) == replicas,
            where,
            f"--shard.count {count} differs from spec.replicas {replicas}: "
            + (
                "pods above the count fail to start"
                if count.isdigit() and int(count) < replicas
                else "the shards without a pod are never probed"
            ),
        )
    report.check(
        "--shard.from-hostname" in args,
        where,
        "args must have --shard.from-hostname (the shard index is the pod's ordinal)",
    )
    report.check(
        arg_value(args, "--shard.index") is None,
        where,
        "--shard.index gives every pod the same shard: use --shard.from-hostname",
    )
    start = (spec.get("ordinals") or {}).get("start", 0)
    report.check(start == 0, where, f"spec.ordinals.start {start}: shard indexes must start at 0")
    pod = (spec.get("template") or {}).get("spec") or {}
    report.check(
        not pod.get("hostname"),
        where,
        "the pod template sets hostname: the pods would lose their ordinal host names",
    )
    service_name = spec.get("serviceName")
    services = {(s.get("metadata") or {}).get("name"): s for s in by_kind.get("Service", [])}
    if report.check(service_name, where, "spec.serviceName must name the headless Service"):
        service = services.get(service_name)
        if report.check(
            service is not None,
            where,
            f"spec.serviceName {service_name!r} names no rendered Service (have {sorted(services)})",
        ):
            report.check(
                (service.get("spec") or {}).get("clusterIP") == "None",
                f"{name} {ident(service)}",
                "the StatefulSet's serviceName must be headless (clusterIP: None)",
            )
    return workload


def comparable_template(workload, configmap_names):
    """The pod template without what the sharded overlay may change."""
    template = json.loads(json.dumps((workload.get("spec") or {}).get("template") or {}))
    pod = template.get("spec") or {}
    pod.pop("topologySpreadConstraints", None)
    for container in pod.get("containers") or []:
        container.pop("resources", None)
        if container.get("name") == NAME:
            container["args"] = without_shard_flags([str(a) for a in container.get("args") or []])
    for volume in pod.get("volumes") or []:
        configmap = volume.get("configMap") or {}
        if configmap.get("name") in configmap_names:
            configmap["name"] = "<generated ConfigMap>"
    return template


def shards(base, args):
    report = Report()
    required = []
    if "--statefulset" in args:
        at = args.index("--statefulset")
        required = args[at + 1 :]
        args = args[:at]
    trees = dict(named_args(args))
    base_name, base_path = named_args([base])[0]
    base_docs = load_all(base_path)
    base_by_kind = {}
    for obj in base_docs:
        base_by_kind.setdefault(obj.get("kind"), []).append(obj)
    base_dep = (base_by_kind.get("Deployment") or [None])[0]
    report.check(base_dep is not None, base_name, "the base renders no Deployment to compare with")

    for name in required:
        report.check(name in trees, name, "expected a sharded tree of this name, none rendered")
    for name, path in trees.items():
        before = len(report.failures)
        docs = load_all(path)
        workload = check_shards(report, name, docs)
        if name in required:
            kinds = [obj.get("kind") for obj in docs]
            report.check(kinds.count("StatefulSet") == 1, name, f"expected one StatefulSet, rendered {kinds.count('StatefulSet')}")
            report.check(
                "Deployment" not in kinds,
                name,
                "renders a Deployment: it would probe the tenants again, unsharded (delete it in the overlay)",
            )
        if name in required and workload is not None and workload.get("kind") == "StatefulSet":
            where = f"{name} {ident(workload)}"
            spec = workload.get("spec") or {}
            report.check(
                spec.get("podManagementPolicy") == "Parallel",
                where,
                "podManagementPolicy must be Parallel (OrderedReady starts the shards one first cycle apart)",
            )
            if base_dep is not None:
                names = {
                    (o.get("metadata") or {}).get("name")
                    for o in base_docs + docs
                    if o.get("kind") == "ConfigMap"
                }
                ours, theirs = comparable_template(workload, names), comparable_template(base_dep, names)
                if ours != theirs:
                    report.fail(
                        where,
                        f"pod template differs from the {base_name} Deployment's beyond the shard flags, "
                        f"topology spread and resources: "
                        f"{first_difference(ours, theirs, 'template', f'the {base_name} Deployment')}",
                    )
        if len(report.failures) == before and workload is not None:
            spec = workload.get("spec") or {}
            if workload["kind"] == "StatefulSet":
                args_ = [str(a) for a in (main_container(workload) or {}).get("args") or []]
                print(
                    f"ok   {name}: StatefulSet, {spec.get('replicas')} replicas = --shard.count "
                    f"{arg_value(args_, '--shard.count')}, --shard.from-hostname, headless Service "
                    f"{spec.get('serviceName')}"
                    + (", pod template of the base Deployment" if name in required else "")
                )
            else:
                print(f"ok   {name}: Deployment, {spec.get('replicas', 1)} replica, not sharded by host name")
    return report.done("shards")
