"""What the LLM Gateway images expect, one fact per name, with where upstream says so.

Lowering, lint and the tests read these; a value taken from upstream lives here only.
References are `repository@commit:path:line` (see ../shared/UPSTREAM.md; the baseline is
YeiSimon/llmgateway@2e07831d, upstream main as of 2026-06-15).
"""

from __future__ import annotations

from dataclasses import dataclass

BASELINE = "YeiSimon/llmgateway@2e07831d"

# Throws on every API-key lookup when unset and NODE_ENV=production, which the images set
# (packages/shared/src/api-key-hash.ts:3,12-25; infra/unified.dockerfile:127).
API_KEY_HASH_SECRET = "GATEWAY_API_KEY_HASH_SECRET"
AUTH_SECRET = "AUTH_SECRET"

# The unified image's ports (infra/unified.dockerfile:124; infra/supervisord.conf).
UI_PORT = 3002
API_PORT = 4002
GATEWAY_PORT = 4001
DOCS_PORT = 3005
ADMIN_PORT = 3006

# URLs the apps build links and calls from, and what they fall back to when unset:
# localhost in the UI (apps/ui/src/lib/config-server.ts:23-33), the hosted service in
# production for the gateway (packages/shared/src/gateway-url.ts:6-14,
# apps/api/src/routes/skills.ts:434-437). Each is set from the spec's hosts.
UI_URL = "UI_URL"
APP_URL = "APP_URL"
API_URL = "API_URL"
GATEWAY_URL = "GATEWAY_URL"
ADMIN_URL = "ADMIN_URL"
# URL variables of services the unified deployment does not expose (playground 3003,
# code 3004, docs 3005): left unset, since no host of the deployment serves them.
UNEXPOSED_URLS = ("PLAYGROUND_URL", "CODE_URL", "DOCS_URL")
# Variables whose values users' browsers are sent to (or cookies are scoped to).
USER_FACING_URLS = (UI_URL, APP_URL, API_URL, GATEWAY_URL, ADMIN_URL, *UNEXPOSED_URLS)
# The hosted service's domain: a self-hosted deployment must not send users there.
HOSTED_DOMAIN = "llmgateway.io"

# The install beacon is sent only when TELEMETRY_ACTIVE is "true"
# (apps/api/src/lib/beacon.ts:68), which the image sets (infra/unified.dockerfile:134).
TELEMETRY_ACTIVE = "TELEMETRY_ACTIVE"

# The gateway serves Prometheus metrics on its main port (apps/gateway/src/app.ts:306-330).
METRICS_PATH = "/metrics"

# The gateway force-closes connections this long after SIGTERM; it must stay at or below
# the pod's grace period (apps/gateway/src/serve.ts:50-53). The chart's grace period is
# 120 s (infra/helm/llmgateway/templates/gateway-deployment.yaml:78).
SHUTDOWN_GRACE_PERIOD_MS = "SHUTDOWN_GRACE_PERIOD_MS"
DEFAULT_GRACE_PERIOD_SECONDS = 120

# The gateway's health check waits up to 15 s for its dependencies
# (apps/gateway/src/app.ts:286-288); the chart's liveness timeout is 15 s to match
# (infra/helm/llmgateway/templates/gateway-deployment.yaml:74).
GATEWAY_LIVENESS_TIMEOUT_SECONDS = 15

# Where the unified image's PostgreSQL keeps its data (infra/unified.dockerfile:127-135;
# ../shared/UPSTREAM.md "Unified image"): the variable and the directory it names.
PGDATA = "PGDATA"
PGDATA_PATH = "/var/lib/postgresql/data"

# The data stores' ports: PostgreSQL 5432 and Redis 6379 (infra/unified.dockerfile:124;
# infra/helm/llmgateway/templates/postgresql-statefulset.yaml, redis-statefulset.yaml).
POSTGRES_PORT = 5432
REDIS_PORT = 6379
# What an external database Secret provides, read by every service that talks to the
# stores (infra/helm/llmgateway/templates/secret.yaml:16-29, configmap.yaml:8-14).
EXTERNAL_DATABASE_KEYS = ("DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")
# The same variables one by one: the apps read exactly these, never REDIS_URL
# (packages/cache/src/redis.ts:5-9; packages/db/src/db.ts:11-13).
DATABASE_URL = "DATABASE_URL"
REDIS_HOST = "REDIS_HOST"
REDIS_PORT_VARIABLE = "REDIS_PORT"
REDIS_PASSWORD = "REDIS_PASSWORD"
# The PostgreSQL StatefulSet's password: the official image's variable, the key of the
# chart's Secret (infra/helm/llmgateway/templates/secret.yaml:16-20,
# postgresql-statefulset.yaml).
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
# The key of CloudNativePG's `<cluster>-app` Secret holding the application's URI
# (cloudnative-pg@4b5e244a pkg/specs/secrets.go:44-95).
CNPG_APP_SECRET_SUFFIX = "-app"
CNPG_URI_KEY = "uri"

