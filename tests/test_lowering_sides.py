"""Each side of the lowering's rules, on small specs lowered in-process.

The facts tables (tests/test_split.py, test_facts_table.py, ... adopted by
test_lowered_facts.py) check the values of the committed spec and the cases. The rules
below have a side those specs never take: an image on `latest` in the split topology, two
admins, a base without an environment name. Each expectation is written from
../shared/FACTS.md, ../shared/UPSTREAM.md or Kubernetes' semantics, never from the
compiler's output; the lowering is what kustomize renders (tests/test_invariant.py), so
no kustomize runs here: `nox -s mutation` runs these for each mutant of compiler/lower/.
"""

from __future__ import annotations

from typing import Any

from compiler.load import parse_spec
from compiler.lower import lower_environment

# What every spec below shares (tests/cases/valid/minimal): a domain, TLS with its
# issuer, the oauth2-proxy host every protected endpoint needs.
DEFAULTS = """\
defaults:
  domain: llm.example.com
  ingress:
    tls:
      issuer:
        name: letsencrypt-prod
  auth:
    oauth2ProxyHost: auth.example.com
"""
SPLIT = "    topology: split\n    database: {mode: external, secretName: db}\n"


def lowered(environment: str = "", defaults: str = "", instance: str | None = "env") -> Any:
    """The lowering of the one environment of a spec: DEFAULTS plus ``defaults`` (lines
    indented two spaces, under `defaults:`) and the environment's ``environment`` (lines
    indented four spaces)."""
    body = "\n" + environment if environment else " {}\n"
    text = DEFAULTS + defaults + "environments:\n  env:" + body
    ((_, settings),) = parse_spec(text.encode(), "spec.yaml").enabled()
    return lower_environment(settings, instance)


def find(documents: list[Any], kind: str, name: str) -> Any:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def containers(documents: list[Any]) -> dict[str, Any]:
    """Every container of the Deployments, by `<deployment>/<container>`."""
    return {
        f"{d['metadata']['name']}/{c['name']}": c
        for d in documents
        if d["kind"] == "Deployment"
        for c in [
            *d["spec"]["template"]["spec"].get("initContainers", []),
            *d["spec"]["template"]["spec"]["containers"],
        ]
    }


# --- split.py ------------------------------------------------------------------------------


def test_a_split_service_on_latest_is_pulled_always() -> None:
    """FACTS "Module variables": pull policy Always for `latest`, else IfNotPresent; a
    service's own tag wins over image.tag (UPSTREAM 1, _helpers.tpl:74-83), the api's
    migration runner runs the api's image."""
    latest = lowered(
        SPLIT + "    image: {tag: latest}\n    services: {gateway: {image: {tag: v2.0.0}}}\n"
    )
    pinned = lowered(
        SPLIT + "    image: {tag: v1.0.0}\n    services: {api: {image: {tag: latest}}}\n"
    )
    prefix = "ghcr.io/theopenco/llmgateway-"
    policies = {name: (c["image"], c["imagePullPolicy"]) for name, c in containers(latest).items()}
    assert policies == {
        "llmgateway-api/migrate": (f"{prefix}api:latest", "Always"),
        "llmgateway-api/api": (f"{prefix}api:latest", "Always"),
        "llmgateway-gateway/gateway": (f"{prefix}gateway:v2.0.0", "IfNotPresent"),
        "llmgateway-ui/ui": (f"{prefix}ui:latest", "Always"),
        "llmgateway-admin/admin": (f"{prefix}admin:latest", "Always"),
        "llmgateway-worker/worker": (f"{prefix}worker:latest", "Always"),
    }
    policies = {name: (c["image"], c["imagePullPolicy"]) for name, c in containers(pinned).items()}
    assert policies == {
        "llmgateway-api/migrate": (f"{prefix}api:latest", "Always"),
        "llmgateway-api/api": (f"{prefix}api:latest", "Always"),
        "llmgateway-gateway/gateway": (f"{prefix}gateway:v1.0.0", "IfNotPresent"),
        "llmgateway-ui/ui": (f"{prefix}ui:v1.0.0", "IfNotPresent"),
        "llmgateway-admin/admin": (f"{prefix}admin:v1.0.0", "IfNotPresent"),
        "llmgateway-worker/worker": (f"{prefix}worker:v1.0.0", "IfNotPresent"),
    }


