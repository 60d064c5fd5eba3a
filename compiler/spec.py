"""The typed deployment spec: pydantic v2 models, field rules and cross-field rules.

Field names are camelCase in YAML (as in Kubernetes manifests) and snake_case in Python.
Every model forbids unknown keys, so a typo is an error, not a silently ignored setting.
A field's docstring is its description in the generated JSON Schema.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from compiler import upstream
from compiler.errors import Problem

# Matched with fullmatch only: `$` would also match before a final newline.
BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
DECIMAL_SUFFIXES = ("k", "M", "G", "T", "P", "E")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# The module's own rule for the storage size, binary and decimal suffixes only, with
# Kubernetes' decimal kilo "k" where the module had "K", which the API server refuses
# (<decimalSI> in k8s.io/apimachinery/pkg/api/resource/quantity.go).
STORAGE_QUANTITY = re.compile(r"([0-9]+(\.[0-9]+)?)(Ei|Pi|Ti|Gi|Mi|Ki|E|P|T|G|M|k)")
# Kubernetes resource quantities (cpu "100m", "1", memory "512Mi", "2G").
RESOURCE_QUANTITY = re.compile(r"([0-9]+(\.[0-9]+)?|\.[0-9]+)(Ei|Pi|Ti|Gi|Mi|Ki|[numkMGTPE])?")
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([^@]+)")
ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Kubernetes object names such as an IngressClass or StorageClass (IsDNS1123Subdomain,
# k8s.io/apimachinery/pkg/util/validation/validation.go): no 63-character label limit.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# An image name without tag or digest, as github.com/distribution/reference (regexp.go)
# reads it: an optional registry host[:port]/, then lowercase path components.
IMAGE_REPOSITORY = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(:[0-9]+)?/)?[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
)
# Characters git refuses in a branch name (git check-ref-format, rules 3-5 and 10).
GIT_REF_REFUSED = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_dns_label(value: str) -> str:
    if not DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a DNS label: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit"
        )
    return value


def check_dns_name(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{value!r} is not a DNS name: use dot-separated labels of lowercase letters, "
            "digits and '-' (for example 'llm.example.com')"
        )
    return value


def check_storage_quantity(value: str) -> str:
    if STORAGE_QUANTITY.fullmatch(value):
        if quantity(value) == 0:
            # Kubernetes refuses a claim of nothing (ValidatePersistentVolumeClaimSpec).
            raise ValueError(f"{value!r} is no storage at all: request more than zero")
        return value
    hint = ""
    near = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KMGTPEkmgtpe])i?[Bb]?", re.sub(r"\s", "", value))
    if near:
        hint = f"; did you mean '{near.group(1)}{near.group(2).upper()}i'?"
    raise ValueError(
        f"{value!r} is not a Kubernetes storage quantity such as '10Gi' or '500Mi'{hint}"
    )


def check_resource_quantity(value: str) -> str:
    if not RESOURCE_QUANTITY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity such as '100m', '1', '512Mi' or '2Gi'"
        )
    return value


QUANTITY_FACTORS: dict[str, Fraction] = {
    **{suffix: Fraction(1024**power) for power, suffix in enumerate(BINARY_SUFFIXES, 1)},
    **{suffix: Fraction(1000**power) for power, suffix in enumerate(DECIMAL_SUFFIXES, 1)},
    "": Fraction(1),
    "m": Fraction(1, 10**3),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
}


def quantity(value: str) -> Fraction:
    """The exact amount of a quantity the patterns above accept (`1Gi`, `1000m`)."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", value)
    if match is None or match.group(2) not in QUANTITY_FACTORS:
        raise ValueError(f"{value!r} is not a quantity")
    return Fraction(match.group(1)) * QUANTITY_FACTORS[match.group(2)]


def check_email(value: str) -> str:
    match = EMAIL.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not an email address")
    try:
        check_dns_name(match.group(1).lower())
    except ValueError:
        raise ValueError(f"{value!r} is not an email address") from None
    return value


def check_env_var_name(value: str) -> str:
    if not ENV_VAR_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes object name: use at most 253 lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    return value


def check_image_repository(value: str) -> str:
    # 255: the longest name the reference grammar accepts (NameTotalLengthMax).
    if len(value) > 255 or not IMAGE_REPOSITORY.fullmatch(value):
        raise ValueError(
            f"{short_text(value)} is not an image repository such as "
            "'ghcr.io/theopenco/llmgateway-unified' (lowercase path, no tag)"
        )
    return value


def check_git_branch(value: str) -> str:
    if (
        GIT_REF_REFUSED.search(value)
        or value == "@"
        or value.startswith(("/", "-"))
        or value.endswith(("/", "."))
        # every component, the last one included: none starts with "." or ends with ".lock"
        or any(part.startswith(".") or part.endswith(".lock") for part in value.split("/"))
    ):
        raise ValueError(f"{short_text(value)} is not a git branch name")
    return value


def check_text(value: str) -> str:
    """Free text: printable, without leading or trailing spaces."""
    if not value.isprintable() or value != value.strip():
        raise ValueError(
            f"{short_text(value)} has control characters or leading or trailing spaces"
        )
    return value


