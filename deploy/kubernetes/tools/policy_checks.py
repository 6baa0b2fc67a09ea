"""`check_rendered.py policy`: the restricted Pod Security settings, probes,
mounts and the wiring between the objects of every rendered tree, and the
TLS web configuration of a tree that serves it (see check_rendered.py)."""

import base64
import fnmatch
import re
from pathlib import Path

import yaml

from rendered import (
    CONFIG_DIR,
    CONFIG_FILE,
    CONFIG_KEY,
    IMAGE_REPOSITORY,
    NAME,
    PORT,
    PORT_NAME,
    REQUIRED_ONCE,
    Report,
    SECRET_DIR,
    UID,
    arg_value,
    ident,
    load_all,
    matches,
    named_args,
    quantity,
    seconds,
    workload_of,
)


def check_container(report, where, container):
    sc = container.get("securityContext") or {}
    name = f"{where} container {container.get('name')}"
    report.check(sc.get("allowPrivilegeEscalation") is False, name, "securityContext.allowPrivilegeEscalation must be false")
    report.check(sc.get("readOnlyRootFilesystem") is True, name, "securityContext.readOnlyRootFilesystem must be true")
    report.check(sc.get("privileged") in (None, False), name, "securityContext.privileged must not be true")
    caps = sc.get("capabilities") or {}
    report.check(caps.get("drop") == ["ALL"], name, f"securityContext.capabilities.drop must be [ALL], is {caps.get('drop')}")
    report.check(
        set(caps.get("add") or []) <= {"NET_BIND_SERVICE"},
        name,
        f"capabilities.add {caps.get('add')} is not allowed by the restricted profile",
    )
    report.check(sc.get("runAsNonRoot") in (None, True), name, "securityContext.runAsNonRoot must not be false")
    report.check(sc.get("runAsUser") in (None, UID), name, f"securityContext.runAsUser must be {UID}")
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    report.check(seccomp in (None, "RuntimeDefault", "Localhost"), name, f"seccompProfile.type {seccomp} not allowed")
    report.check(not any(p.get("hostPort") for p in container.get("ports") or []), name, "hostPort is not allowed")


def check_probe(report, where, probe, path, kind, web=None):
    """An httpGet probe of `path` over plain HTTP; with a web configuration
    (`web`: its parsed web.yml), a tcpSocket probe of the metrics port, or
    an HTTPS httpGet when the web configuration has no basic auth."""
    if not report.check(isinstance(probe, dict), where, f"no {kind}Probe"):
        return
    if web is not None:
        tcp = probe.get("tcpSocket")
        if tcp is not None:
            report.check(tcp.get("port") in (PORT_NAME, PORT), where, f"{kind}Probe tcpSocket port must be {PORT_NAME}")
        else:
            get = probe.get("httpGet") or {}
            report.check(
                not (web.get("basic_auth_users") or {}),
                where,
                f"{kind}Probe: the web configuration requires basic auth, which the kubelet cannot send: use tcpSocket",
            )
            report.check(get.get("path") == path, where, f"{kind}Probe must GET {path}, gets {get.get('path')}")
            report.check(get.get("scheme") == "HTTPS", where, f"{kind}Probe scheme must be HTTPS: the server serves TLS")
        for field in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
            report.check(isinstance(probe.get(field), int) and probe[field] > 0, where, f"{kind}Probe.{field} must be set")
        return
    get = probe.get("httpGet") or {}
    report.check(get.get("path") == path, where, f"{kind}Probe must GET {path}, gets {get.get('path')}")
    report.check(get.get("port") in (PORT_NAME, PORT), where, f"{kind}Probe port must be {PORT_NAME}, is {get.get('port')}")
    report.check(get.get("scheme", "HTTP") == "HTTP", where, f"{kind}Probe scheme must be HTTP")
    for field in ("periodSeconds", "timeoutSeconds", "failureThreshold"):
        report.check(isinstance(probe.get(field), int) and probe[field] > 0, where, f"{kind}Probe.{field} must be set")


def secret_keys(obj):
    return set((obj.get("data") or {}).keys()) | set((obj.get("stringData") or {}).keys())


