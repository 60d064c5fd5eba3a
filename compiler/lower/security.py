"""Security contexts of the workloads, and the policy findings they deliberately keep.

checkov (`nox -s policy`) runs over every rendered environment; each skipped check is
written on the workload with the reason a reviewer can judge.
"""

from __future__ import annotations

from typing import Any


def pod_security_context(fs_group: int) -> dict[str, Any]:
    """Pods share the volume's group and the runtime's default seccomp profile."""
    return {
        "fsGroup": fs_group,
        # The kubelet re-chowns the volume only when its root's group is wrong, not at
        # every mount.
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def root_image_container_context() -> dict[str, Any]:
    """An image that starts as root and drops privileges itself: no escalation, no NET_RAW.

    Which capabilities it needs is not verified, so only NET_RAW is dropped.
    """
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["NET_RAW"]},
    }


def chown_container_context() -> dict[str, Any]:
    """Root only to chown a volume, with just the capabilities chown and chmod need."""
    return {
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]},
    }


# checkov findings of the unified Deployment that are deliberate, each with its reason.
CHECKOV_SKIPS = (
    (
        "CKV_K8S_23",
        "runs as root: the init container chowns the volume; the unified image starts "
        "supervisord as root and drops to the postgres user itself",
    ),
    ("CKV_K8S_40", "no high UID for the same reason: the image's own users are 100:102"),
    (
        "CKV_K8S_37",
        "the main container keeps the image's capabilities (only NET_RAW dropped): what "
        "supervisord and PostgreSQL need is not verified; the init container drops ALL",
    ),
    (
        "CKV_K8S_25",
        "the init container drops ALL and adds back CHOWN, DAC_OVERRIDE and FOWNER: what "
        "chown -R and chmod of the postgres-owned data directory need",
    ),
    (
        "CKV_K8S_22",
        "the unified image writes outside the volume (PostgreSQL sockets, Redis, supervisord "
        "logs); the init container has a read-only root",
    ),
    (
        "CKV_K8S_35",
        "the app reads AUTH_SECRET from its environment only; the value comes from a Secret "
        "reference, never from the manifest",
    ),
    (
        "CKV_K8S_43",
        "images are pinned by tag in the spec (image.tag); digests are not supported yet",
    ),
    (
        "CKV_K8S_15",
        "pinned tags (the busybox init image, release tags) are pulled IfNotPresent so pod "
        "starts do not depend on the registry; latest is pulled Always",
    ),
)
LATEST_SKIP = (
    "CKV_K8S_14",
    "the spec runs the tag latest here; validate and lint report it (LLMGW003) until a "
    "release is pinned",
)


def checkov_skips(tag: str) -> dict[str, str]:
    skips = [*CHECKOV_SKIPS, LATEST_SKIP] if tag == "latest" else list(CHECKOV_SKIPS)
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(skips, 1)
    }


def split_pod_security_context() -> dict[str, Any]:
    """The split pods mount no volume: only the runtime's default seccomp profile."""
    return {"seccompProfile": {"type": "RuntimeDefault"}}


def split_container_context() -> dict[str, Any]:
    """A split image: it runs as root (no USER in infra/split.dockerfile; its node is under
    /root/.asdf, mode 0700), so it keeps its user but no capability and no escalation.

    Without NET_BIND_SERVICE it cannot bind port 80: the containers listen on an
    unprivileged port instead (compiler/lower/split.py).
    """
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


# checkov findings of the split Deployments that are deliberate, each with its reason.
SPLIT_CHECKOV_SKIPS = (
    (
        "CKV_K8S_23",
        "runs as root: the split images have no USER and run node from /root/.asdf (mode "
        "0700); every capability is dropped and privilege escalation is off",
    ),
    ("CKV_K8S_40", "no high UID for the same reason: the images run as root"),
    (
        "CKV_K8S_22",
        "not verified that the apps write nothing to their file system (Next.js writes "
        ".next/cache); the root stays writable",
    ),
    (
        "CKV_K8S_35",
        "the apps read AUTH_SECRET and the connection URLs from their environment only; "
        "the values come from Secret references, never from the manifest",
    ),
    (
        "CKV_K8S_43",
        "images are pinned by tag in the spec (image.tag); digests are not supported yet",
    ),
    (
        "CKV_K8S_15",
        "pinned tags are pulled IfNotPresent so pod starts do not depend on the registry; "
        "latest is pulled Always",
    ),
)
# The worker serves no port and has no health signal: upstream's chart gives it no probe.
WORKER_CHECKOV_SKIPS = (
    ("CKV_K8S_8", "the worker serves no port: no liveness probe (upstream's chart has none)"),
    ("CKV_K8S_9", "the worker serves no port: no readiness probe (upstream's chart has none)"),
)


def split_checkov_skips(tag: str, worker: bool) -> dict[str, str]:
    skips = [*SPLIT_CHECKOV_SKIPS, *(WORKER_CHECKOV_SKIPS if worker else ())]
    if tag == "latest":
        skips.append(LATEST_SKIP)
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(skips, 1)
    }


def data_pod_context(user: int, group: int) -> dict[str, Any]:
    """A data store's pod runs as its image's own user, never root; the claim is its group's."""
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": group,
        **pod_security_context(group),
    }


def data_container_context() -> dict[str, Any]:
    """No privilege at all: the data stores write only to their claim and emptyDirs."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


# checkov findings of the PostgreSQL and Redis StatefulSets that are deliberate.
DATA_CHECKOV_SKIPS = (
    (
        "CKV_K8S_40",
        "runs as the image's own non-root user (postgres 70, redis 999), which owns the "
        "image's files; another UID would need a custom image",
    ),
    (
        "CKV_K8S_35",
        "the official images read their password from the environment (POSTGRES_PASSWORD, "
        "redis-server's --requirepass); the value comes from a Secret reference",
    ),
    ("CKV_K8S_43", "the data stores' images are pinned by major-version tag, not digest"),
    (
        "CKV_K8S_15",
        "pinned tags are pulled IfNotPresent so a data store's restart does not depend on "
        "the registry",
    ),
)


def data_checkov_skips() -> dict[str, str]:
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(DATA_CHECKOV_SKIPS, 1)
    }