def test_admin_emails_are_one_comma_separated_value() -> None:
    """FACTS: ADMIN_EMAILS is a comma-separated list, in both topologies."""
    admins = "  adminEmails: [one@example.com, two@example.com]\n"
    config = find(lowered(SPLIT, admins), "ConfigMap", "llmgateway-config")["data"]
    assert config["ADMIN_EMAILS"] == "one@example.com,two@example.com"
    (container,) = find(lowered("", admins), "Deployment", "llmgateway")["spec"]["template"][
        "spec"
    ]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ADMIN_EMAILS"] == "one@example.com,two@example.com"


def test_the_configmap_is_in_the_environment_namespace_with_its_labels() -> None:
    """A ConfigMap is namespaced: envFrom reads it from the pod's own namespace only; it
    carries the labels every resource carries (app.kubernetes.io/instance: the
    environment)."""
    config = find(lowered(SPLIT + "    namespace: team-a\n"), "ConfigMap", "llmgateway-config")
    assert config["metadata"] == {
        "name": "llmgateway-config",
        "namespace": "team-a",
        "labels": {
            "app.kubernetes.io/name": "llmgateway",
            "app.kubernetes.io/instance": "env",
            "app.kubernetes.io/part-of": "llmgateway",
            "app.kubernetes.io/managed-by": "llmgateway-compiler",
        },
    }


# --- the unified topology's NetworkPolicy, ServiceMonitor and telemetry ----------------------

# FACTS "Resources": the ports the unified Service exposes (ui, api, gateway, admin).
UNIFIED_SERVICE_PORTS = [3002, 4002, 4001, 3006]
GATEWAY_PORT = 4001
DNS_RULE = {
    "to": [{"namespaceSelector": {}}],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def namespace_peer(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def test_the_unified_policy_lets_prometheus_in_and_restricts_egress() -> None:
    """README "NetworkPolicy": in only from the ingress controller's namespace to the four
    served ports, plus Prometheus's namespace to the gateway port with serviceMonitor;
    with restrictEgress out only to DNS, HTTPS and, with an external database, PostgreSQL
    (5432) and Redis (6379)."""
    external = (
        "    database: {mode: external, secretName: db}\n"
        "    networkPolicy: {restrictEgress: true, ingressControllerNamespace: edge}\n"
        "    monitoring: {serviceMonitor: true, prometheusNamespace: prom}\n"
    )
    policy = find(lowered(external), "NetworkPolicy", "llmgateway")
    assert policy["metadata"]["namespace"] == "llmgateway"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "llmgateway"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": [namespace_peer("edge")], "ports": tcp(*UNIFIED_SERVICE_PORTS)},
            {"from": [namespace_peer("prom")], "ports": tcp(GATEWAY_PORT)},
        ],
        "egress": [DNS_RULE, {"ports": tcp(443, 5432, 6379)}],
    }
    embedded = "    networkPolicy: {restrictEgress: true}\n"
    policy = find(lowered(embedded), "NetworkPolicy", "llmgateway")
    assert policy["spec"]["ingress"] == [
        {"from": [namespace_peer("ingress-nginx")], "ports": tcp(*UNIFIED_SERVICE_PORTS)}
    ]
    assert policy["spec"]["egress"] == [DNS_RULE, {"ports": tcp(443)}]
    policy = find(lowered(), "NetworkPolicy", "llmgateway")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert "egress" not in policy["spec"]


def test_no_network_policy_when_it_is_off_in_either_topology() -> None:
    off = "    networkPolicy: {enabled: false}\n"
    for topology in ("", SPLIT):
        assert not [d for d in lowered(topology + off) if d["kind"] == "NetworkPolicy"]