def config_tenants(report, where, configmap):
    """Tenants of the main config and of the tenant files among the keys."""
    data = configmap.get("data") or {}
    try:
        main = yaml.safe_load(data.get(CONFIG_KEY, "")) or {}
    except yaml.YAMLError as error:
        report.fail(where, f"ConfigMap key {CONFIG_KEY} is not YAML: {error}")
        return []
    tenants = list(main.get("tenants") or [])
    for pattern in main.get("tenant_files") or []:
        report.check("/" not in pattern, where, f"tenant_files pattern {pattern!r} has a folder: a ConfigMap volume is flat")
        report.check(
            not fnmatch.fnmatch(CONFIG_KEY, pattern),
            where,
            f"tenant_files pattern {pattern!r} matches {CONFIG_KEY} itself",
        )
        for key in sorted(data):
            if key != CONFIG_KEY and fnmatch.fnmatch(key, pattern):
                found = yaml.safe_load(data[key])
                if isinstance(found, dict) and "tenants" in found:
                    tenants += found["tenants"] or []
                elif isinstance(found, list):
                    tenants += found
                elif isinstance(found, dict):
                    tenants.append(found)
    return tenants


BCRYPT = re.compile(r"^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
WEB_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}


def secret_text(obj, key):
    """A Secret's value as text, from stringData or (base64) data."""
    if key in (obj.get("stringData") or {}):
        return obj["stringData"][key]
    encoded = (obj.get("data") or {}).get(key)
    return None if encoded is None else base64.b64decode(encoded).decode("utf-8", "replace")


def mounted_secret(report, where, folder, volumes, mounts, needed_for=""):
    """The secret volume mounted at `folder`, checked as every secret mount
    must be: a read-only directory mount (a subPath mount never sees Secret
    updates) of a secret volume with defaultMode 0400. None when there is
    no such volume (the report says why)."""
    mount = mounts.get(folder)
    if not report.check(mount, where, f"nothing mounted at {folder}{needed_for}"):
        return None
    report.check(mount.get("readOnly") is True, where, f"{folder} must be mounted readOnly")
    report.check("subPath" not in mount, where, f"{folder} must be a directory mount (subPath never sees Secret updates)")
    secret = (volumes.get(mount.get("name")) or {}).get("secret")
    if not report.check(secret, where, f"{folder} is not a secret volume"):
        return None
    report.check(
        secret.get("defaultMode") == 0o400,
        where,
        f"secret volume at {folder}: defaultMode must be 0400 (256), is {secret.get('defaultMode')}",
    )
    return secret


def secret_volume_for(report, where, path, volumes, mounts):
    """The secret volume a file path is mounted from: (secret name, key)."""
    folder, _, file = str(path).rpartition("/")
    secret = mounted_secret(report, where, folder, volumes, mounts, f" (for {path})")
    if secret is None:
        return None, None
    items = secret.get("items")
    if items:
        keys = [i.get("key") for i in items if i.get("path") == file]
        if not report.check(keys, where, f"{path}: no item of Secret {secret.get('secretName')} is mounted as {file}"):
            return secret.get("secretName"), None
        return secret.get("secretName"), keys[0]
    return secret.get("secretName"), file


