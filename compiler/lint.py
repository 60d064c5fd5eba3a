"""Validate rendered manifests offline: API schemas, then the deployment's policy rules.

Schemas: every resource against the Kubernetes OpenAPI schemas of the environment's
`kubernetesVersion` (the kubernetes-validate package, strict: unknown fields are errors),
and the kinds Kubernetes does not define against JSON Schemas kept in
`compiler/schemas/`. A kind with no schema is an error, never a silent pass.

Policy: rules with stable IDs, each with a one-line reason (`RULES`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources as package_files
from typing import Any
from urllib.parse import urlsplit

from compiler import upstream
from compiler.lower.availability import HOSTNAME_TOPOLOGY
from compiler.lower.meta import APP, CNPG_CLUSTER_LABEL, SELECTOR, service_name
from compiler.lower.network import CNPG_POD_ROLE
from compiler.spec import PROTECTED_ENDPOINTS, Settings

NGINX = "nginx.ingress.kubernetes.io/"
# Schemas kept in the package for kinds Kubernetes does not define, by (apiVersion, kind).
LOCAL_SCHEMAS = {
    ("cert-manager.io/v1", "Certificate"): "certificate.cert-manager.io_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "externalsecret.external-secrets.io_v1.json",
    ("argoproj.io/v1alpha1", "Application"): "application.argoproj.io_v1alpha1.json",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): (
        "kustomization.kustomize.toolkit.fluxcd.io_v1.json"
    ),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): (
        "gitrepository.source.toolkit.fluxcd.io_v1.json"
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.monitoring.coreos.com_v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor.monitoring.coreos.com_v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster.postgresql.cnpg.io_v1.json",
    ("postgresql.cnpg.io/v1", "Pooler"): "pooler.postgresql.cnpg.io_v1.json",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one environment's rendered output."""

    environment: str
    resource: str  # kind/namespace/name
    rule: str  # a policy rule ID, or the field path a schema rejects
    message: str
    severity: str = "error"  # error | warning

    def render(self) -> str:
        return f"{self.environment}: {self.severity}: {self.resource}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    reason: str
    severity: str = "error"


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "LLMGW001",
            "oauth-on-protected-endpoints",
            "the UI, API and admin Ingresses carry the oauth2-proxy annotations unless the "
            "spec declares the endpoint public",
        ),
        Rule("LLMGW002", "tls-in-production", "production Ingresses serve TLS"),
        Rule(
            "LLMGW003",
            "pinned-image-in-production",
            "production pins an image tag, so every pod runs the same version",
            "warning",
        ),
        Rule(
            "LLMGW004",
            "probes",
            "every container has liveness, readiness and startup probes (but the split "
            "topology's worker, which serves no port: upstream's chart probes it not)",
        ),
        Rule(
            "LLMGW005",
            "resources",
            "every container, init containers included, has cpu and memory requests and limits",
        ),
        Rule(
            "LLMGW006",
            "recreate-on-readwriteonce",
            "a Deployment mounting a ReadWriteOnce claim uses the Recreate strategy "
            "(two pods on one volume corrupt the PostgreSQL WAL)",
        ),
        Rule(
            "LLMGW007",
            "no-exposed-service",
            "no Service of type LoadBalancer or NodePort unless the spec asks for it",
        ),
        Rule(
            "LLMGW008",
            "networkpolicy-in-production",
            "a NetworkPolicy selects the gateway pods in production",
        ),
        Rule(
            "LLMGW009",
            "urls-of-this-deployment",
            "the app's user-facing URLs are set and point at the deployment's own hosts: "
            "never localhost (the app's fallback) nor the hosted llmgateway.io",
        ),
        Rule(
            "LLMGW010",
            "metrics-not-public",
            "no Ingress path without oauth2-proxy lets a request for /metrics reach the "
            "gateway (ingress-nginx path matching: exact, then longest prefix)",
        ),
        Rule(
            "LLMGW011",
            "networkpolicy-everywhere",
            "a NetworkPolicy selects the app pods in every environment (the unified image "
            "runs Redis without a password)",
            "warning",
        ),
        Rule(
            "LLMGW012",
            "networkpolicy-for-every-workload",
            "once the namespace has NetworkPolicies, every workload's pods (Deployments, "
            "StatefulSets, CloudNativePG instances) are selected by one that restricts who "
            "gets in",
        ),
        Rule(
            "LLMGW013",
            "disruption-budget-for-replicas",
            "a Deployment running more than one pod (replicas, or an autoscaler's "
            "minReplicas) has a PodDisruptionBudget, so a node drain leaves it serving",
        ),
        Rule(
            "LLMGW014",
            "replicas-left-to-the-autoscaler",
            "a Deployment scaled by a HorizontalPodAutoscaler has no replicas field: every "
            "apply would reset the count the autoscaler chose",
        ),
        Rule(
            "LLMGW015",
            "spread-over-nodes",
            "a Deployment running more than one pod spreads them over nodes "
            "(topologySpreadConstraints by kubernetes.io/hostname)",
        ),
        Rule(
            "LLMGW016",
            "data-connection",
            "in the split topology the containers of the services that use PostgreSQL and "
            "Redis (api, gateway, worker, and the api's migration runner) read DATABASE_URL, "
            "REDIS_HOST, REDIS_PORT and REDIS_PASSWORD",
        ),
        Rule(
            "LLMGW017",
            "no-claim-on-replicated-deployment",
            "a Deployment that may run more than one pod (replicas, an autoscaler) mounts no "
            "PersistentVolumeClaim, unless the spec acknowledges the unified image's shared "
            "data directory",
        ),
        Rule(
            "LLMGW018",
            "migrations-once",
            "in the split topology no app container runs the migrations at its start "
            "(RUN_MIGRATIONS=false in each, from its env or ConfigMap): several api pods "
            "starting together would race; the api pods' init container runs them under a "
            "lock",
        ),
    )
}