# The split topology's in-cluster data services, as upstream's chart runs them
# (infra/helm/llmgateway/templates/postgresql-statefulset.yaml:1-79 and
# redis-statefulset.yaml:1-81; values.yaml for the resources; ../shared/UPSTREAM.md
# "Built-in data stores"). Probe timings are (initialDelay, period, timeout) seconds;
# their resources and users are in compiler/lower/data.py.
POSTGRES_IMAGE = "postgres:17-alpine"
POSTGRES_DATA_MOUNT = "/var/lib/postgresql/data"
# A directory below the mount: initdb refuses a non-empty directory (lost+found).
POSTGRES_PGDATA = "/var/lib/postgresql/data/pgdata"
POSTGRES_READINESS = (5, 10, 5)
POSTGRES_LIVENESS = (30, 30, 5)
REDIS_IMAGE = "redis:8-alpine"
REDIS_DATA_MOUNT = "/data"
REDIS_READINESS = (5, 10, 5)
REDIS_LIVENESS = (15, 30, 5)
# redis-cli reads its password from this variable (since Redis 5.0.3), so the probe
# needs no `$(VAR)`, which Kubernetes never expands in an exec probe for a secret-sourced
# variable (kubernetes/kubernetes#40846, ../notes h13-research §6).
REDISCLI_AUTH = "REDISCLI_AUTH"

# CloudNativePG 1.30.0 (cloudnative-pg/cloudnative-pg@4b5e244a). Its default operand is
# PostgreSQL 18 (pkg/versions/versions.go:29); the unified image and upstream's chart run
# 17, so the Cluster pins the 17 image its docs list (docs/src/image_catalog.md:109-110).
CNPG_VERSION = "1.30.0"
CNPG_POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6-system-trixie"
# The documented install (docs/src/installation_upgrade.md:17-29).
CNPG_INSTALL = (
    "kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/"
    "cloudnative-pg/release-1.30/releases/cnpg-1.30.0.yaml"
)

# Server-side base URL of the api inside the pod or cluster, never shown to a user
# (infra/helm/llmgateway/templates/configmap.yaml:8-14).
API_BACKEND_URL = "API_BACKEND_URL"
# Cookie and passkey scope and the CORS origins (configmap.yaml:40-56).
ORIGIN_URLS = "ORIGIN_URLS"
COOKIE_DOMAIN = "COOKIE_DOMAIN"
PASSKEY_RP_ID = "PASSKEY_RP_ID"
# Self-hosted switches: not the hosted service, no billing (configmap.yaml:40-56).
HOSTED = "HOSTED"
PAID_MODE = "PAID_MODE"
ADMIN_EMAILS = "ADMIN_EMAILS"

# Every split image listens on PORT, which its Dockerfile and upstream's chart set to 80
# (infra/split.dockerfile:169-170 and the other services' EXPOSE/ENV lines;
# infra/helm/llmgateway/templates/configmap.yaml:9).
SPLIT_PORT = 80
# The gateway's health check on its main port: `/` checks its dependencies, and
# `?skip=redis,database` skips them (apps/gateway/src/app.ts:279-288).
HEALTH_PATH = "/"
LIVENESS_PATH = "/?skip=redis,database"

USER_FACING_LISTS = (ORIGIN_URLS,)
USER_FACING_HOSTS = (COOKIE_DOMAIN, PASSKEY_RP_ID)