def check_web(report, name, cwhere, args_, volumes, mounts, container, smon, secrets):
    """TLS and basic auth of one tree; `secrets` maps a Secret name to its
    objects (rendered ones first, then the --web-secret examples)."""
    web_file = arg_value(args_, "--web.config.file")
    mspec = smon.get("spec") or {}
    mwhere = f"{name} {ident(smon)}"
    endpoints = mspec.get("endpoints") or []
    if web_file is None:
        for e in endpoints:
            report.check(
                e.get("scheme", "http") == "http" and not e.get("basicAuth") and not e.get("tlsConfig"),
                mwhere,
                "scrapes with https, tlsConfig or basicAuth, but credprobe has no --web.config.file (plain http)",
            )
        check_probe(report, cwhere, container.get("livenessProbe"), "/-/healthy", "liveness")
        check_probe(report, cwhere, container.get("readinessProbe"), "/-/ready", "readiness")
        return

    secret_name, key = secret_volume_for(report, cwhere, web_file, volumes, mounts)
    web = {}
    source = secrets.get(secret_name)
    if report.check(source, cwhere, f"--web.config.file {web_file}: Secret {secret_name} is neither rendered nor a --web-secret example"):
        text = secret_text(source, key)
        if report.check(text is not None, cwhere, f"Secret {secret_name} has no key {key}"):
            try:
                web = yaml.safe_load(text) or {}
            except yaml.YAMLError as error:
                report.fail(cwhere, f"Secret {secret_name} key {key} is not YAML: {error}")
        # The plaintext scrape password is for Prometheus only.
        volume_items = [
            i.get("key")
            for v in volumes.values()
            if (v.get("secret") or {}).get("secretName") == secret_name
            for i in (v.get("secret") or {}).get("items") or [{"key": k} for k in secret_keys(source)]
        ]
        report.check(
            "password" not in volume_items,
            cwhere,
            f"the Secret {secret_name} key password (Prometheus's) must not be mounted into credprobe: mount items: [{key}]",
        )
    report.check(set(web) <= WEB_KEYS, cwhere, f"{web_file}: unexpected keys {sorted(set(web) - WEB_KEYS)}")
    tls = web.get("tls_server_config") or {}
    report.check(tls, cwhere, f"{web_file}: no tls_server_config: basic auth over plain http sends the password in clear")
    for field in ("cert_file", "key_file"):
        path = tls.get(field)
        if report.check(isinstance(path, str) and path.startswith("/"), cwhere, f"{web_file}: tls_server_config.{field} must be an absolute path"):
            tls_secret, tls_key = secret_volume_for(report, cwhere, path, volumes, mounts)
            example = secrets.get(tls_secret)
            if example is not None:
                report.check(tls_key in secret_keys(example), cwhere, f"{path}: Secret {tls_secret} has no key {tls_key}")
    users = web.get("basic_auth_users") or {}
    for user, hash_ in users.items():
        report.check(BCRYPT.match(str(hash_)) is not None, cwhere, f"{web_file}: basic_auth_users.{user} is not a bcrypt hash")

    for e in endpoints:
        report.check(e.get("scheme") == "https", mwhere, "credprobe serves TLS: the endpoint needs scheme: https")
        tls_config = e.get("tlsConfig") or {}
        report.check(tls_config.get("ca"), mwhere, "tlsConfig.ca must name the CA that signed credprobe's certificate")
        report.check(tls_config.get("serverName"), mwhere, "tlsConfig.serverName must be set: targets are pod IPs, not in the certificate")
        report.check(not tls_config.get("insecureSkipVerify"), mwhere, "tlsConfig.insecureSkipVerify must not be set")
        auth = e.get("basicAuth") or {}
        if users and report.check(auth.get("username") and auth.get("password"), mwhere, "credprobe requires basic auth: basicAuth.username and .password"):
            for part in ("username", "password"):
                ref = auth[part]
                example = secrets.get(ref.get("name"))
                if example is not None and report.check(ref.get("key") in secret_keys(example), mwhere, f"basicAuth.{part}: Secret {ref.get('name')} has no key {ref.get('key')}"):
                    value = secret_text(example, ref.get("key"))
                    if part == "username":
                        report.check(value in users, mwhere, f"basicAuth user {value!r} is not in {web_file}'s basic_auth_users")
    check_probe(report, cwhere, container.get("livenessProbe"), "/-/healthy", "liveness", web)
    check_probe(report, cwhere, container.get("readinessProbe"), "/-/ready", "readiness", web)