def label(resource: Any) -> str:
    meta = resource.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    return (
        f"{resource.get('kind', '?')}/{namespace}/{name}"
        if namespace
        else f"{resource.get('kind', '?')}/{name}"
    )


def field_path(resource: Any, path: Iterable[Any]) -> str:
    """`spec.template.spec.containers[llmgateway].image`: list items by name where named."""
    out = ""
    node = resource
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{name}]" if isinstance(name, str) else f"[{part}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(resource)"


@cache
def local_schema(file_name: str) -> dict[str, Any]:
    text = package_files.files("compiler").joinpath("schemas", file_name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_errors(resource: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (field path, message) a JSON Schema rejects in ``resource``."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    found: list[tuple[str, str]] = []
    for error in sorted(
        validator.iter_errors(resource), key=lambda e: list(map(str, e.absolute_path))
    ):
        found.append(describe_schema_error(resource, error))
    return found


def describe_schema_error(resource: Any, error: Any) -> tuple[str, str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema.get("properties") or {}).keys())
        unknown = sorted(k for k in error.instance if k not in allowed)
        if unknown:
            return field_path(resource, [*path, unknown[0]]), f"unknown field '{unknown[0]}'"
    return field_path(resource, path), str(error.message)


@cache
def kubernetes_validate_module() -> Any:
    """kubernetes-validate, reading each schema file once per process.

    Its validate() parses the (large) definitions file and lists the schema versions on
    every call; the files never change, so their parsed contents and list are kept. The
    package's own functions are replaced when present; without them, validation is only
    slower.
    """
    import kubernetes_validate
    from kubernetes_validate import utils

    if hasattr(utils, "schema_contents"):
        utils.schema_contents = cache(utils.schema_contents)
    # The installed schema versions: listed from disk twice per resource validated.
    if hasattr(utils, "all_versions"):
        versions = tuple(utils.all_versions())
        utils.all_versions = lambda: list(versions)
    return kubernetes_validate


def validate_schemas(environment: str, resources: list[Any], version: str) -> list[Finding]:
    """Schema findings for one environment's rendered resources."""
    kubernetes_validate = kubernetes_validate_module()
    from kubernetes_validate.utils import VersionNotSupportedError

    findings: list[Finding] = []
    for resource in resources:
        key = (str(resource.get("apiVersion")), str(resource.get("kind")))
        if key in LOCAL_SCHEMAS:
            for path, message in schema_errors(resource, local_schema(LOCAL_SCHEMAS[key])):
                findings.append(Finding(environment, label(resource), path, message))
            continue
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path, message = describe_schema_error(resource, error)
            findings.append(Finding(environment, label(resource), path, message))
        except kubernetes_validate.SchemaNotFoundError:
            findings.append(
                Finding(
                    environment,
                    label(resource),
                    "(schema)",
                    f"no schema for {key[0]} {key[1]} in Kubernetes {version} nor in the "
                    "package: it cannot be validated",
                )
            )
        except VersionNotSupportedError:
            findings.append(
                Finding(
                    environment,
                    label(resource),
                    "(schema)",
                    f"kubernetesVersion {version} is newer than the schemas installed "
                    f"(up to {kubernetes_validate.latest_version()})",
                )
            )
    return findings


def finding(environment: str, resource: Any, rule_id: str, message: str) -> Finding:
    rule = RULES[rule_id]
    return Finding(environment, label(resource), f"{rule.id} {rule.name}", message, rule.severity)


def containers(resource: Any, *, init: bool = True) -> list[Any]:
    pod = ((resource.get("spec") or {}).get("template") or {}).get("spec") or {}
    found = list(pod.get("containers") or [])
    return (list(pod.get("initContainers") or []) + found) if init else found


def component(workload: Any) -> str | None:
    """The split service a workload runs (its selector's component label), if any."""
    selector = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    value = selector.get("component")
    return value if isinstance(value, str) else None


def is_worker(deployment: Any) -> bool:
    """The split worker: no port, no health signal (worker-deployment.yaml:43-56)."""
    return component(deployment) == "worker" and (deployment.get("metadata") or {}).get(
        "name"
    ) == service_name("worker")


def check_policy(environment: str, settings: Settings, resources: list[Any]) -> list[Finding]:
    """Policy findings for one environment's rendered resources."""
    findings: list[Finding] = []
    kinds: dict[str, list[Any]] = {}
    for resource in resources:
        kinds.setdefault(str(resource.get("kind")), []).append(resource)
    production = settings.production
    for ingress in kinds.get("Ingress", []):
        name = (ingress.get("metadata") or {}).get("name", "")
        endpoint = name.removeprefix(f"{APP}-")
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        if endpoint in PROTECTED_ENDPOINTS and endpoint not in settings.auth.public_endpoints:
            auth_url = str(annotations.get(f"{NGINX}auth-url", ""))
            if (
                not auth_url.startswith("https://")
                or auth_url.startswith("https:///")
                or not annotations.get(f"{NGINX}auth-signin")
            ):
                findings.append(
                    finding(
                        environment,
                        ingress,
                        "LLMGW001",
                        f"the {endpoint} endpoint is not behind oauth2-proxy (auth-url "
                        f"{auth_url or 'missing'}); declare it public in the spec if intended",
                    )
                )
        if production and not (ingress.get("spec") or {}).get("tls"):
            findings.append(
                finding(environment, ingress, "LLMGW002", "production Ingress without TLS")
            )
    for deployment in kinds.get("Deployment", []):
        for container in containers(deployment, init=False):
            image = str(container.get("image", ""))
            tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
            if production and tag in ("", "latest"):
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW003",
                        f"container {container.get('name')} runs {image!r}; pin a release tag "
                        "(image.tag in the spec)",
                    )
                )
            missing = [
                p for p in ("livenessProbe", "readinessProbe", "startupProbe") if p not in container
            ]
            if missing and not (settings.split and is_worker(deployment)):
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW004",
                        f"container {container.get('name')} has no {', '.join(missing)}",
                    )
                )
        for container in containers(deployment):
            amounts = container.get("resources") or {}
            absent = [
                f"{kind}.{resource}"
                for kind in ("requests", "limits")
                for resource in ("cpu", "memory")
                if resource not in (amounts.get(kind) or {})
            ]
            if absent:
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW005",
                        f"container {container.get('name')} sets no {', '.join(absent)}",
                    )
                )
        claims = {
            (c.get("metadata") or {}).get("name"): c for c in kinds.get("PersistentVolumeClaim", [])
        }
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        for volume in pod.get("volumes") or []:
            claim = claims.get((volume.get("persistentVolumeClaim") or {}).get("claimName"))
            if claim is None:
                continue
            modes = (claim.get("spec") or {}).get("accessModes") or []
            strategy = ((deployment.get("spec") or {}).get("strategy") or {}).get("type")
            if "ReadWriteOnce" in modes and strategy != "Recreate":
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW006",
                        f"strategy {strategy or 'RollingUpdate (default)'} on ReadWriteOnce claim "
                        f"{(claim.get('metadata') or {}).get('name')}; use Recreate",
                    )
                )
    for service in kinds.get("Service", []):
        service_type = (service.get("spec") or {}).get("type", "ClusterIP")
        if service_type in ("LoadBalancer", "NodePort") and settings.service_type != service_type:
            findings.append(
                finding(
                    environment,
                    service,
                    "LLMGW007",
                    f"Service of type {service_type}; the spec asks for {settings.service_type}",
                )
            )
    selected = any(
        all(
            ((policy.get("spec") or {}).get("podSelector") or {}).get("matchLabels", {}).get(k) == v
            for k, v in SELECTOR.items()
        )
        for policy in kinds.get("NetworkPolicy", [])
    )
    if not selected:
        rule = RULES["LLMGW008" if production else "LLMGW011"]
        findings.append(
            Finding(
                environment,
                f"Namespace/{settings.namespace}",
                f"{rule.id} {rule.name}",
                "no NetworkPolicy selects the gateway pods (app=llmgateway)"
                + ("" if production else ": any pod of the cluster reaches them, Redis included")
                + "; set networkPolicy.enabled in the spec",
                rule.severity,
            )
        )
    if kinds.get("NetworkPolicy"):
        findings += check_network_coverage(environment, kinds)
    findings += check_availability(environment, kinds)
    findings += check_urls(environment, settings, kinds.get("Deployment", []), kinds)
    findings += check_claims(environment, settings, kinds)
    if settings.split:
        findings += check_split_env(environment, settings, kinds)
    findings += check_metrics(environment, kinds.get("Ingress", []), kinds.get("Service", []))
    return findings