# The split topology (../shared/UPSTREAM.md section 1; infra/split.dockerfile:134-286 and
# infra/helm/llmgateway/templates/*-deployment.yaml at the baseline).
# Every split image listens on PORT, which its Dockerfile and upstream's chart set to 80
# (infra/split.dockerfile:169-170 and the other services' EXPOSE/ENV lines;
# infra/helm/llmgateway/templates/configmap.yaml:9); the chart's Services serve port 80.
PORT = "PORT"
SPLIT_PORT = 80
NODE_ENV = "NODE_ENV"
NODE_ENV_PRODUCTION = "production"  # configmap.yaml:8; split.dockerfile:171
# How the images start their app (the CMD of each, split.dockerfile:173,188,205,235).
NODE_COMMAND = ("node", "--enable-source-maps")
# DATABASE_URL and REDIS_* users: the chart makes exactly these wait for PostgreSQL and
# Redis (infra/helm/llmgateway/templates/{api,gateway,worker}-deployment.yaml initContainers).
DATA_CLIENTS = ("api", "gateway", "worker")
# The docs Deployment gets the ConfigMap only, no Secret (docs-deployment.yaml:29-31).
WITHOUT_SECRETS = ("docs",)
# URL variables of the optional web services (configmap.yaml:26-34).
PLAYGROUND_URL = "PLAYGROUND_URL"
DOCS_URL = "DOCS_URL"
CODE_URL = "CODE_URL"
# The api runs the drizzle migrations at start when this is "true" (apps/api/src/
# serve.ts:41-52); the chart sets it true on every api pod (configmap.yaml:87).
RUN_MIGRATIONS = "RUN_MIGRATIONS"
# The gateway's timeouts as the chart sets them (values.yaml:127-133, configmap.yaml:59-84),
# the same as the gateway's built-in defaults (apps/gateway/src/lib/timeout-config.ts:22-59,
# apps/gateway/src/app.ts:288), and the api health check's (values.yaml:100; apps/api/src/
# index.ts TIMEOUT_MS). KEEP_ALIVE_TIMEOUT_S is left out: the chart writes it twice into
# one ConfigMap (60 for the api, 620 for the gateway; configmap.yaml:69-71,89-91), and each
# app's own default is the value meant for it (apps/api/src/serve.ts:23,
# apps/gateway/src/serve.ts:22).
TIMEOUTS = (
    ("GATEWAY_TIMEOUT_MS", "1500000"),
    ("AI_STREAMING_TIMEOUT_MS", "1200000"),
    ("AI_TIMEOUT_MS", "600000"),
    ("HEALTH_CHECK_TIMEOUT_MS", "15000"),
    ("TIMEOUT_MS", "5000"),
)
# The api image: its files, the migrations folder runMigrations() reads relative to the
# working directory, and `@llmgateway/db` in node_modules (split.dockerfile:163-173;
# packages/db/src/migrate.ts:10-34). The package exports runMigrations() and the shared
# pg `pool` (packages/db/src/index.ts:3,12; packages/db/src/db.ts:11).
API_WORKDIR = "/app"
DB_PACKAGE = "@llmgateway/db"
# The Next.js apps' health route (apps/ui/src/app/api/health/route.ts and the same file in
# playground, docs, ee/admin); apps/code has none at the baseline (h13-research section 2).
NEXT_HEALTH_PATH = "/api/health"


@dataclass(frozen=True)
class Probes:
    """One split service's probes as upstream's chart writes them: the readiness and
    liveness paths (None: the app has no health route, probe the port) and each probe's
    (initialDelaySeconds, periodSeconds, timeoutSeconds)."""

    readiness_path: str | None
    liveness_path: str | None
    readiness: tuple[int, int, int]
    liveness: tuple[int, int, int]


# Web services and their probes; the worker serves no port and has none
# (worker-deployment.yaml:43-56). api: api-deployment.yaml:60-75. gateway:
# gateway-deployment.yaml:60-75 (liveness timeout 15, the health check's own wait), its
# liveness skipping the dependencies as the unified pod's (apps/gateway/src/app.ts:279-288).
# ui, admin, playground, docs, code: ui-deployment.yaml:39-52 and the same lines of
# admin-, playground-, docs- and code-deployment.yaml (failureThreshold unset: 3).
WEB_SERVICES: dict[str, Probes] = {
    "api": Probes(HEALTH_PATH, HEALTH_PATH, (10, 10, 5), (30, 30, 10)),
    "gateway": Probes(
        HEALTH_PATH, LIVENESS_PATH, (10, 10, 5), (30, 30, GATEWAY_LIVENESS_TIMEOUT_SECONDS)
    ),
    "ui": Probes(NEXT_HEALTH_PATH, NEXT_HEALTH_PATH, (10, 10, 5), (20, 30, 5)),
    "admin": Probes(NEXT_HEALTH_PATH, NEXT_HEALTH_PATH, (10, 10, 5), (20, 30, 5)),
    "playground": Probes(NEXT_HEALTH_PATH, NEXT_HEALTH_PATH, (10, 10, 5), (20, 30, 5)),
    "docs": Probes(NEXT_HEALTH_PATH, NEXT_HEALTH_PATH, (10, 10, 5), (20, 30, 5)),
    "code": Probes(None, None, (10, 10, 5), (20, 30, 5)),
}

# The unified image's embedded PostgreSQL: its apps reach it with this URL (database
# llmgateway as the superuser postgres; the start script's initdb trusts loopback
# connections, so the password plays no part), and PostgreSQL 17's client programs live
# under this directory (infra/unified.dockerfile:127-131; infra/start.sh:18,76-78;
# infra/supervisord.conf:8).
UNIFIED_DATABASE_URL = "postgres://postgres:llmgateway@localhost:5432/llmgateway"
UNIFIED_POSTGRES_BIN = "/usr/lib/postgresql/17/bin"
