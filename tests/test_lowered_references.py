"""Every environment of every valid case, lowered in-process: what Kubernetes needs of one
resource to find another holds.

These are Kubernetes' own rules, not values taken from the compiler: a workload's selector
must match its pod template (the API server refuses it otherwise); a Service, a
PodDisruptionBudget, a NetworkPolicy or a ServiceMonitor that selects no pod or Service
does nothing; a Service's targetPort must be a port its pods declare; an Ingress must route
to a Service port that exists; a container must mount a volume its pod has; a Secret
reference must name a key the Secret holds (the spec's `secret_keys`, which `secret
--generate`, secret.env.example and the ExternalSecret all use); every resource must carry
the labels pruning selects an environment by (README "Applying, with pruning": part-of and
instance). The lowering is what kustomize renders (tests/test_invariant.py), so this runs
no kustomize: `nox -s mutation` runs it for each mutant of compiler/lower/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from compiler.load import load_spec
from compiler.lower import lower_environment
from compiler.spec import Settings
from tests.conftest import CASES

VALID = sorted(p.parent for p in (CASES / "valid").glob("*/spec.yaml"))
WORKLOADS = ("Deployment", "StatefulSet")
# README "Applying, with pruning", FACTS "Resources" (the Namespace's labels).
PRUNE_LABELS = ("app.kubernetes.io/part-of", "app.kubernetes.io/instance")
# What CloudNativePG labels the pods of a Cluster with (cloudnative-pg@4b5e244a
# pkg/specs/pods.go:544-554): the operator makes them, so no pod template shows them.
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"
# The API server's name formats (k8s.io/apimachinery pkg/util/validation/validation.go):
# a DNS-1123 label for container, volume and Service port names; an IANA service name for
# a container port's name (at most 15 characters, a letter among them, no "--").
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
IANA_SVC_NAME = re.compile(r"(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?")


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def pod_templates(documents: list[Any]) -> list[tuple[str, dict[str, str], Any]]:
    """(workload name, pod labels, pod spec) of each Deployment and StatefulSet."""
    return [
        (
            d["metadata"]["name"],
            d["spec"]["template"]["metadata"]["labels"],
            d["spec"]["template"]["spec"],
        )
        for d in documents
        if d["kind"] in WORKLOADS
    ]


def every_container(pod: Any) -> list[Any]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def check_labels_and_namespace(documents: list[Any], settings: Settings, instance: str) -> None:
    first, *rest = documents
    assert (first["kind"], first["metadata"]["name"]) == ("Namespace", settings.namespace)
    assert "namespace" not in first["metadata"]  # a Namespace is cluster-scoped
    for document in documents:
        labels = document["metadata"]["labels"]
        label = f"{document['kind']}/{document['metadata']['name']}"
        assert labels["app.kubernetes.io/part-of"] == "llmgateway", label
        assert labels["app.kubernetes.io/instance"] == instance, label
        assert labels["app.kubernetes.io/name"] == "llmgateway", label
        assert labels["app.kubernetes.io/managed-by"] == "llmgateway-compiler", label
    for document in rest:  # every other kind made here is namespaced
        label = f"{document['kind']}/{document['metadata']['name']}"
        assert document["metadata"]["namespace"] == settings.namespace, label


def check_workloads(documents: list[Any], settings: Settings, instance: str) -> None:
    services = {d["metadata"]["name"] for d in documents if d["kind"] == "Service"}
    claims = {d["metadata"]["name"] for d in documents if d["kind"] == "PersistentVolumeClaim"}
    config_maps = {d["metadata"]["name"] for d in documents if d["kind"] == "ConfigMap"}
    for workload in (d for d in documents if d["kind"] in WORKLOADS):
        name = workload["metadata"]["name"]
        spec = workload["spec"]
        template = spec["template"]
        # apps/v1: the selector must match the template's labels.
        assert selects(spec["selector"]["matchLabels"], template["metadata"]["labels"]), name
        assert selects(
            {k: v for k, v in workload["metadata"]["labels"].items() if k in PRUNE_LABELS},
            template["metadata"]["labels"],
        ), name
        pod = template["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        templates = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        for claim in spec.get("volumeClaimTemplates", []):
            assert claim["metadata"]["labels"]["app.kubernetes.io/instance"] == instance, name
        if workload["kind"] == "StatefulSet":
            assert spec["serviceName"] in services, name  # its governing Service
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name
        for volume_name in [*volumes, *templates]:
            assert DNS_LABEL.fullmatch(volume_name), (name, volume_name)
        for container in every_container(pod):
            assert DNS_LABEL.fullmatch(container["name"]), (name, container["name"])
            port_names = [p["name"] for p in container.get("ports", [])]
            for port_name in port_names:
                assert IANA_SVC_NAME.fullmatch(port_name), (name, port_name)
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                handler = container.get(probe, {})
                port = {**handler.get("httpGet", {}), **handler.get("tcpSocket", {})}.get("port")
                if isinstance(port, str):  # a named port must be one the container declares
                    assert port in port_names, (name, probe, port)
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in templates, (name, mount)
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, name
            names = [e["name"] for e in container.get("env", [])]
            assert len(names) == len(set(names)), (name, container["name"])
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference is not None and reference["name"] == settings.auth_secret.name:
                    assert reference["key"] in settings.secret_keys, (name, variable)
                # $(VAR) expands only a variable defined earlier in the list.
                value = variable.get("value", "")
                for other in names[names.index(variable["name"]) :]:
                    assert f"$({other})" not in value, (name, variable["name"])
            for arg in container.get("args", []):
                for other in names:
                    if f"$({other})" in arg:
                        break
                else:
                    assert "$(" not in arg, (name, arg)


def check_services(documents: list[Any]) -> None:
    pods = pod_templates(documents)
    for service in (d for d in documents if d["kind"] == "Service"):
        name = service["metadata"]["name"]
        selector = service["spec"]["selector"]
        selected = [(n, spec) for n, labels, spec in pods if selects(selector, labels)]
        assert len(selected) == 1, (name, [n for n, _ in selected])
        ((_, pod),) = selected
        ports = [p for c in pod["containers"] for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            (found,) = [p for p in ports if target in (p["name"], p["containerPort"])] or [None]
            assert found is not None, (name, port)
            assert port["protocol"] == found["protocol"] == "TCP", (name, port)
            assert DNS_LABEL.fullmatch(port["name"]), (name, port)


def check_selectors(documents: list[Any]) -> None:
    """PDBs, autoscalers, NetworkPolicies and the ServiceMonitor reach what they are for."""
    pods = pod_templates(documents)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    for budget in (d for d in documents if d["kind"] == "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        selected = [n for n, labels, _ in pods if selects(selector, labels)]
        assert selected == [budget["metadata"]["name"]]
        assert budget["spec"]["maxUnavailable"] == 1  # README "Availability"
    for scaler in (d for d in documents if d["kind"] == "HorizontalPodAutoscaler"):
        target = scaler["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = by_name[("Deployment", target["name"])]
        assert "replicas" not in deployment["spec"]  # the autoscaler sets the count
    cluster = [d for d in documents if d["kind"] == "Cluster"]
    for policy in (d for d in documents if d["kind"] == "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]["matchLabels"]
        selected = [n for n, labels, _ in pods if selects(selector, labels)]
        if selector.get(CNPG_CLUSTER_LABEL) is not None:
            assert [c["metadata"]["name"] for c in cluster] == [selector[CNPG_CLUSTER_LABEL]]
        else:
            assert selected, policy["metadata"]["name"]
    for monitor in (d for d in documents if d["kind"] == "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        services = [
            d
            for d in documents
            if d["kind"] == "Service" and selects(selector, d["metadata"]["labels"])
        ]
        assert len(services) == 1
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in [p["name"] for p in services[0]["spec"]["ports"]]


def check_ingresses(documents: list[Any], settings: Settings) -> None:
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    (certificate,) = [d for d in documents if d["kind"] == "Certificate"] or [None]
    assert (certificate is not None) is settings.ingress.tls.enabled
    for ingress in (d for d in documents if d["kind"] == "Ingress"):
        spec = ingress["spec"]
        assert spec["ingressClassName"] == settings.ingress.class_name
        (rule,) = spec["rules"]
        assert rule["host"] in settings.hosts.values()
        (path,) = rule["http"]["paths"]
        backend = path["backend"]["service"]
        ports = [p["port"] for p in services[backend["name"]]["spec"]["ports"]]
        assert backend["port"]["number"] in ports, ingress["metadata"]["name"]
        if certificate is None:
            assert "tls" not in spec
            continue
        (tls,) = spec["tls"]
        assert tls["hosts"] == [rule["host"]]
        assert tls["secretName"] == certificate["spec"]["secretName"]
        assert rule["host"] in certificate["spec"]["dnsNames"]


def check_external_secret(documents: list[Any], settings: Settings) -> None:
    found = [d for d in documents if d["kind"] == "ExternalSecret"]
    assert bool(found) is (settings.auth_secret.source == "external-secrets")
    for external in found:
        spec = external["spec"]
        assert external["metadata"]["name"] == spec["target"]["name"] == settings.auth_secret.name
        assert [d["secretKey"] for d in spec["data"]] == settings.secret_keys


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.name)
def test_every_reference_of_the_lowering_resolves(case: Path) -> None:
    for name, settings in load_spec(case / "spec.yaml").enabled():
        documents = lower_environment(settings, name)
        check_labels_and_namespace(documents, settings, name)
        check_workloads(documents, settings, name)
        check_services(documents)
        check_selectors(documents)
        check_ingresses(documents, settings)
        check_external_secret(documents, settings)