def selects(selector: Any, labels: dict[str, Any]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects ``labels``."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, values = expression.get("key"), expression.get("values") or []
        operator = expression.get("operator")
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and key in labels and labels[key] in values)
            or (operator == "Exists" and key not in labels)
            or (operator == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def pod_labels(resource: Any) -> dict[str, Any]:
    """Labels of a workload's pods; a CloudNativePG Cluster's instances carry the cluster's
    name and their role (cloudnative-pg@4b5e244a pkg/specs/pods.go:544-554)."""
    if resource.get("kind") == "Cluster":
        name = (resource.get("metadata") or {}).get("name")
        return {CNPG_CLUSTER_LABEL: name, CNPG_POD_ROLE: "instance"}
    template = (resource.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def check_network_coverage(environment: str, kinds: dict[str, list[Any]]) -> list[Finding]:
    """LLMGW012: every workload's pods are selected by a policy restricting ingress."""
    guarding = [
        (policy.get("spec") or {}).get("podSelector")
        for policy in kinds.get("NetworkPolicy", [])
        if "Ingress" in ((policy.get("spec") or {}).get("policyTypes") or ["Ingress"])
    ]
    findings = []
    for kind in ("Deployment", "StatefulSet", "Cluster"):
        for workload in kinds.get(kind, []):
            labels = pod_labels(workload)
            if not any(selects(selector, labels) for selector in guarding):
                # The workload's own selector names its pods shortly.
                named = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels")
                shown = ", ".join(f"{k}={v}" for k, v in (named or labels).items())
                findings.append(
                    finding(
                        environment,
                        workload,
                        "LLMGW012",
                        f"no NetworkPolicy selects its pods ({shown}): any pod of the "
                        "cluster reaches them",
                    )
                )
    return findings


def check_availability(environment: str, kinds: dict[str, list[Any]]) -> list[Finding]:
    """LLMGW013-015: budgets, spread and autoscaling of the Deployments."""
    scalers = {
        ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name"): hpa
        for hpa in kinds.get("HorizontalPodAutoscaler", [])
        if ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
    }
    budgets = [
        (budget.get("spec") or {}).get("selector")
        for budget in kinds.get("PodDisruptionBudget", [])
    ]
    findings = []
    for deployment in kinds.get("Deployment", []):
        spec = deployment.get("spec") or {}
        scaler = scalers.get((deployment.get("metadata") or {}).get("name"))
        if scaler is not None and "replicas" in spec:
            findings.append(
                finding(
                    environment,
                    deployment,
                    "LLMGW014",
                    f"replicas {spec['replicas']} and HorizontalPodAutoscaler "
                    f"{(scaler.get('metadata') or {}).get('name')}: leave the count to the "
                    "autoscaler (no replicas field)",
                )
            )
        fewest = (
            (scaler.get("spec") or {}).get("minReplicas", 1)
            if scaler is not None
            else spec.get("replicas", 1)
        )
        if not isinstance(fewest, int) or fewest <= 1:
            continue
        labels = pod_labels(deployment)
        if not any(selects(selector, labels) for selector in budgets):
            findings.append(
                finding(
                    environment,
                    deployment,
                    "LLMGW013",
                    f"at least {fewest} pods and no PodDisruptionBudget selects them: a node "
                    "drain may evict them all at once",
                )
            )
        pod = (spec.get("template") or {}).get("spec") or {}
        spread = [
            c
            for c in pod.get("topologySpreadConstraints") or []
            if c.get("topologyKey") == HOSTNAME_TOPOLOGY and selects(c.get("labelSelector"), labels)
        ]
        if not spread:
            findings.append(
                finding(
                    environment,
                    deployment,
                    "LLMGW015",
                    f"at least {fewest} pods and no topologySpreadConstraints by "
                    f"{HOSTNAME_TOPOLOGY}: one node's loss may take them all",
                )
            )
    return findings


def local_or_hosted(host: str | None) -> str | None:
    """Why a host is not this deployment's: localhost, or the hosted service; else None."""
    host = (host or "").lower().strip("[]")
    if host in ("localhost", "0.0.0.0", "::1") or host.startswith("127."):
        return "localhost"
    if host.endswith(".localhost"):
        return "localhost"
    domain = upstream.HOSTED_DOMAIN
    if host == domain or host.endswith("." + domain):
        return f"the hosted {domain}"
    return None


def url_problems(name: str, value: str) -> list[str]:
    """What is wrong with one env value, if it is a URL or host users are sent to."""
    if name in upstream.USER_FACING_HOSTS:
        hosts = [value]
    elif name in upstream.USER_FACING_URLS:
        hosts = [urlsplit(value).hostname or ""]
    elif name in upstream.USER_FACING_LISTS:
        hosts = [urlsplit(item.strip()).hostname or "" for item in value.split(",")]
    else:
        # Any other value may still name the hosted service (an internal URL may be local).
        hosts = [urlsplit(word).hostname or "" for word in value.split() if "://" in word]
        return [
            f"{name} points at {why}"
            for why in map(local_or_hosted, hosts)
            if why is not None and why != "localhost"
        ]
    return [f"{name} points at {why}" for why in map(local_or_hosted, hosts) if why is not None]


def container_env(container: Any, kinds: dict[str, list[Any]]) -> dict[str, Any]:
    """A container's variables by name: its ConfigMaps' keys (envFrom) as plain values,
    then its own env, which wins over them as in Kubernetes."""
    maps = {(m.get("metadata") or {}).get("name"): m for m in kinds.get("ConfigMap", [])}
    env: dict[str, Any] = {}
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        data = (maps.get(name) or {}).get("data") or {}
        env.update({str(k): {"name": k, "value": v} for k, v in data.items()})
    env.update({str(e.get("name")): e for e in container.get("env") or []})
    return env


def app_image(settings: Settings, image: str) -> bool:
    """Whether an image is LLM Gateway's: the unified one, or a split service's."""
    if image.startswith(settings.image.repository):
        return True
    return settings.split and image.startswith(settings.image.split_repository_prefix + "-")


def check_urls(
    environment: str, settings: Settings, deployments: list[Any], kinds: dict[str, list[Any]]
) -> list[Finding]:
    """LLMGW009: the app containers' URLs are set, and are the deployment's own."""
    findings: list[Finding] = []
    required = (
        upstream.UI_URL,
        upstream.APP_URL,
        upstream.API_URL,
        upstream.GATEWAY_URL,
        upstream.ADMIN_URL,
    )
    for deployment in deployments:
        for container in containers(deployment, init=False):
            if not app_image(settings, str(container.get("image", ""))):
                continue
            env = container_env(container, kinds)
            missing = [name for name in required if name not in env]
            problems = (
                [f"{', '.join(missing)} unset: the app falls back to localhost"]
                if (missing)
                else []
            )
            for name, item in env.items():
                if isinstance(item.get("value"), str):
                    problems += url_problems(name, item["value"])
            problems = list(dict.fromkeys(problems))
            findings.extend(
                finding(
                    environment,
                    deployment,
                    "LLMGW009",
                    f"container {container.get('name')}: {problem}; set the spec's domain",
                )
                for problem in problems
            )
    return findings


def check_claims(
    environment: str, settings: Settings, kinds: dict[str, list[Any]]
) -> list[Finding]:
    """LLMGW017: no Deployment that may run several pods mounts a claim (one claim, many
    writers), except the unified image's acknowledged shared data directory."""
    if not settings.split and settings.database.acknowledge_shared_data_directory:
        return []
    scaled = {
        ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        for hpa in kinds.get("HorizontalPodAutoscaler", [])
        if ((hpa.get("spec") or {}).get("maxReplicas") or 1) > 1
    }
    findings: list[Finding] = []
    for deployment in kinds.get("Deployment", []):
        name = (deployment.get("metadata") or {}).get("name")
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        several = name in scaled or (isinstance(replicas, int) and replicas > 1)
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        claims = [
            str((v.get("persistentVolumeClaim") or {}).get("claimName"))
            for v in pod.get("volumes") or []
            if "persistentVolumeClaim" in v
        ]
        if several and claims:
            findings.append(
                finding(
                    environment,
                    deployment,
                    "LLMGW017",
                    f"{'an autoscaler' if name in scaled else f'{replicas} replicas'} "
                    f"share claim {', '.join(claims)}: each pod writes the same files; give "
                    "the data to a service of its own (database.mode: cloudnative-pg)",
                )
            )
    return findings


def check_split_env(
    environment: str, settings: Settings, kinds: dict[str, list[Any]]
) -> list[Finding]:
    """LLMGW016 and LLMGW018: the split containers' connection and migration variables."""
    connection = (
        upstream.DATABASE_URL,
        upstream.REDIS_HOST,
        upstream.REDIS_PORT_VARIABLE,
        upstream.REDIS_PASSWORD,
    )
    findings: list[Finding] = []
    for deployment in kinds.get("Deployment", []):
        for container in containers(deployment):
            if not app_image(settings, str(container.get("image", ""))):
                continue
            env = container_env(container, kinds)
            label_ = f"container {container.get('name')}"
            missing = [name for name in connection if name not in env]
            if component(deployment) in upstream.DATA_CLIENTS and missing:
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW016",
                        f"{label_} has no {', '.join(missing)}: it cannot reach "
                        "PostgreSQL and Redis",
                    )
                )
            value = (env.get(upstream.RUN_MIGRATIONS) or {}).get("value")
            if value != "false":
                shown = "unset" if value is None else f"{value!r}"
                findings.append(
                    finding(
                        environment,
                        deployment,
                        "LLMGW018",
                        f"{label_}: RUN_MIGRATIONS is {shown}, not 'false'; the api's init "
                        "container runs the migrations, one at a time",
                    )
                )
    return findings