def test_the_unified_service_monitor_scrapes_the_gateway_port_of_the_service() -> None:
    """README: the ServiceMonitor scrapes the Service's gateway port (4001, FACTS) at the
    gateway's /metrics (UPSTREAM "Metrics"), every `monitoring.interval`; its selector
    picks the unified Service."""
    documents = lowered("    monitoring: {serviceMonitor: true, interval: 1m}\n")
    monitor = find(documents, "ServiceMonitor", "llmgateway")
    assert monitor["metadata"]["namespace"] == "llmgateway"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in documents if d["kind"] == "Service"]
    selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in selected] == ["llmgateway"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "1m"
    (port,) = [p for p in selected[0]["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["port"] == GATEWAY_PORT


def test_telemetry_on_keeps_the_image_default() -> None:
    """README: `telemetry: false` (the default) sets TELEMETRY_ACTIVE=false; `true` keeps
    the image's own value (UPSTREAM 2: TELEMETRY_ACTIVE=true), so sets nothing."""

    def telemetry(environment: str) -> list[Any]:
        deployment = find(lowered(environment), "Deployment", "llmgateway")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        return [e.get("value") for e in container["env"] if e["name"] == "TELEMETRY_ACTIVE"]

    assert telemetry("") == ["false"]
    assert telemetry("    telemetry: true\n") == []


def test_a_postgres_stateful_set_with_restricted_egress_reaches_dns_only() -> None:
    """README "NetworkPolicy", split: with restrictEgress each policy limits where its
    pods go, DNS for all; the peers and the API server are for CloudNativePG instances
    only, and the StatefulSet's PostgreSQL calls nothing."""
    documents = lowered(
        "    topology: split\n"
        "    database: {mode: postgres}\n"
        "    networkPolicy: {restrictEgress: true}\n"
    )
    policy = find(documents, "NetworkPolicy", "llmgateway-postgres")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "llmgateway-postgres"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app": "llmgateway"}}}], "ports": tcp(5432)}
    ]
    assert policy["spec"]["egress"] == [DNS_RULE]


def web_containers(documents: list[Any]) -> dict[str, Any]:
    return {
        name.partition("/")[2]: c
        for name, c in containers(documents).items()
        if name.partition("/")[2] != "migrate" and "ports" in c
    }


def test_every_split_web_container_may_take_three_minutes_to_start() -> None:
    """README "The split topology": every web container has a startup probe, the liveness
    check, for up to 3 minutes (as FACTS' unified startup probe, 10 s x 18); Kubernetes
    restarts the container after failureThreshold failed checks, periodSeconds apart."""
    found = web_containers(lowered(SPLIT + "    services: {docs: {}, playground: {}, code: {}}\n"))
    assert sorted(found) == sorted(("api", "gateway", "ui", "admin", "docs", "playground", "code"))
    for name, container in found.items():
        startup = container["startupProbe"]
        handler = {k: v for k, v in startup.items() if k in ("httpGet", "tcpSocket")}
        liveness = container["livenessProbe"]
        assert handler == {k: v for k, v in liveness.items() if k in ("httpGet", "tcpSocket")}
        assert (startup["periodSeconds"], startup["failureThreshold"]) == (10, 18), name
        # The other probes stay at upstream's threshold (UPSTREAM 1 table; chart default 3).
        assert liveness["failureThreshold"] == container["readinessProbe"]["failureThreshold"] == 3


def test_the_migration_runner_runs_its_script_as_an_es_module() -> None:
    """The script imports the db package and awaits at its top level: node evaluates `-e`
    text as CommonJS unless `--input-type=module` (Node.js CLI docs, --input-type), where
    both are syntax errors. The options otherwise are upstream's CMD's (UPSTREAM 1:
    `node --enable-source-maps`)."""
    api = find(lowered(SPLIT), "Deployment", "llmgateway-api")
    (runner,) = api["spec"]["template"]["spec"]["initContainers"]
    node, *options, script = runner["command"]
    assert node == "node"
    assert options == ["--enable-source-maps", "--input-type=module", "-e"]
    assert script.startswith("import ")
    assert "\nawait " in script or "  await " in script


# --- data.py -------------------------------------------------------------------------------


def test_cloudnative_pg_storage_class_and_budgets_by_instances() -> None:
    """UPSTREAM 3: storageClass unset means the cluster's default class (so no field);
    the operator's PDBs (minAvailable replicas-1, and 1 for the primary) block every
    drain of a single instance's node, so they are off for one instance and on from two."""
    cnpg = "    topology: split\n    database: {mode: cloudnative-pg, instances: %d}\n"
    two = find(lowered(cnpg % 2), "Cluster", "llmgateway-postgres")["spec"]
    assert two["instances"] == 2
    assert two["enablePDB"] is True
    assert two["storage"] == {"size": "10Gi"}  # FACTS: storage size 10Gi by default
    one = find(
        lowered(cnpg % 1 + "    storage: {className: fast, size: 5Gi}\n"),
        "Cluster",
        "llmgateway-postgres",
    )["spec"]
    assert one["enablePDB"] is False
    assert one["storage"] == {"size": "5Gi", "storageClass": "fast"}


def data_containers(documents: list[Any]) -> dict[str, tuple[Any, Any]]:
    """Each StatefulSet's (pod spec, its one container)."""
    found = {}
    for d in documents:
        if d["kind"] == "StatefulSet":
            pod = d["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            found[d["metadata"]["name"]] = (pod, container)
    return found


def test_the_data_stores_write_only_to_their_volumes() -> None:
    """The data stores run without privileges on a read-only root, so every path they
    write is a volume: PostgreSQL's data directory (the claim), its socket directory
    /var/run/postgresql and /tmp (docker-library/postgres 17/alpine Dockerfile: the image
    creates /var/run/postgresql for the server's socket); Redis's /data (the claim,
    UPSTREAM "Built-in data stores"). The storage class unset leaves the claims to the
    cluster's default class."""
    found = data_containers(lowered("    topology: split\n    database: {mode: postgres}\n"))
    assert sorted(found) == ["llmgateway-postgres", "llmgateway-redis"]
    expected_mounts = {
        "llmgateway-postgres": {
            "/var/lib/postgresql/data": "claim",
            "/var/run/postgresql": "emptyDir",
            "/tmp": "emptyDir",
        },
        "llmgateway-redis": {"/data": "claim"},
    }
    for name, (pod, container) in found.items():
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, name
        assert container["imagePullPolicy"] == "IfNotPresent"  # pinned major-version tags
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {}
        for mount in container["volumeMounts"]:
            volume = volumes.get(mount["name"])
            mounts[mount["mountPath"]] = (
                "claim" if volume is None else next(iter(volume.keys() - {"name"}))
            )
        assert mounts == expected_mounts[name]
        assert all(v == {"name": v["name"], "emptyDir": {}} for v in volumes.values())


def test_postgres_stops_fast_and_redis_answers_pong() -> None:
    """Kubernetes' SIGTERM is PostgreSQL's smart shutdown, which waits for the apps'
    pooled connections until the kill; `pg_ctl stop -m fast` ends them and checkpoints
    (PostgreSQL docs, "Shutting Down the Server"). redis-cli may exit 0 on an error reply
    (NOAUTH, LOADING), so its probes pass only on a reply of exactly PONG, through a
    shell for the pipe."""
    found = data_containers(lowered("    topology: split\n    database: {mode: postgres}\n"))
    _, postgres = found["llmgateway-postgres"]
    assert postgres["lifecycle"] == {
        "preStop": {"exec": {"command": ["pg_ctl", "stop", "-m", "fast"]}}
    }
    _, redis = found["llmgateway-redis"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert redis[probe]["exec"]["command"] == [
            "sh",
            "-c",
            "redis-cli ping | grep -qx PONG",
        ]


# checkov's ids (bridgecrewio/checkov, checkov/kubernetes/checks/resource/k8s/): CKV_K8S_8
# liveness probe, CKV_K8S_9 readiness probe, CKV_K8S_14 image tag fixed (not latest).
PROBE_CHECKS = {"CKV_K8S_8", "CKV_K8S_9"}
LATEST_CHECK = "CKV_K8S_14"


def skipped_checks(annotations: dict[str, str]) -> list[str]:
    """The checkov ids of a resource's `checkov.io/skipN: ID=reason` annotations, N = 1..."""
    checks = []
    for key, value in annotations.items():
        check, _, reason = value.partition("=")
        assert key.startswith("checkov.io/skip"), key
        assert reason.strip(), key
        checks.append((int(key.removeprefix("checkov.io/skip")), check))
    assert sorted(n for n, _ in checks) == list(range(1, len(checks) + 1))
    return [check for _, check in checks]


def test_each_split_deployment_skips_what_checkov_flags_on_it() -> None:
    """`nox -s policy` passes with each finding fixed or skipped with a reason on the
    resource (README "Validation"): a container without liveness and readiness probes (the
    worker: UPSTREAM 1 gives it none) fails CKV_K8S_8 and CKV_K8S_9; an image on `latest`
    fails CKV_K8S_14, judged by the tag after the last `:` (a registry may have a port)."""
    prefix = "    image: {tag: %s, splitRepositoryPrefix: 'registry.example.com:5000/llm/split'}\n"
    for tag in ("latest", "v1.0.0"):
        documents = lowered(SPLIT + prefix % tag)
        deployments = [d for d in documents if d["kind"] == "Deployment"]
        assert len(deployments) == 5
        for deployment in deployments:
            name = deployment["metadata"]["name"]
            (container,) = deployment["spec"]["template"]["spec"]["containers"]
            assert container["image"].startswith("registry.example.com:5000/llm/split-")
            checks = skipped_checks(deployment["metadata"]["annotations"])
            probed = "livenessProbe" in container and "readinessProbe" in container
            assert (set(checks) >= PROBE_CHECKS) is not probed, name
            assert not PROBE_CHECKS & set(checks) or not probed, name
            assert (LATEST_CHECK in checks) is (tag == "latest"), name


def test_split_resources_carry_their_component_and_roll_without_a_gap() -> None:
    """Kubernetes' recommended labels: app.kubernetes.io/component names the service on
    its Deployment and Service (the ServiceMonitor selects the gateway's Service by it).
    No split pod mounts a claim (issue 13), so nothing forces Recreate (FACTS: Recreate
    only for the ReadWriteOnce data volume): each Deployment rolls, one pod more at a time
    (maxSurge 1) and none less (maxUnavailable 0), so a one-replica service keeps serving
    while its new pod starts."""
    services = ("api", "gateway", "ui", "admin", "worker")  # the split default
    for document in lowered(SPLIT):
        service = document["metadata"]["name"].removeprefix("llmgateway-")
        if document["kind"] not in ("Deployment", "Service") or service not in services:
            continue
        assert document["metadata"]["labels"]["app.kubernetes.io/component"] == service
        if document["kind"] == "Deployment":
            assert document["spec"]["strategy"] == {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }


def test_the_cors_origins_are_the_browser_apps_only() -> None:
    """FACTS: ORIGIN_URLS holds the UI, API and admin URLs, never the gateway's (the app
    checks API keys); the api Ingress allows the UI and admin origins. The split topology's
    playground and code are browser apps calling the api too; docs is a static site
    (README "The split topology"), so it is no origin."""
    documents = lowered(
        SPLIT + "    domain: example.org\n    services: {docs: {}, playground: {}, code: {}}\n"
    )
    origins = find(documents, "ConfigMap", "llmgateway-config")["data"]["ORIGIN_URLS"]
    assert origins.split(",") == [
        "https://example.org",
        "https://api.example.org",
        "https://admin.example.org",
        "https://playground.example.org",
        "https://code.example.org",
    ]
    annotations = find(documents, "Ingress", "llmgateway-api")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/cors-allow-origin"].split(",") == [
        "https://example.org",
        "https://admin.example.org",
        "https://playground.example.org",
        "https://code.example.org",
    ]


# --- network.py ----------------------------------------------------------------------------


def test_the_data_clients_reach_postgres_and_redis_on_their_ports_only() -> None:
    """README "NetworkPolicy": with restrictEgress the api, gateway and worker reach
    PostgreSQL and Redis, the in-cluster pods (CloudNativePG's instances, the Redis
    StatefulSet's pods) or any address when external, on 5432 and 6379 only."""
    cnpg_instances = {"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/podRole": "instance"}
    restricted = "    topology: split\n    networkPolicy: {restrictEgress: true}\n"
    for database, postgres_peers in (
        ("{mode: cloudnative-pg}", [{"podSelector": {"matchLabels": cnpg_instances}}]),
        ("{mode: external, secretName: db}", None),
    ):
        documents = lowered(restricted + f"    database: {database}\n")
        redis_peers = [{"podSelector": {"matchLabels": {"app": "llmgateway-redis"}}}]
        for service in ("api", "gateway", "worker"):
            egress = find(documents, "NetworkPolicy", f"llmgateway-{service}")["spec"]["egress"]
            data = [
                rule
                for rule in egress
                if rule.get("ports") and rule["ports"][0]["port"] in (5432, 6379)
            ]
            postgres = {"ports": tcp(5432)}
            if postgres_peers is not None:
                postgres = {"to": postgres_peers, **postgres}
            assert data == [postgres, {"to": redis_peers, "ports": tcp(6379)}], service
            # every other rule names its ports too: nothing is open on every port
            assert all(rule.get("ports") for rule in egress), service


# --- availability.py -----------------------------------------------------------------------


def test_budgets_spread_and_autoscalers_follow_the_pods_each_service_always_runs() -> None:
    """README "Availability of the split topology": a Deployment that runs more than one
    pod at all times (replicas above 1, or autoscaling.minReplicas above 1) gets a
    PodDisruptionBudget `maxUnavailable: 1` and spreads its pods over nodes
    (kubernetes.io/hostname, ScheduleAnyway); `autoscaling` adds an autoscaling/v2
    HorizontalPodAutoscaler on average CPU use (minReplicas 2 and target 80% by default)
    and leaves the Deployment without `replicas`."""
    documents = lowered(
        SPLIT
        + "    services:\n"
        + "      gateway: {replicas: 3}\n"
        + "      api: {replicas: 1}\n"
        + "      ui: {autoscaling: {minReplicas: 1, maxReplicas: 4,"
        + " targetCpuUtilizationPercentage: 70}}\n"
        + "      admin: {autoscaling: {maxReplicas: 3}}\n"
    )
    budgets = {
        d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "PodDisruptionBudget"
    }
    assert budgets == {
        f"llmgateway-{s}": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app": "llmgateway", "component": s}},
        }
        for s in ("gateway", "admin")
    }
    for service in ("api", "gateway", "ui", "admin", "worker"):
        deployment = find(documents, "Deployment", f"llmgateway-{service}")
        spread = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints")
        if service in ("gateway", "admin"):
            assert spread == [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": "llmgateway", "component": service}},
                }
            ]
        else:
            assert spread is None, service
    scalers = {
        d["metadata"]["name"]: d["spec"]
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    for service, (least, most, target) in {"ui": (1, 4, 70), "admin": (2, 3, 80)}.items():
        name = f"llmgateway-{service}"
        assert scalers.pop(name) == {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": least,
            "maxReplicas": most,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ],
        }
        assert "replicas" not in find(documents, "Deployment", name)["spec"]
    assert scalers == {}
    assert find(documents, "Deployment", "llmgateway-gateway")["spec"]["replicas"] == 3
    assert find(documents, "Deployment", "llmgateway-api")["spec"]["replicas"] == 1


def public_ports(documents: list[Any], service: str) -> list[int]:
    """The ports a service's pods may reach at any address (rules without `to`)."""
    policy = find(documents, "NetworkPolicy", f"llmgateway-{service}")
    return [
        p["port"] for rule in policy["spec"]["egress"] if "to" not in rule for p in rule["ports"]
    ]


def test_the_public_gateway_url_is_reached_on_its_scheme_port() -> None:
    """README "NetworkPolicy": with restrictEgress, playground and admin reach the public
    gateway URL, which they call server-side: https on 443 with TLS, http on 80 without;
    the gateway, worker and api go to 443 (providers, Stripe, sign-in) either way."""
    restricted = (
        SPLIT + "    networkPolicy: {restrictEgress: true}\n    services: {playground: {}}\n"
    )
    for tls, port in (("true", 443), ("false", 80)):
        documents = lowered(restricted + f"    ingress: {{tls: {{enabled: {tls}}}}}\n")
        for service in ("playground", "admin"):
            assert public_ports(documents, service) == [port], (service, tls)
        for service in ("gateway", "worker", "api"):
            assert public_ports(documents, service)[-1:] == [443], (service, tls)
        assert public_ports(documents, "ui") == []


def test_no_egress_to_an_api_that_is_not_deployed() -> None:
    """The web apps reach the api pods through API_BACKEND_URL (README "NetworkPolicy");
    with the api disabled there is no such pod, and no rule to it."""
    restricted = SPLIT + "    networkPolicy: {restrictEgress: true}\n"
    api = {
        "to": [{"podSelector": {"matchLabels": {"app": "llmgateway", "component": "api"}}}],
        "ports": tcp(8080),
    }
    with_api = find(lowered(restricted), "NetworkPolicy", "llmgateway-ui")["spec"]["egress"]
    assert api in with_api
    documents = lowered(restricted + "    services: {api: {enabled: false}}\n")
    egress = find(documents, "NetworkPolicy", "llmgateway-ui")["spec"]["egress"]
    assert egress == [DNS_RULE]
    egress = find(documents, "NetworkPolicy", "llmgateway-admin")["spec"]["egress"]
    assert egress == [DNS_RULE, {"ports": tcp(443)}]  # the public gateway URL only


def test_cloudnative_pg_instances_reach_only_their_peers_and_the_api_server() -> None:
    """README "NetworkPolicy" (CloudNativePG v1.30.0 docs/src/networking.md:26,
    security.md:797-827): the instances accept the app pods on 5432, the operator's pods
    and the cluster's own pods on 8000 and 5432; with restrictEgress they go to DNS, to
    each other on 5432 and 8000, and to the Kubernetes API server on 443 and 6443 (any
    address: unknown offline)."""
    documents = lowered(
        "    topology: split\n"
        "    database: {mode: cloudnative-pg}\n"
        "    networkPolicy: {restrictEgress: true, cnpgOperatorNamespace: operators}\n"
    )
    cluster = {"podSelector": {"matchLabels": {"cnpg.io/cluster": "llmgateway-postgres"}}}
    operator = {
        **namespace_peer("operators"),
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cloudnative-pg"}},
    }
    spec = find(documents, "NetworkPolicy", "llmgateway-postgres")["spec"]
    assert spec["podSelector"] == {
        "matchLabels": {"cnpg.io/cluster": "llmgateway-postgres", "cnpg.io/podRole": "instance"}
    }
    assert spec["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app": "llmgateway"}}}], "ports": tcp(5432)},
        {"from": [operator], "ports": tcp(8000, 5432)},
        {"from": [cluster], "ports": tcp(8000, 5432)},
    ]
    assert spec["egress"] == [
        DNS_RULE,
        {"to": [cluster], "ports": tcp(8000, 5432)},
        {"ports": tcp(443, 6443)},
    ]