def short_text(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# kubernetes-validate's strict schemas, one folder per Kubernetes release
# (kubernetes_validate/kubernetes-json-schema/v1.32.0-local-strict).
SCHEMA_FOLDER = re.compile(r"v([0-9]+)\.([0-9]+)\.[0-9]+-local-strict")


@cache
def schema_versions() -> tuple[str, ...]:
    """Kubernetes versions (`1.32`) the installed kubernetes-validate has schemas for.

    Read from its folder, without importing it (its import is slow and lint's business).
    """
    found = importlib.util.find_spec("kubernetes_validate")
    versions: set[tuple[int, int]] = set()
    for root in (found.submodule_search_locations or []) if found else []:
        folder = Path(root) / "kubernetes-json-schema"
        if folder.is_dir():
            for entry in folder.iterdir():
                match = SCHEMA_FOLDER.fullmatch(entry.name)
                if match:
                    versions.add((int(match.group(1)), int(match.group(2))))
    return tuple(f"{major}.{minor}" for major, minor in sorted(versions))


def check_kubernetes_version(value: str) -> str:
    # kubernetes-validate fails with an IndexError below its oldest schemas and refuses
    # versions above its newest; lint needs the schemas of exactly this version.
    known = schema_versions()
    if value not in known:
        supported = f"from {known[0]} to {known[-1]}" if known else "none are installed"
        raise ValueError(
            f"no Kubernetes API schemas for {value!r} in the installed kubernetes-validate "
            f"(python -m compiler lint needs them): supported versions {supported}"
        )
    return value


def check_postgres_name(value: str) -> str:
    if not POSTGRES_NAME.fullmatch(value):
        raise ValueError(
            f"{short_text(value)} is not a PostgreSQL name: use at most 63 lowercase letters, "
            "digits and '_', starting with a letter or '_'"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(check_dns_label)]
PostgresName = Annotated[str, AfterValidator(check_postgres_name)]
DnsName = Annotated[str, AfterValidator(check_dns_name)]
StorageQuantity = Annotated[str, AfterValidator(check_storage_quantity)]
ResourceQuantity = Annotated[str, AfterValidator(check_resource_quantity)]
Email = Annotated[str, AfterValidator(check_email)]
EnvVarName = Annotated[str, AfterValidator(check_env_var_name)]
DnsSubdomain = Annotated[str, AfterValidator(check_dns_subdomain)]
ImageRepository = Annotated[str, AfterValidator(check_image_repository)]
GitBranch = Annotated[str, AfterValidator(check_git_branch)]
Text = Annotated[str, AfterValidator(check_text)]

# Deployment.spec.replicas is an int32 in the Kubernetes API.
INT32_MAX = 2**31 - 1
# A host name has at most 253 characters (RFC 1123; Ingress host validation).
MAX_HOST_LENGTH = 253
# Hosts of the endpoints: the UI at the domain, the others under these prefixes. The
# last three exist only in the split topology, for the services it enables.
HOST_PREFIXES = {
    "ui": "",
    "api": "api.",
    "gateway": "gateway.",
    "admin": "admin.",
    "playground": "playground.",
    "docs": "docs.",
    "code": "code.",
}
# Endpoints every topology serves; the split topology adds its enabled optional web services.
CORE_ENDPOINTS = ("ui", "api", "gateway", "admin")

AccessMode = Literal["ReadWriteOnce", "ReadWriteMany"]
# The environment variables the two required Secret keys reach the app as.
REQUIRED_SECRET_VARIABLES = (upstream.AUTH_SECRET, upstream.API_KEY_HASH_SECRET)
Endpoint = Literal["ui", "api", "admin", "playground", "docs", "code"]
PROTECTED_ENDPOINTS: tuple[Endpoint, ...] = ("ui", "api", "admin", "playground", "docs", "code")
Topology = Literal["unified", "split"]
# upstream's services, one Deployment each in the split topology (../shared/UPSTREAM.md
# "Split topology"): the first five always, the last three when enabled.
ServiceName = Literal["api", "gateway", "ui", "admin", "worker", "playground", "docs", "code"]
SERVICE_NAMES: tuple[ServiceName, ...] = (
    "api",
    "gateway",
    "ui",
    "admin",
    "worker",
    "playground",
    "docs",
    "code",
)
# Where the data services' passwords live: keys of the auth Secret, made and kept the same
# way (never in git). The apps read REDIS_PASSWORD under this name (packages/cache/src/
# redis.ts:5-9); POSTGRES_PASSWORD is the official postgres image's variable.
POSTGRES_PASSWORD_KEY = upstream.POSTGRES_PASSWORD
REDIS_PASSWORD_KEY = upstream.REDIS_PASSWORD
# A PostgreSQL identifier the compiler writes unquoted (database and owner names).
POSTGRES_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Model(BaseModel):
    """Common configuration: camelCase keys, unknown keys rejected, immutable values."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # Off: pydantic would parse this file's source at every import. The JSON Schema
        # reads the field docstrings itself (compiler/schema.py), when it is generated.
        use_attribute_docstrings=False,
        validate_default=True,
        strict=True,
    )


class Image(Model):
    """The container image of the unified LLM Gateway (one pod runs every service)."""

    repository: ImageRepository = Field(
        default="ghcr.io/theopenco/llmgateway-unified", min_length=1
    )
    """Image repository, without tag."""
    tag: str = Field(default="latest", min_length=1, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    """Image tag. `latest` is pulled on every start (pull policy Always); any other tag
    is pulled once per node (IfNotPresent). Pin a release tag in production. In the split
    topology, the tag of every service that does not set its own `image.tag`."""
    split_repository_prefix: ImageRepository = Field(
        default="ghcr.io/theopenco/llmgateway", min_length=1
    )
    """Split topology: each service's image is `<prefix>-<service>` (upstream's
    `ghcr.io/theopenco/llmgateway-api`, `-gateway`, ...). Change it for a mirror."""


class Issuer(Model):
    """The cert-manager issuer that signs the TLS certificate."""

    kind: Literal["ClusterIssuer", "Issuer"] = "ClusterIssuer"
    """`ClusterIssuer` (cluster-wide) or `Issuer` (in the deployment's namespace)."""
    name: DnsName
    """Name of the issuer, for example `letsencrypt-prod`."""


class Tls(Model):
    """TLS for the four hosts, through a cert-manager Certificate."""

    enabled: bool = True
    """Serve https with a cert-manager certificate; when false, no tls blocks and http URLs."""
    issuer: Issuer | None = None
    """Issuer for the certificate; required when TLS is enabled."""
    secret_name: DnsName = "llmgateway-tls"
    """Secret where cert-manager stores the certificate and key."""


class Ingress(Model):
    """How the gateway is exposed: one Ingress per endpoint, on its own host."""

    class_name: DnsSubdomain = Field(default="nginx", min_length=1)
    """IngressClass to use. The annotations written are those of ingress-nginx."""
    tls: Tls = Tls()
    """TLS settings."""


class Auth(Model):
    """Login in front of the UI, API and admin endpoints (ingress-nginx external auth)."""

    oauth2_proxy_host: DnsName | None = None
    """Host of the oauth2-proxy that protects the ui, api and admin endpoints, for example
    `auth.example.com`. Required unless all three are listed in `publicEndpoints`."""
    public_endpoints: list[Endpoint] = []
    """Endpoints served without oauth2-proxy login (any of `ui`, `api`, `admin`). The
    gateway endpoint is always public: the application checks its API keys itself."""


class SecretStoreRef(Model):
    """The External Secrets Operator store to read from."""

    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    """`SecretStore` (in the deployment's namespace) or `ClusterSecretStore`."""
    name: DnsName
    """Name of the store."""


class ExternalSecrets(Model):
    """Where the External Secrets Operator finds the values."""

    store: SecretStoreRef
    """The SecretStore or ClusterSecretStore."""
    remote_key: Text = Field(min_length=1)
    """Key (path) of the entry in the store; each Secret key is read as a property of it."""
    refresh_interval: str = Field(default="1h", pattern=r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
    """How often the operator refreshes the Secret, for example `1h`."""


class SecretRef(Model):
    """The Secret holding AUTH_SECRET, GATEWAY_API_KEY_HASH_SECRET and other keys; the spec
    names it, never a value."""

    name: DnsLabel = "llmgateway-auth"
    """Name of the Secret in the deployment's namespace."""
    key: EnvVarName = upstream.AUTH_SECRET
    """Key holding AUTH_SECRET, which signs user sessions (at least 32 characters:
    `openssl rand -hex 32`). Required."""
    api_key_hash_key: EnvVarName = upstream.API_KEY_HASH_SECRET
    """Key holding GATEWAY_API_KEY_HASH_SECRET, which the app hashes API keys with; every
    API-key lookup fails without it in production images. Required."""
    extra_keys: list[EnvVarName] = []
    """More keys of the same Secret given to the pod as environment variables of the same
    name, for example provider keys such as `LLM_OPENAI_API_KEY`. Optional."""
    source: Literal["existing", "external-secrets", "generator"] = "existing"
    """How the Secret reaches the cluster. `existing`: made out of band (`python -m
    compiler secret` prints one). `external-secrets`: an ExternalSecret pulls it from a
    store. `generator`: a Kustomize secretGenerator reads the git-ignored
    `overlays/<env>/secret.env`; its hashed name rolls the pods when a value changes."""
    external_secrets: ExternalSecrets | None = None
    """With `source: external-secrets`: the store and the entry to read."""

    @property
    def required_keys(self) -> list[str]:
        """The keys the app cannot run without: AUTH_SECRET's, then the API-key hash's."""
        return [self.key, self.api_key_hash_key]

    @property
    def keys(self) -> list[str]:
        """Every key of the Secret, the required ones first."""
        return [*self.required_keys, *self.extra_keys]


class Storage(Model):
    """The volume holding the embedded PostgreSQL data (unused with an external database)."""

    size: StorageQuantity = "10Gi"
    """Requested size, a Kubernetes quantity such as `10Gi`."""
    class_name: DnsSubdomain | None = Field(default=None, min_length=1)
    """StorageClass of the claim; when unset, the cluster's default class."""
    access_mode: AccessMode | None = None
    """`ReadWriteOnce` or `ReadWriteMany`. When unset: ReadWriteOnce for one replica,
    ReadWriteMany for more."""


class Database(Model):
    """Where PostgreSQL runs (and, in the unified topology, Redis)."""

    mode: Literal["embedded", "external", "postgres", "cloudnative-pg"] = "embedded"
    """`embedded` (unified topology only): the unified image runs PostgreSQL and Redis
    inside each pod, data on the volume. `external`: PostgreSQL runs elsewhere, its URL in
    a Secret. `cloudnative-pg` (split topology): a CloudNativePG Cluster, highly available
    with several instances; the operator must be installed. `postgres` (split topology):
    one PostgreSQL StatefulSet, as upstream's chart, its password in the auth Secret."""
    secret_name: DnsName | None = None
    """With `external`: Secret providing DATABASE_URL (and, in the unified topology,
    REDIS_HOST, REDIS_PORT and REDIS_PASSWORD) to the pods."""
    instances: int | None = Field(default=None, ge=1, le=99)
    """With `cloudnative-pg`: PostgreSQL instances (one primary, the rest replicas), each
    on its own node when possible. Unset: 3 in a `production` environment, else 1."""
    name: PostgresName = "llmgateway"
    """With `cloudnative-pg` or `postgres`: the database the apps use, and its owner."""
    acknowledge_shared_data_directory: bool = False
    """With `embedded` and more than one replica, every pod starts its own PostgreSQL on
    the same data directory and its own Redis: the image's start script removes the
    running server's lock file and starts a second server on the same files, fresh
    volumes get concurrent initdb runs, and caches, rate limits and queues diverge between
    pods. Set true only to accept that knowingly; the safe choice is `topology: split`
    with `mode: cloudnative-pg`."""
    postgres_user_id: int = Field(default=100, ge=0, le=2147483647)
    """User id of PostgreSQL in the image, owner of the data volume (the init container
    chowns it). The Terraform module's value; it depends on the image."""
    postgres_group_id: int = Field(default=102, ge=0, le=2147483647)
    """Group id of PostgreSQL in the image: group of the data volume and the pod's fsGroup.
    The Terraform module's value; it depends on the image."""


class ResourceAmounts(Model):
    """CPU and memory amounts."""

    cpu: ResourceQuantity
    """CPU, for example `100m` or `1`."""
    memory: ResourceQuantity
    """Memory, for example `512Mi` or `2Gi`."""


class Resources(Model):
    """Container resource requests and limits (the module's values by default)."""

    requests: ResourceAmounts = ResourceAmounts(cpu="100m", memory="512Mi")
    """What the scheduler reserves for the pod."""
    limits: ResourceAmounts = ResourceAmounts(cpu="1000m", memory="2Gi")
    """The most the pod may use."""


class ServiceResources(Resources):
    """Requests and limits of one split service (upstream's chart values by default)."""

    requests: ResourceAmounts = ResourceAmounts(cpu="100m", memory="128Mi")
    """What the scheduler reserves for each pod."""
    limits: ResourceAmounts = ResourceAmounts(cpu="200m", memory="256Mi")
    """The most each pod may use."""


class DocsResources(ServiceResources):
    """Requests and limits of the docs service (upstream's chart values by default)."""

    requests: ResourceAmounts = ResourceAmounts(cpu="50m", memory="64Mi")
    """What the scheduler reserves for each pod."""
    limits: ResourceAmounts = ResourceAmounts(cpu="100m", memory="128Mi")
    """The most each pod may use."""


class ServiceImage(Model):
    """The image tag of one split service."""

    tag: str | None = Field(
        default=None, min_length=1, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
    )
    """Tag of this service's image; unset: `image.tag`."""


class Autoscaling(Model):
    """A HorizontalPodAutoscaler (autoscaling/v2) scaling a service on CPU."""

    min_replicas: int = Field(default=2, ge=1, le=INT32_MAX)
    """Fewest pods."""
    max_replicas: int = Field(ge=1, le=INT32_MAX)
    """Most pods."""
    target_cpu_utilization_percentage: int = Field(default=80, ge=1, le=1000)
    """Average CPU use, in percent of the pods' CPU requests, the autoscaler aims at."""


class Service(Model):
    """One service of the split topology: its own Deployment."""

    enabled: bool = True
    """Deploy this service."""
    replicas: int = Field(default=1, ge=1, le=INT32_MAX)
    """Number of pods; with `autoscaling`, the HorizontalPodAutoscaler decides instead."""
    resources: ServiceResources = ServiceResources()
    """Requests and limits of each pod (upstream's chart values by default)."""
    image: ServiceImage = ServiceImage()
    """Image tag override."""
    autoscaling: Autoscaling | None = None
    """Scale on CPU between min and max replicas; unset: a fixed `replicas`."""


class DocsService(Service):
    """The docs service: smaller requests and limits in upstream's chart."""

    resources: DocsResources = DocsResources()
    """Requests and limits of each pod (upstream's chart values by default)."""


class Services(Model):
    """The split topology's services. api, gateway, ui, admin and worker run by default;
    playground, docs and code run when listed (`docs: {}`)."""

    api: Service = Service()
    """The API behind the UI (upstream `apps/api`); runs the database migrations."""
    gateway: Service = Service()
    """The OpenAI-compatible gateway (upstream `apps/gateway`)."""
    ui: Service = Service()
    """The web UI (upstream `apps/ui`)."""
    admin: Service = Service()
    """The admin dashboard (upstream `ee/admin`)."""
    worker: Service = Service()
    """Background jobs: no port, no Service (upstream `apps/worker`)."""
    playground: Service = Service(enabled=False)
    """The chat playground (upstream `apps/playground`); off unless listed."""
    docs: DocsService = DocsService(enabled=False)
    """The documentation site (upstream `apps/docs`); off unless listed."""
    code: Service = Service(enabled=False)
    """The coding app (upstream `apps/code`); off unless listed."""

    def get(self, name: ServiceName) -> Service:
        service: Service = getattr(self, name)
        return service

    def enabled(self) -> list[tuple[ServiceName, Service]]:
        """Enabled services in upstream's order."""
        return [(name, self.get(name)) for name in SERVICE_NAMES if self.get(name).enabled]


class Redis(Model):
    """Redis of the split topology (the unified topology runs it in the pod, or reads it
    from the external database Secret)."""

    mode: Literal["in-cluster", "external"] = "in-cluster"
    """`in-cluster`: a Redis StatefulSet with append-only persistence, its password the
    auth Secret's REDIS_PASSWORD key. `external`: a Secret provides REDIS_HOST, REDIS_PORT
    and REDIS_PASSWORD."""
    secret_name: DnsName | None = None
    """With `external`: the Secret providing REDIS_HOST, REDIS_PORT and REDIS_PASSWORD."""
    size: StorageQuantity = "2Gi"
    """With `in-cluster`: size of its ReadWriteOnce claim (upstream's chart: 2Gi), of
    class `storage.className`."""


class NetworkPolicy(Model):
    """A NetworkPolicy letting only the ingress controller reach the pods."""

    enabled: bool = True
    """Generate the NetworkPolicy (every environment by default: the unified image runs
    Redis without a password). false is possible and reported by lint (LLMGW011)."""
    ingress_controller_namespace: DnsLabel = "ingress-nginx"
    """Namespace of the ingress controller, the only source allowed in (matched by its
    `kubernetes.io/metadata.name` label)."""
    cnpg_operator_namespace: DnsLabel = "cnpg-system"
    """With `database.mode: cloudnative-pg`: namespace of the CloudNativePG operator, which
    must reach the instances on 8000 and 5432 (its release manifest installs it in
    `cnpg-system`; a Helm release installs it in the release's namespace)."""
    restrict_egress: bool = False
    """Limit traffic out to DNS, HTTPS (the LLM providers) and, with an external
    database, PostgreSQL and Redis. Off by default: the gateway must reach its providers."""


class Monitoring(Model):
    """Metrics of the gateway, scraped inside the cluster (never through an Ingress)."""

    service_monitor: bool = False
    """Emit a Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1) scraping the
    gateway's `/metrics` on the Service's gateway port."""
    prometheus_namespace: DnsLabel = "monitoring"
    """Namespace of Prometheus: with serviceMonitor, the NetworkPolicy lets it reach the
    gateway port."""
    interval: str = Field(default="30s", pattern=r"^([0-9]+(ms|s|m|h))+$")
    """How often Prometheus scrapes, for example `30s`."""


class Shutdown(Model):
    """How a pod stops: the gateway finishes in-flight (streamed) requests first."""

    termination_grace_period_seconds: int = Field(default=120, ge=1, le=86400)
    """Seconds Kubernetes waits after SIGTERM before killing the pod (upstream's chart: 120)."""
    drain_seconds: int | None = Field(default=None, ge=0, le=86400)
    """Seconds the gateway lets in-flight requests finish (SHUTDOWN_GRACE_PERIOD_MS); must be
    below terminationGracePeriodSeconds. Unset: 15 s below it (at least half of it), time
    left for the other processes of the pod to stop."""

    @property
    def drain(self) -> int:
        """The drain in force, in seconds."""
        if self.drain_seconds is not None:
            return self.drain_seconds
        grace = self.termination_grace_period_seconds
        return max(grace - 15, grace // 2)


class ArgoCd(Model):
    """Where the Argo CD Application lives."""

    namespace: DnsLabel = "argocd"
    """Namespace Argo CD watches for Applications."""
    project: DnsSubdomain = Field(default="default", min_length=1)
    """Argo CD project of the Application."""


class Flux(Model):
    """Where the Flux GitRepository and Kustomization live."""

    namespace: DnsLabel = "flux-system"
    """Namespace of the Flux objects."""
    interval: str = Field(default="5m", pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
    """How often Flux fetches the repository and applies the overlay."""


class GitOps(Model):
    """A GitOps controller that applies overlays/<env> from this repository, with pruning."""

    tool: Literal["argocd", "flux"] = "argocd"
    """`argocd` (an Application) or `flux` (a GitRepository and a Kustomization)."""
    repo_url: str = Field(alias="repoURL", pattern=r"^(https://|ssh://|git@)[^\s\x00-\x1f\x7f]+$")
    """URL of this repository, for example `https://github.com/example/llmgateway-deploy`."""
    revision: GitBranch = Field(default="main", min_length=1)
    """Branch the controller follows."""
    argocd: ArgoCd = ArgoCd()
    """Argo CD settings (tool: argocd)."""
    flux: Flux = Flux()
    """Flux settings (tool: flux)."""


class Settings(Model):
    """Everything that describes one deployment; `defaults` is one, complete."""

    namespace: DnsLabel = "llmgateway"
    """Namespace holding every resource; created by the deployment."""
    production: bool = False
    """Marks a production environment: stricter checks (a pinned image tag, for one)."""
    domain: DnsName
    """UI host; the API, gateway and admin hosts are `api.`, `gateway.` and `admin.`
    prefixed to it."""
    topology: Topology = "unified"
    """`unified`: one Deployment of the all-in-one image (the Terraform module's
    deployment; for a trial or one low-traffic instance). `split`: upstream's services as
    one Deployment each (`services`), with PostgreSQL and Redis as their own data services
    (`database`, `redis`): the production layout."""
    image: Image = Image()
    """The container image."""
    replicas: int = Field(default=1, ge=1, le=INT32_MAX)
    """Unified topology: number of pods. More than one needs ReadWriteMany storage and the
    acknowledgement of database.acknowledgeSharedDataDirectory (or an external database).
    The split topology sets replicas per service."""
    services: Services = Services()
    """Split topology: replicas, resources, image tag and autoscaling of each service."""
    ingress: Ingress = Ingress()
    """Ingress class and TLS."""
    auth: Auth = Auth()
    """oauth2-proxy protection of the endpoints."""
    auth_secret: SecretRef = SecretRef()
    """The Secret holding AUTH_SECRET (signs user sessions) and GATEWAY_API_KEY_HASH_SECRET
    (hashes API keys), both required, and optional extra keys."""
    admin_emails: list[Email] = []
    """Users (by email) allowed into the admin dashboard, after they sign up in the UI."""
    storage: Storage = Storage()
    """The data volume of the embedded database."""
    database: Database = Database()
    """Where PostgreSQL runs: embedded, external, cloudnative-pg or postgres."""
    redis: Redis = Redis()
    """Split topology: Redis in the cluster or external."""
    resources: Resources = Resources()
    """Unified topology: the container's resource requests and limits."""
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    """Type of the Service. ClusterIP keeps the pods behind the Ingresses; NodePort and
    LoadBalancer expose them directly and must be asked for here."""
    network_policy: NetworkPolicy = NetworkPolicy()
    """Which traffic may reach the pods."""
    telemetry: bool = False
    """Let the app send its anonymous installation beacon upstream. false (default) sets
    TELEMETRY_ACTIVE=false; true keeps the image's default, which sends it."""
    monitoring: Monitoring = Monitoring()
    """Prometheus scraping of the gateway's metrics."""
    shutdown: Shutdown = Shutdown()
    """Graceful shutdown: the pod's grace period and the gateway's drain."""
    gitops: GitOps | None = None
    """Generate gitops/<env>.yaml for Argo CD or Flux; unset: none."""
    kubernetes_version: Annotated[str, AfterValidator(check_kubernetes_version)] = Field(
        default="1.32", pattern=r"^1\.[0-9]{2}$"
    )
    """Kubernetes version whose API schemas the rendered manifests are validated against
    (`python -m compiler lint`), for example `1.32`."""

    @property
    def network_policy_enabled(self) -> bool:
        return self.network_policy.enabled

    @property
    def access_mode(self) -> AccessMode:
        """The access mode in force: the explicit one, else derived from replicas."""
        if self.storage.access_mode is not None:
            return self.storage.access_mode
        return "ReadWriteOnce" if self.replicas == 1 else "ReadWriteMany"

    @property
    def scheme(self) -> str:
        return "https" if self.ingress.tls.enabled else "http"

    @property
    def split(self) -> bool:
        return self.topology == "split"

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Endpoints served on a host: ui, api, gateway, admin, and in the split topology
        the enabled playground, docs and code."""
        optional: tuple[ServiceName, ...] = ("playground", "docs", "code")
        extra = tuple(n for n in optional if self.split and self.services.get(n).enabled)
        return (*CORE_ENDPOINTS, *extra)

    @property
    def hosts(self) -> dict[str, str]:
        """Host of each endpoint: the UI at the domain, the others under a prefix."""
        return {name: f"{HOST_PREFIXES[name]}{self.domain}" for name in self.endpoints}

    @property
    def database_instances(self) -> int:
        """CloudNativePG instances in force: the explicit count, else 3 in production."""
        if self.database.instances is not None:
            return self.database.instances
        return 3 if self.production else 1

    @property
    def data_password_keys(self) -> list[str]:
        """Auth Secret keys holding the in-cluster data services' passwords."""
        keys = []
        if self.split and self.database.mode == "postgres":
            keys.append(POSTGRES_PASSWORD_KEY)
        if self.split and self.redis.mode == "in-cluster":
            keys.append(REDIS_PASSWORD_KEY)
        return keys

    @property
    def required_secret_keys(self) -> list[str]:
        """Auth Secret keys the deployment cannot run without."""
        return [*self.auth_secret.required_keys, *self.data_password_keys]

    @property
    def secret_keys(self) -> list[str]:
        """Every key of the auth Secret, the required ones first."""
        return [*self.required_secret_keys, *self.auth_secret.extra_keys]


class EnvironmentSettings(Settings):
    """One environment: the defaults merged with its overrides, field by field."""

    enabled: bool = True
    """Whether this environment is compiled; a disabled environment has no overlay."""


class SpecFile(Model):
    """The whole spec file."""

    defaults: Settings
    """Values every environment shares; itself a complete deployment (compiled to base/)."""
    environments: dict[str, EnvironmentSettings]
    """Environments by name (a DNS label); each may override any field of `defaults`."""


@dataclass(frozen=True)
class Spec:
    """A loaded, valid spec: the defaults and every environment, merged."""

    path: str
    defaults: Settings
    environments: dict[str, EnvironmentSettings]
    warnings: tuple[Problem, ...] = ()
    source: bytes = b""  # the spec's bytes, for the freshness fingerprint

    def enabled(self) -> Iterator[tuple[str, EnvironmentSettings]]:
        """Enabled environments in the order the spec lists them."""
        for name, env in self.environments.items():
            if env.enabled:
                yield name, env


@dataclass(frozen=True)
class RuleViolation:
    """A cross-field rule broken by one merged environment, located by a field path."""

    path: tuple[str | int, ...]
    message: str
    warning: bool = False


def shared_data_directory_message(replicas: int) -> str:
    """Why several unified pods on one volume break, in the image's own terms."""
    return (
        f"{replicas} replicas of the unified image each start their own PostgreSQL on the "
        "one data directory: the image's start script removes postmaster.pid whenever its "
        "own server does not answer (always, in a new pod), so it deletes the running "
        "server's lock and starts a second server on the same files, and on a fresh volume "
        "every pod runs initdb at once; each pod also runs its own Redis, so caches, rate "
        "limits and queues diverge between pods. Use topology: split with database.mode: "
        "cloudnative-pg, or replicas: 1; only to accept the corruption risk knowingly, set "
        "database.acknowledgeSharedDataDirectory: true"
    )


def check_rules(settings: Settings) -> list[RuleViolation]:
    """Cross-field rules of one merged environment (or of the defaults)."""
    found: list[RuleViolation] = []
    embedded = settings.database.mode == "embedded"
    if settings.ingress.tls.enabled and settings.ingress.tls.issuer is None:
        found.append(
            RuleViolation(
                ("ingress", "tls", "issuer"),
                "TLS is enabled but no issuer is set: add ingress.tls.issuer "
                "(kind and name of a cert-manager issuer) or set ingress.tls.enabled: false",
            )
        )
    if embedded and settings.replicas > 1 and settings.storage.access_mode == "ReadWriteOnce":
        found.append(
            RuleViolation(
                ("storage", "accessMode"),
                f"ReadWriteOnce storage cannot serve {settings.replicas} replicas: pods on "
                "other nodes cannot mount it; use ReadWriteMany (or leave accessMode unset) "
                "or set replicas: 1",
            )
        )
    if (
        embedded
        and settings.replicas > 1
        and not settings.database.acknowledge_shared_data_directory
    ):
        found.append(RuleViolation(("replicas",), shared_data_directory_message(settings.replicas)))
    if embedded and settings.split:
        found.append(
            RuleViolation(
                ("database", "mode"),
                "the embedded database runs inside the unified image, which the split "
                "topology does not use: choose database.mode: cloudnative-pg (highly "
                "available, needs the CloudNativePG operator), postgres (one StatefulSet) or "
                "external (with database.secretName)",
            )
        )
    if settings.database.mode in ("postgres", "cloudnative-pg") and not settings.split:
        found.append(
            RuleViolation(
                ("database", "mode"),
                f"database.mode: {settings.database.mode} needs topology: split; the "
                "unified image always starts its own PostgreSQL and Redis (use mode: "
                "embedded or external with the unified topology)",
            )
        )
    if settings.split and settings.storage.access_mode == "ReadWriteMany":
        found.append(
            RuleViolation(
                ("storage", "accessMode"),
                "the split topology gives each PostgreSQL instance its own ReadWriteOnce "
                "claim (no app pod mounts a volume): remove storage.accessMode or set "
                "ReadWriteOnce",
            )
        )
    if settings.split and settings.redis.mode == "external" and settings.redis.secret_name is None:
        found.append(
            RuleViolation(
                ("redis", "secretName"),
                "an external Redis needs redis.secretName: the Secret providing REDIS_HOST, "
                "REDIS_PORT and REDIS_PASSWORD",
            )
        )
    for name in SERVICE_NAMES:
        scaling = settings.services.get(name).autoscaling
        if scaling is not None and scaling.min_replicas > scaling.max_replicas:
            found.append(
                RuleViolation(
                    ("services", name, "autoscaling", "minReplicas"),
                    f"minReplicas {scaling.min_replicas} is more than maxReplicas "
                    f"{scaling.max_replicas}, which Kubernetes refuses",
                )
            )
    if settings.database.mode == "external" and settings.database.secret_name is None:
        found.append(
            RuleViolation(
                ("database", "secretName"),
                "an external database needs database.secretName: the Secret providing "
                "DATABASE_URL, REDIS_HOST, REDIS_PORT and REDIS_PASSWORD",
            )
        )
    secret = settings.auth_secret
    if secret.source == "external-secrets" and secret.external_secrets is None:
        found.append(
            RuleViolation(
                ("authSecret", "externalSecrets"),
                "source external-secrets needs authSecret.externalSecrets: the store "
                "(kind and name) and the remoteKey to read",
            )
        )
    keys = settings.secret_keys
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        required = [k for k in duplicated if k in settings.required_secret_keys]
        hint = (
            f"; {', '.join(required)} is a required key already (authSecret.key, "
            "authSecret.apiKeyHashKey, or a data service's password): remove it from extraKeys"
            if required
            else ""
        )
        found.append(
            RuleViolation(
                ("authSecret", "extraKeys"),
                f"key {', '.join(duplicated)} is listed twice; each Secret key becomes one "
                f"environment variable{hint}",
            )
        )
    # The required keys reach the pod as AUTH_SECRET and GATEWAY_API_KEY_HASH_SECRET
    # whatever their key names; an extra key of the same name would set it twice.
    shadowing = sorted(set(secret.extra_keys) & set(REQUIRED_SECRET_VARIABLES))
    shadowing = [k for k in shadowing if k not in secret.required_keys]
    if shadowing:
        found.append(
            RuleViolation(
                ("authSecret", "extraKeys"),
                f"extra key {', '.join(shadowing)} would set the same environment variable as "
                "a required key; remove it from extraKeys (or name the required key so with "
                "authSecret.key / authSecret.apiKeyHashKey)",
            )
        )
    drain = settings.shutdown.drain
    grace = settings.shutdown.termination_grace_period_seconds
    if drain >= grace:
        found.append(
            RuleViolation(
                ("shutdown", "drainSeconds"),
                f"the gateway's drain ({drain} s) must be below the pod's grace period "
                f"({grace} s), or Kubernetes kills the pod mid-drain; lower "
                "shutdown.drainSeconds or raise shutdown.terminationGracePeriodSeconds",
            )
        )
    for kind in ("cpu", "memory"):
        request = getattr(settings.resources.requests, kind)
        limit = getattr(settings.resources.limits, kind)
        if quantity(request) > quantity(limit):
            found.append(
                RuleViolation(
                    ("resources", "requests", kind),
                    f"the {kind} request {request} is more than its limit {limit}, which "
                    f"Kubernetes refuses: lower it or raise resources.limits.{kind}",
                )
            )
    longest = max(settings.hosts.items(), key=lambda item: len(item[1]))
    if len(longest[1]) > MAX_HOST_LENGTH:
        prefix = HOST_PREFIXES[longest[0]]
        found.append(
            RuleViolation(
                ("domain",),
                f"the {longest[0]} host '{prefix}<domain>' is {len(longest[1])} characters, "
                f"more than the {MAX_HOST_LENGTH} of a host name: use a domain of at most "
                f"{MAX_HOST_LENGTH - len(prefix)} characters",
            )
        )
    protected = [
        e
        for e in PROTECTED_ENDPOINTS
        if e in settings.endpoints and e not in settings.auth.public_endpoints
    ]
    if protected and settings.auth.oauth2_proxy_host is None:
        names = ", ".join(protected)
        found.append(
            RuleViolation(
                ("auth", "oauth2ProxyHost"),
                f"no oauth2-proxy host to protect the {names} endpoint"
                f"{'s' if len(protected) > 1 else ''}: set auth.oauth2ProxyHost, or list "
                "the endpoints to serve without login under auth.publicEndpoints",
            )
        )
    if settings.production and settings.image.tag == "latest":
        found.append(
            RuleViolation(
                ("image", "tag"),
                "production runs the moving tag 'latest': pods may start different "
                "versions; pin a release, for example image.tag: v1.2.3 "
                "(see the image's releases)",
                warning=True,
            )
        )
    return found