def serves_metrics(backend: Any, services: dict[Any, Any]) -> bool:
    """Whether an Ingress backend is the gateway's port, where /metrics is served: a
    gateway port of the unified Service, or the split gateway's own Service."""
    service = backend.get("service") or {}
    if service.get("name") == service_name("gateway"):
        return True
    port = service.get("port") or {}
    number = port.get("number")
    if number is None:
        for item in ((services.get(service.get("name")) or {}).get("spec") or {}).get("ports", []):
            if item.get("name") == port.get("name"):
                number = item.get("targetPort", item.get("port"))
    return number in (upstream.GATEWAY_PORT, "gateway") or port.get("name") == "gateway"


def matches(path: str, path_type: str, request: str) -> int | None:
    """How well an Ingress path matches a request path, ingress-nginx's way: an exact
    match beats any prefix, a longer prefix beats a shorter one; None: no match."""
    if path_type == "Exact":
        return 100_000 if path == request else None
    prefix = path.rstrip("/")
    if request in (path, prefix) or prefix == "" or request.startswith(prefix + "/"):
        return len(prefix) + 1
    return None


def check_metrics(environment: str, ingresses: list[Any], service_list: list[Any]) -> list[Finding]:
    """LLMGW010: for each host, the path a request for /metrics ends on must not reach the
    gateway without oauth2-proxy (or be refused to every client)."""
    services = {(s.get("metadata") or {}).get("name"): s for s in service_list}
    routes: dict[str, list[tuple[Any, Any]]] = {}
    for ingress in ingresses:
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                routes.setdefault(str(rule.get("host", "")), []).append((ingress, path))
    findings: list[Finding] = []
    for host, candidates in sorted(routes.items()):
        for request in (upstream.METRICS_PATH, upstream.METRICS_PATH + "/"):
            scored = [
                (score, ingress, path)
                for ingress, path in candidates
                if (
                    score := matches(str(path.get("path", "/")), str(path.get("pathType")), request)
                )
                is not None
            ]
            if not scored:
                continue
            _, ingress, path = max(scored, key=lambda item: item[0])
            annotations = (ingress.get("metadata") or {}).get("annotations") or {}
            refused = "0.0.0.0/0" in str(annotations.get(f"{NGINX}denylist-source-range", ""))
            if (
                serves_metrics(path.get("backend") or {}, services)
                and not annotations.get(f"{NGINX}auth-url")
                and not refused
            ):
                found = finding(
                    environment,
                    ingress,
                    "LLMGW010",
                    f"{request} on {host} reaches the gateway's metrics through path "
                    f"{path.get('path')} without oauth2-proxy; the compiler adds a refusing "
                    "/metrics path (compile)",
                )
                if found not in findings:
                    findings.append(found)
    return findings


def lint_environment(environment: str, settings: Settings, resources: list[Any]) -> list[Finding]:
    """Schema and policy findings of one environment, in a stable order."""
    found = validate_schemas(environment, resources, settings.kubernetes_version)
    # The rules read fields by their schema types: a resource the schemas refuse (from a
    # broken kustomize or a hand-written patch) is reported once, by its schema errors.
    refused = {f.resource for f in found}
    valid = [r for r in resources if label(r) not in refused]
    found += check_policy(environment, settings, valid)
    return sorted(set(found))
