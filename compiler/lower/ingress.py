"""Ingresses: one per served host, the oauth2-proxy login block, the Certificate, and
the Ingress that keeps /metrics from the Internet."""

from __future__ import annotations

from typing import Any

from compiler import upstream
from compiler.lower.meta import APP, Resource, hosts, metadata, service_name, urls
from compiler.lower.split import origin_endpoints
from compiler.lower.unified import SERVICE_PORTS
from compiler.spec import Settings

NGINX = "nginx.ingress.kubernetes.io/"
METRICS_INGRESS = f"{APP}-gateway-metrics"
ENDPOINTS = ("ui", "api", "gateway", "admin")


def served_endpoints(settings: Settings) -> list[str]:
    """Endpoints with an Ingress: the unified pod's four; in the split topology each
    endpoint whose service is enabled."""
    if not settings.split:
        return list(ENDPOINTS)
    enabled = {name for name, _ in settings.services.enabled()}
    return [e for e in settings.endpoints if e in enabled]


def backend(settings: Settings, endpoint: str) -> tuple[str, int]:
    """The Service and port an endpoint's Ingress routes to: a port of the unified
    Service, or the endpoint's own Service in the split topology."""
    if settings.split:
        return service_name(endpoint), upstream.SPLIT_PORT
    return APP, dict(SERVICE_PORTS)[endpoint]


def ingress_annotations(settings: Settings, endpoint: str) -> dict[str, str]:
    url = urls(settings)
    annotations = {
        f"{NGINX}proxy-body-size": "50m",
        f"{NGINX}proxy-read-timeout": "600",
        f"{NGINX}proxy-send-timeout": "600",
    }
    if endpoint == "api":
        annotations[f"{NGINX}enable-cors"] = "true"
        origins = [url[e] for e in origin_endpoints(settings) if e != "api"]
        annotations[f"{NGINX}cors-allow-origin"] = ",".join(origins)
        annotations[f"{NGINX}cors-allow-credentials"] = "true"
    if endpoint == "gateway":
        # Streamed (SSE) completions reach the client as they are produced.
        annotations[f"{NGINX}proxy-http-version"] = "1.1"
        annotations[f"{NGINX}proxy-buffering"] = "off"
    proxy = settings.auth.oauth2_proxy_host
    if endpoint != "gateway" and endpoint not in settings.auth.public_endpoints:
        # The spec rules guarantee a proxy host for every protected endpoint.
        assert proxy is not None
        annotations[f"{NGINX}auth-url"] = f"https://{proxy}/oauth2/auth"
        annotations[f"{NGINX}auth-signin"] = (
            f"https://{proxy}/oauth2/start?rd=$scheme://$host$escaped_request_uri"
        )
        annotations[f"{NGINX}auth-response-headers"] = (
            "X-Auth-Request-User,X-Auth-Request-Email,X-Auth-Request-Access-Token"
        )
    return annotations


def ingress(settings: Settings, instance: str | None, endpoint: str) -> Resource:
    return ingress_resource(
        settings,
        instance,
        f"{APP}-{endpoint}",
        ingress_annotations(settings, endpoint),
        hosts(settings)[endpoint],
        ("/", *backend(settings, endpoint)),
    )


def ingress_resource(
    settings: Settings,
    instance: str | None,
    name: str,
    annotations: dict[str, str],
    host: str,
    route: tuple[str, str, int],
) -> Resource:
    """An Ingress of one host and one Prefix path to a port of a Service."""
    path, service, port = route
    meta = metadata(name, settings, instance)
    meta["annotations"] = annotations
    spec: dict[str, Any] = {"ingressClassName": settings.ingress.class_name}
    if settings.ingress.tls.enabled:
        spec["tls"] = [{"hosts": [host], "secretName": settings.ingress.tls.secret_name}]
    spec["rules"] = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": service, "port": {"number": port}}},
                    }
                ]
            },
        }
    ]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


# Why the metrics Ingress looks as it does; written above it in the generated file.
METRICS_INGRESS_COMMENT = """\
The gateway serves Prometheus metrics at /metrics on its main port, the port the gateway
Ingress sends every path of its host to without login (upstream.py). This Ingress
refuses that path on the gateway host, following ingress-nginx's path matching
(kubernetes/ingress-nginx@dbb11b92):
- Ingresses of one host are merged into one nginx server, each path a location with its
  own Ingress's annotations (kubernetes/ingress-nginx docs/user-guide/
  ingress-path-matching.md, "Path Priority"), ordered longest path first
  (internal/ingress/controller/controller.go, sort by len(Path)).
- A Prefix path /metrics becomes `location /metrics/` plus `location = /metrics`
  (internal/ingress/controller/location.go, updateServerLocations); nginx takes an exact
  match first and the longest prefix next, so /metrics and /metrics/... land here, never
  on the gateway Ingress's `/`. With use-regex or rewrite-target on any Ingress of the
  host every location turns into a case-insensitive regex, still tried longest first.
- denylist-source-range 0.0.0.0/0 and ::/0 answers 403 to every client for these
  locations (test/e2e/annotations/ipdenylist.go). Should a controller ignore the
  annotation, the backend is the UI port, which has no /metrics: the gateway's metrics
  are never served through an Ingress. Prometheus scrapes the Service inside the cluster
  (monitoring.serviceMonitor)."""


def metrics_ingress(settings: Settings, instance: str | None) -> Resource:
    """A /metrics path on the gateway host that no request gets through (see the comment)."""
    return ingress_resource(
        settings,
        instance,
        METRICS_INGRESS,
        {f"{NGINX}denylist-source-range": "0.0.0.0/0,::/0"},
        hosts(settings)["gateway"],
        (upstream.METRICS_PATH, *backend(settings, "ui")),
    )


def certificate(settings: Settings, instance: str | None) -> Resource:
    issuer = settings.ingress.tls.issuer
    assert issuer is not None  # the spec rules require an issuer when TLS is on
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(f"{APP}-tls", settings, instance),
        "spec": {
            "secretName": settings.ingress.tls.secret_name,
            "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": "cert-manager.io"},
            "dnsNames": list(hosts(settings).values()),
        },
    }