def test_each_split_policy_names_its_peers_and_the_app_port() -> None:
    """README "NetworkPolicy" table: the ingress controller's pods reach each web service,
    the app pods also the api, Prometheus's namespace also the gateway, each on the pod
    port 8080 only (a rule without ports would open every port); with restrictEgress the
    ui reaches DNS and the api pods on 8080, nothing else."""
    documents = lowered(
        SPLIT
        + "    networkPolicy: {restrictEgress: true}\n"
        + "    monitoring: {serviceMonitor: true}\n"
    )
    controller = {
        **namespace_peer("ingress-nginx"),
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }
    app_pods = {"podSelector": {"matchLabels": {"app": "llmgateway"}}}
    api_pods = {"podSelector": {"matchLabels": {"app": "llmgateway", "component": "api"}}}
    expected_ingress = {
        "ui": [{"from": [controller], "ports": tcp(8080)}],
        "api": [
            {"from": [controller], "ports": tcp(8080)},
            {"from": [app_pods], "ports": tcp(8080)},
        ],
        "gateway": [
            {"from": [controller], "ports": tcp(8080)},
            {"from": [namespace_peer("monitoring")], "ports": tcp(8080)},
        ],
    }
    for service, ingress in expected_ingress.items():
        spec = find(documents, "NetworkPolicy", f"llmgateway-{service}")["spec"]
        assert spec["ingress"] == ingress, service
    ui = find(documents, "NetworkPolicy", "llmgateway-ui")["spec"]
    assert ui["egress"] == [DNS_RULE, {"to": [api_pods], "ports": tcp(8080)}]
    worker = find(documents, "NetworkPolicy", "llmgateway-worker")["spec"]
    assert "ingress" not in worker  # nothing reaches the worker
    assert worker["policyTypes"] == ["Ingress", "Egress"]


def test_the_postgres_password_comes_from_the_auth_secret_it_is_a_key_of() -> None:
    """With `database.mode: postgres`, POSTGRES_PASSWORD is a key of the auth Secret
    (README "The auth Secret"; FACTS.md: the module's Secret `llmgateway-auth`, the
    default `authSecret.name`), and DATABASE_URL expands it ($(VAR) of an earlier
    variable, Kubernetes' dependent environment variables)."""
    for name, defaults in (
        ("llmgateway-auth", ""),
        ("team-auth", "  authSecret:\n    name: team-auth\n"),
    ):
        documents = lowered("    topology: split\n    database: {mode: postgres}\n", defaults)
        api = containers(documents)["llmgateway-api/api"]
        env = {e["name"]: e for e in api["env"]}
        assert env["POSTGRES_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": name, "key": "POSTGRES_PASSWORD"}
        }, name
        assert env["DATABASE_URL"]["value"] == (
            "postgres://llmgateway:$(POSTGRES_PASSWORD)@llmgateway-postgres:5432/llmgateway"
        )
        names = [e["name"] for e in api["env"]]
        assert names.index("POSTGRES_PASSWORD") < names.index("DATABASE_URL")