def policy(out, secret_example, args):
    report = Report()
    out = Path(out)
    web_examples = []
    if "--web-secret" in args:
        at = args.index("--web-secret")
        web_examples = args[at + 1 :]
        args = args[:at]
    web_secrets = {}
    for path in web_examples:
        for obj in load_all(path):
            report.check(obj.get("kind") == "Secret", path, f"{ident(obj)} is not a Secret")
            web_secrets[(obj.get("metadata") or {}).get("name")] = obj
            password = (obj.get("stringData") or {}).get("password")
            if password is not None:
                report.check(
                    "example" in str(password),
                    path,
                    "key password must hold an obvious example value (a real one must never be committed)",
                )
    example_docs = load_all(secret_example)
    example_keys = set()
    for obj in example_docs:
        report.check(obj.get("kind") == "Secret", secret_example, f"{ident(obj)} is not a Secret")
        example_keys |= secret_keys(obj)
        for key, value in (obj.get("stringData") or {}).items():
            report.check(value == "replace-me", secret_example, f"key {key} must hold the placeholder replace-me")

    for name, path in named_args(args):
        before = len(report.failures)
        docs = load_all(path)
        by_kind = {}
        for obj in docs:
            by_kind.setdefault(obj.get("kind"), []).append(obj)
        one = {kind: objs[0] for kind, objs in by_kind.items() if len(objs) == 1}
        missing = [k for k in sorted(REQUIRED_ONCE) if k not in one]
        workload = workload_of(by_kind)
        if workload is None:
            missing.append("exactly one Deployment or StatefulSet")
        if not report.check(not missing, name, f"cannot check: missing {missing}"):
            continue
        dep, svc, cm, sa = workload, one["Service"], one["ConfigMap"], one["ServiceAccount"]
        netpol, pdb, smon = one["NetworkPolicy"], one["PodDisruptionBudget"], one["ServiceMonitor"]
        secret = one.get("Secret")
        where = f"{name} {ident(dep)}"

        namespaces = {(o.get("metadata") or {}).get("namespace") for o in docs}
        report.check(len(namespaces) == 1, name, f"objects are in different namespaces: {namespaces}")
        for obj in docs:
            labels = (obj.get("metadata") or {}).get("labels") or {}
            report.check(
                labels.get("app.kubernetes.io/name") == NAME,
                name,
                f"{ident(obj)} lacks the label app.kubernetes.io/name: {NAME}",
            )

        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        pod_labels = (template.get("metadata") or {}).get("labels") or {}
        pod = template.get("spec") or {}
        containers = pod.get("containers") or []
        report.check(
            matches((spec.get("selector") or {}).get("matchLabels"), pod_labels),
            where,
            "spec.selector does not match the pod template's labels",
        )

        # Restricted Pod Security, pod level.
        psc = pod.get("securityContext") or {}
        report.check(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
        report.check(psc.get("runAsUser") == UID, where, f"pod securityContext.runAsUser must be {UID}")
        report.check(psc.get("runAsGroup") == UID, where, f"pod securityContext.runAsGroup must be {UID}")
        report.check(psc.get("fsGroup") == UID, where, f"pod securityContext.fsGroup must be {UID}")
        report.check(
            (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            where,
            "pod securityContext.seccompProfile.type must be RuntimeDefault",
        )
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            report.check(not pod.get(field), where, f"{field} must not be set")
        report.check(pod.get("automountServiceAccountToken") is False, where, "pod automountServiceAccountToken must be false")
        report.check(
            pod.get("serviceAccountName") == sa["metadata"]["name"],
            where,
            f"serviceAccountName must be {sa['metadata']['name']}",
        )
        report.check(sa.get("automountServiceAccountToken") is False, name, "ServiceAccount automountServiceAccountToken must be false")
        for container in containers + (pod.get("initContainers") or []):
            check_container(report, where, container)

        main = [c for c in containers if c.get("name") == NAME]
        if not report.check(len(main) == 1, where, f"no container named {NAME}"):
            continue
        c = main[0]
        cwhere = f"{where} container {NAME}"
        image = c.get("image") or ""
        report.check(
            image.startswith(IMAGE_REPOSITORY + ":") or image.startswith(IMAGE_REPOSITORY + "@"),
            cwhere,
            f"image {image!r} is not {IMAGE_REPOSITORY}:<tag>",
        )
        report.check(not image.endswith(":latest"), cwhere, "image tag must not be latest")

        args_ = [str(a) for a in (c.get("args") or [])]
        report.check(args_[:1] == ["run"], cwhere, f"args must start with run, are {args_}")
        report.check(arg_value(args_, "--config.file") == CONFIG_FILE, cwhere, f"args must have --config.file {CONFIG_FILE}")
        report.check("--config.watch" in args_, cwhere, "args must have --config.watch")
        report.check(arg_value(args_, "--log.format") == "json", cwhere, "args must have --log.format json")
        listen = arg_value(args_, "--web.listen-address") or f"0.0.0.0:{PORT}"
        report.check(listen.endswith(f":{PORT}"), cwhere, f"--web.listen-address {listen} is not port {PORT}")
        report.check(not listen.startswith("127."), cwhere, "--web.listen-address must not be loopback")
        grace = seconds(arg_value(args_, "--shutdown.grace") or "10s")
        termination = pod.get("terminationGracePeriodSeconds", 30)
        report.check(
            grace is not None and termination > grace,
            where,
            f"terminationGracePeriodSeconds {termination} must exceed --shutdown.grace ({grace}s)",
        )

        ports = c.get("ports") or []
        report.check(
            any(p.get("name") == PORT_NAME and p.get("containerPort") == PORT for p in ports),
            cwhere,
            f"needs port {PORT_NAME}: {PORT}",
        )
        if c.get("startupProbe"):
            report.check(
                (c["startupProbe"].get("httpGet") or {}).get("path") != "/-/ready",
                cwhere,
                "a startupProbe on /-/ready restarts a pod whose first cycle is slow",
            )

        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                value = (resources.get(kind) or {}).get(res)
                report.check(quantity(value) is not None, cwhere, f"resources.{kind}.{res} must be set")
        for res in ("cpu", "memory"):
            low = quantity((resources.get("requests") or {}).get(res))
            high = quantity((resources.get("limits") or {}).get(res))
            if low is not None and high is not None:
                report.check(low <= high, cwhere, f"resources.requests.{res} above the limit")

        # Whether the replicas shard consistently: `shards` below.
        replicas = spec.get("replicas", 1)

        # Mounts: config directory from the ConfigMap, secrets as files.
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
        cmount = mounts.get(CONFIG_DIR)
        if report.check(cmount, cwhere, f"nothing mounted at {CONFIG_DIR}"):
            report.check("subPath" not in cmount and "subPathExpr" not in cmount, cwhere, f"{CONFIG_DIR} must be a directory mount, not subPath (it would never see ConfigMap updates)")
            report.check(cmount.get("readOnly") is True, cwhere, f"{CONFIG_DIR} must be mounted readOnly")
            cvol = (volumes.get(cmount.get("name")) or {}).get("configMap")
            if report.check(cvol, cwhere, f"{CONFIG_DIR} is not a configMap volume"):
                report.check(
                    cvol.get("name") == cm["metadata"]["name"],
                    cwhere,
                    f"config volume names ConfigMap {cvol.get('name')}, rendered is {cm['metadata']['name']}",
                )
                report.check(not cvol.get("items"), cwhere, "config volume must not pick items (tenant files would be missing)")
        report.check(CONFIG_KEY in (cm.get("data") or {}), name, f"ConfigMap lacks the key {CONFIG_KEY}")
        report.check(
            re.fullmatch(rf"{NAME}-[a-z0-9]{{10}}", cm["metadata"]["name"]) is not None,
            name,
            f"ConfigMap {cm['metadata']['name']} has no content-hash suffix (configMapGenerator)",
        )
        secret_name = None
        svol = mounted_secret(report, cwhere, SECRET_DIR, volumes, mounts)
        if svol is not None:
            secret_name = svol.get("secretName")
            report.check(not svol.get("items"), cwhere, "secret volume must not pick items")
        for volume in volumes.values():
            report.check("hostPath" not in volume, where, f"hostPath volume {volume.get('name')} is not allowed")

        # The config's secret files are keys of the Secret.
        keys = example_keys
        if secret is not None:
            keys = secret_keys(secret)
            report.check(
                secret["metadata"]["name"] == secret_name,
                name,
                f"Secret {secret['metadata']['name']} is not the mounted {secret_name}",
            )
        tenants = config_tenants(report, name, cm)
        report.check(tenants, name, "the ConfigMap's config has no tenant")
        for tenant in tenants:
            twhere = f"{name} ConfigMap tenant {tenant.get('name')}"
            report.check("client_secret" not in tenant, twhere, "inline client_secret in a ConfigMap: use client_secret_file")
            file = tenant.get("client_secret_file")
            if file is None:
                continue
            report.check(
                str(file).startswith(SECRET_DIR + "/") and str(file).count("/") == SECRET_DIR.count("/") + 1,
                twhere,
                f"client_secret_file {file} is not a file directly in {SECRET_DIR}",
            )
            key = str(file).rsplit("/", 1)[-1]
            report.check(
                key in keys,
                twhere,
                f"client_secret_file {file}: key {key!r} is not in the "
                + (f"Secret {secret['metadata']['name']}" if secret is not None else secret_example)
                + f" (keys {sorted(keys)})",
            )

        # Config for check-config, secret paths pointed at placeholder files.
        config_dir = (out / "configs" / name).resolve()
        (config_dir / "secrets").mkdir(parents=True, exist_ok=True)
        for key, text in (cm.get("data") or {}).items():
            (config_dir / key).write_text(text.replace(SECRET_DIR + "/", f"{config_dir}/secrets/"), encoding="utf-8")
        # Only the Secret's keys exist, as in the pod: a tenant naming
        # another file fails check-config too.
        for key in keys:
            (config_dir / "secrets" / key).write_text("replace-me\n", encoding="utf-8")

        # Service, ServiceMonitor, NetworkPolicy, PDB wiring.
        sspec = svc.get("spec") or {}
        swhere = f"{name} {ident(svc)}"
        report.check(sspec.get("type", "ClusterIP") == "ClusterIP", swhere, "type must be ClusterIP")
        report.check(matches(sspec.get("selector"), pod_labels), swhere, "selector does not match the pod labels")
        report.check(
            any(
                p.get("name") == PORT_NAME and p.get("targetPort") in (PORT_NAME, PORT)
                for p in sspec.get("ports") or []
            ),
            swhere,
            f"needs a port named {PORT_NAME} targeting {PORT_NAME}",
        )
        mspec = smon.get("spec") or {}
        mwhere = f"{name} {ident(smon)}"
        report.check(
            matches((mspec.get("selector") or {}).get("matchLabels"), (svc.get("metadata") or {}).get("labels")),
            mwhere,
            "selector does not match the Service's labels",
        )
        endpoints = mspec.get("endpoints") or []
        report.check(
            endpoints and all(e.get("port") == PORT_NAME for e in endpoints),
            mwhere,
            f"endpoints must scrape the Service port {PORT_NAME}",
        )
        report.check(
            all(e.get("path", "/metrics") == "/metrics" for e in endpoints),
            mwhere,
            "endpoints must scrape /metrics",
        )
        report.check(any(e.get("interval") == "30s" for e in endpoints), mwhere, "interval must be 30s")
        report.check(
            all(
                any(
                    str(r.get("action", "")).lower() == "labeldrop" and r.get("regex") == "endpoint"
                    for r in e.get("relabelings") or []
                )
                for e in endpoints
            ),
            mwhere,
            "endpoints must drop the operator's `endpoint` target label (relabelings: "
            "{action: labeldrop, regex: endpoint}), else credprobe's endpoint label "
            "becomes exported_endpoint",
        )
        report.check(not mspec.get("jobLabel"), mwhere, "jobLabel would change the job label the alert rules match")
        rendered_secrets = {(o.get("metadata") or {}).get("name"): o for o in by_kind.get("Secret", [])}
        check_web(report, name, cwhere, args_, volumes, mounts, c, smon, {**web_secrets, **rendered_secrets})
        report.check(
            "credprobe" in svc["metadata"]["name"],
            swhere,
            "the Service name is the job label and must contain `credprobe` (CredprobeDown matches it)",
        )

        nspec = netpol.get("spec") or {}
        nwhere = f"{name} {ident(netpol)}"
        report.check(matches((nspec.get("podSelector") or {}).get("matchLabels"), pod_labels), nwhere, "podSelector does not match the pod labels")
        report.check(set(nspec.get("policyTypes") or []) == {"Ingress", "Egress"}, nwhere, "policyTypes must be Ingress and Egress")
        ingress_ports = set()
        for rule in nspec.get("ingress") or []:
            report.check(rule.get("ports"), nwhere, "an ingress rule without ports allows every port")
            ingress_ports |= {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports") or []}
        report.check(
            ingress_ports and ingress_ports <= {("TCP", PORT_NAME), ("TCP", PORT)},
            nwhere,
            f"ingress must allow only the metrics port, allows {sorted(map(str, ingress_ports))}",
        )
        egress_ports = set()
        for rule in nspec.get("egress") or []:
            report.check(rule.get("ports"), nwhere, "an egress rule without ports allows every port")
            egress_ports |= {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports") or []}
        report.check(
            egress_ports == {("UDP", 53), ("TCP", 53), ("TCP", 443)},
            nwhere,
            f"egress must be DNS (UDP+TCP 53) and TCP 443 only, is {sorted(map(str, egress_ports))}",
        )

        pspec = pdb.get("spec") or {}
        pwhere = f"{name} {ident(pdb)}"
        report.check(matches((pspec.get("selector") or {}).get("matchLabels"), pod_labels), pwhere, "selector does not match the pod labels")
        max_unavailable, min_available = pspec.get("maxUnavailable"), pspec.get("minAvailable")
        report.check(
            (isinstance(max_unavailable, int) and max_unavailable >= 1)
            or (isinstance(min_available, int) and min_available < replicas),
            pwhere,
            f"with {replicas} replica(s) this budget blocks node drains "
            f"(maxUnavailable {max_unavailable}, minAvailable {min_available})",
        )

        if len(report.failures) == before:
            print(f"ok   {name}: restricted pod security, probes, mounts, secrets, wiring")
    return report.done("policy")
