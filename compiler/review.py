"""What would change in each environment, for a person reviewing a pull request.

`diff_environments` compares two renderings per environment and flags the risky
changes; `to_text`, `to_markdown` and `to_json` format the result. Secrets are already
redacted by `compare`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from compiler import upstream
from compiler.compare import (
    FieldChange,
    ResourceChange,
    ResourceId,
    compare_resources,
    describe_change,
    index_resources,
    quantity_bytes,
    resource_id,
    show,
)
from compiler.console import Output
from compiler.errors import ExitCode, UsageError

MARKDOWN_LIMIT = 65_000


@dataclass(frozen=True)
class Risk:
    """A change a person must act on: what it is, why it is risky, what to do."""

    environment: str
    resource: str
    what: str
    why: str
    action: str


@dataclass
class EnvironmentDiff:
    name: str
    status: str  # added | removed | changed | unchanged
    changes: list[ResourceChange] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)


@dataclass
class Review:
    base: str
    environments: list[EnvironmentDiff]

    @property
    def risks(self) -> list[Risk]:
        return [r for env in self.environments for r in env.risks]

    @property
    def has_differences(self) -> bool:
        return any(env.status != "unchanged" for env in self.environments)


# The order a reviewer reads changes in: workloads first, then what reaches them, the
# data, the configuration, and the rest.
KIND_ORDER = {
    kind: rank
    for rank, kinds in enumerate(
        [
            ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "PodDisruptionBudget"),
            ("Service", "Ingress", "NetworkPolicy"),
            ("PersistentVolumeClaim", "Cluster"),
            ("Secret", "ConfigMap", "ExternalSecret"),
        ]
    )
    for kind in kinds
}
POLICY_ANNOTATION = "checkov.io/"
OAUTH_ANNOTATION = "nginx.ingress.kubernetes.io/auth-url"
EXPOSED_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def is_policy_annotation(change: FieldChange) -> bool:
    """A checkov.io/* annotation (a policy skip), on the resource or its pod template."""
    _, found, key = change.path.partition("annotations.")
    return bool(found) and key.startswith(POLICY_ANNOTATION)


def field_rank(change: FieldChange) -> tuple[int, str]:
    if is_policy_annotation(change):
        rank = 3
    elif ".annotations" in f".{change.path}":
        rank = 2
    elif change.path.startswith(("spec", "data", "stringData")):
        rank = 0
    else:
        rank = 1
    return rank, change.path


def resource_rank(change: ResourceChange) -> tuple[int, int, ResourceId]:
    """Workloads first; a resource whose only changes are policy annotations last."""
    only_policy = bool(change.fields) and all(is_policy_annotation(f) for f in change.fields)
    return (int(only_policy), KIND_ORDER.get(change.id[1], len(KIND_ORDER)), change.id)


def in_review_order(changes: list[ResourceChange]) -> list[ResourceChange]:
    for change in changes:
        change.fields.sort(key=field_rank)
    return sorted(changes, key=resource_rank)


def split_policy(fields: list[FieldChange]) -> tuple[list[FieldChange], list[FieldChange]]:
    """The fields to show one by one, and the policy annotations shown as one line."""
    return (
        [f for f in fields if not is_policy_annotation(f)],
        [f for f in fields if is_policy_annotation(f)],
    )


def policy_line(policy: list[FieldChange]) -> str:
    count = len(policy)
    return (
        f"policy annotations changed ({count} {POLICY_ANNOTATION}* annotation{'s' * (count != 1)})"
    )


IMMUTABLE = {
    "Deployment": ("spec.selector",),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeName"),
}


def diff_environments(base: str, old: dict[str, list[Any]], new: dict[str, list[Any]]) -> Review:
    """Compare renderings by environment name (absent: the environment has no overlay)."""
    return Review(
        base,
        [diff_environment(name, old.get(name), new.get(name)) for name in sorted({*old, *new})],
    )


def diff_renderings(base: str, old: dict[str, str], new: dict[str, str]) -> Review:
    """`diff_environments` of kustomize's texts, each parsed only when needed: a rendering
    byte-identical on both sides parses to equal resources, whose change set is empty (so
    are its risks, each read from a change); it is unchanged without being compared."""
    from compiler.rendered import load_rendered

    def parsed(texts: dict[str, str], name: str) -> list[Any] | None:
        return load_rendered(texts[name]) if name in texts else None

    environments = [
        EnvironmentDiff(name, "unchanged")
        if name in old and old[name] == new.get(name)
        else diff_environment(name, parsed(old, name), parsed(new, name))
        for name in sorted({*old, *new})
    ]
    return Review(base, environments)


def diff_environment(name: str, old: list[Any] | None, new: list[Any] | None) -> EnvironmentDiff:
    """One environment's changes and risks (None: it has no overlay on that side)."""
    if new is None:
        env = EnvironmentDiff(name, "removed", in_review_order(compare_resources(old or [], [])))
        env.risks.append(
            Risk(
                name,
                "(environment)",
                f"environment {name} is removed from the spec",
                "its overlay is gone, but nothing deletes what is running; a later "
                "prune or a manual delete removes its volume and data",
                f"decide what happens to the running {name} deployment and its data "
                "before merging; back the data up first",
            )
        )
    else:
        changes = in_review_order(compare_resources(old or [], new))
        status = "added" if old is None else ("changed" if changes else "unchanged")
        env = EnvironmentDiff(name, status, changes)
    env.risks.extend(find_risks(name, env.changes, old or [], new or []))
    return env


def find_risks(
    environment: str, changes: list[ResourceChange], old: list[Any], new: list[Any]
) -> list[Risk]:
    risks: list[Risk] = []
    removed_namespaces = [
        c.id[3] for c in changes if c.change == "removed" and c.id[1] == "Namespace"
    ]
    added_namespaces = [c.id[3] for c in changes if c.change == "added" and c.id[1] == "Namespace"]
    if removed_namespaces and added_namespaces:
        risks.append(
            Risk(
                environment,
                f"Namespace/{removed_namespaces[0]}",
                f"namespace changes from {removed_namespaces[0]} to {added_namespaces[0]}",
                "every resource is created anew in the new namespace; the volume and its "
                "data stay behind in the old one",
                "migrate the data (or accept starting empty), then delete the old namespace "
                "by hand once the new one serves",
            )
        )
    for change in changes:
        kind = change.id[1]
        if change.change == "removed" and kind == "PersistentVolumeClaim":
            risks.append(claim_removed_risk(environment, change, old, new))
        elif change.change == "removed" and kind == "Namespace" and not added_namespaces:
            risks.append(
                Risk(
                    environment,
                    change.label,
                    "the namespace is removed",
                    "deleting a namespace deletes everything in it, data volumes included",
                    "back up the data and confirm nothing else lives in the namespace",
                )
            )
        if change.change != "changed":
            continue
        for field_change in change.fields:
            for prefix in IMMUTABLE.get(kind, ()):
                if (
                    field_change.path == prefix
                    or field_change.path.startswith(prefix + ".")
                    or (field_change.path.startswith(prefix + "["))
                ):
                    risks.append(immutable_risk(environment, change, field_change))
            if (
                kind == "PersistentVolumeClaim"
                and field_change.path == "spec.resources.requests.storage"
            ):
                before, after = quantity_bytes(field_change.old), quantity_bytes(field_change.new)
                if before is not None and after is not None and after < before:
                    risks.append(
                        Risk(
                            environment,
                            change.label,
                            f"storage request shrinks: {describe_change(field_change)}",
                            "Kubernetes cannot shrink a volume claim; the apply is rejected",
                            "keep the size, or migrate the data to a new, smaller claim",
                        )
                    )
        if kind == "Deployment":
            risks.extend(strategy_risk(environment, change, new))
    risks.extend(door_risks(environment, changes, old, new))
    return risks


MIGRATION_README = 'README.md, "Moving prod to the split topology"'
# CloudNativePG: the instance pods' PostgreSQL container, and the database bootstrap.initdb
# makes when unset, whose owner defaults to its name (cloudnative-pg@4b5e244a
# pkg/specs/pods.go:78; docs/src/bootstrap.md:166-205).
CNPG_POSTGRES_CONTAINER = "postgres"
CNPG_DEFAULT_DATABASE = "app"
DUMP_FILE = "llmgateway.dump"


@dataclass(frozen=True)
class EmbeddedDatabase:
    """The unified pod whose PostgreSQL keeps its data on a claim."""

    namespace: str
    deployment: str
    container: str
    pgdata: str


def embedded_database(claim: ResourceId, resources: list[Any]) -> EmbeddedDatabase | None:
    """The Deployment container whose PGDATA lies on ``claim``, if any (the embedded database)."""
    namespace, name = claim[2], claim[3]
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("kind") != "Deployment":
            continue
        meta = resource.get("metadata") or {}
        if str(meta.get("namespace", "") or "") != namespace:
            continue
        pod = ((resource.get("spec") or {}).get("template") or {}).get("spec") or {}
        volumes = {
            v.get("name")
            for v in pod.get("volumes") or []
            if isinstance(v, dict)
            and (v.get("persistentVolumeClaim") or {}).get("claimName") == name
        }
        for container in pod.get("containers") or []:
            pgdata = next(
                (
                    str(e.get("value"))
                    for e in container.get("env") or []
                    if isinstance(e, dict) and e.get("name") == upstream.PGDATA and e.get("value")
                ),
                None,
            )
            mounts = [
                str(m.get("mountPath", "")).rstrip("/")
                for m in container.get("volumeMounts") or []
                if isinstance(m, dict) and m.get("name") in volumes
            ]
            if pgdata and any(pgdata == m or pgdata.startswith(m + "/") for m in mounts):
                return EmbeddedDatabase(
                    namespace, str(meta.get("name")), str(container.get("name")), pgdata
                )
    return None


def restore_steps(source: EmbeddedDatabase, new: list[Any]) -> str:
    """Where the dump goes: the CloudNativePG Cluster's primary, named, or the new database."""
    for resource in new:
        if (
            isinstance(resource, dict)
            and resource.get("kind") == "Cluster"
            and str(resource.get("apiVersion", "")).startswith("postgresql.cnpg.io/")
        ):
            meta = resource.get("metadata") or {}
            cluster, namespace = meta.get("name"), meta.get("namespace") or source.namespace
            bootstrap = ((resource.get("spec") or {}).get("bootstrap") or {}).get("initdb") or {}
            database = bootstrap.get("database") or CNPG_DEFAULT_DATABASE
            owner = bootstrap.get("owner") or database
            return (
                f"1. create the Cluster {cluster} alone and wait for it (kubectl -n "
                f"{namespace} wait cluster/{cluster} --for=condition=Ready); 2. FREEZE; "
                f"3. DUMP; 4. restore into its current primary: P=$(kubectl -n {namespace} "
                f"get cluster {cluster} -o jsonpath='{{.status.currentPrimary}}'); kubectl -n "
                f'{namespace} exec -i "$P" -c {CNPG_POSTGRES_CONTAINER} -- pg_restore '
                f"--no-owner --role={owner} --single-transaction -d {database} < "
                f"{DUMP_FILE}; 5. compare the row counts of both sides"
            )
    return (
        "1. create the new database; 2. FREEZE; 3. DUMP; 4. restore the dump into the new "
        "database with pg_restore --no-owner --single-transaction; 5. compare the row counts "
        "of both sides"
    )


def claim_removed_risk(
    environment: str, change: ResourceChange, old: list[Any], new: list[Any]
) -> Risk:
    """A removed claim; the embedded database's gets the steps that move its data."""
    source = embedded_database(change.id, old)
    keeps_embedded = any(
        embedded_database(resource_id(r), new) is not None
        for r in new
        if isinstance(r, dict) and r.get("kind") == "PersistentVolumeClaim"
    )
    # Steps only where the environment goes on without an embedded database: a removed
    # environment or one keeping its own claim elsewhere gets the plain warning.
    if source is None or not new or keeps_embedded:
        return Risk(
            environment,
            change.label,
            "the data volume claim is removed",
            "deleting the claim deletes the volume and the PostgreSQL data on it "
            "(with the usual Delete reclaim policy)",
            "back up the database first, or keep the claim out of pruning",
        )
    url = urlsplit(upstream.UNIFIED_DATABASE_URL)
    database, bin_dir = url.path.lstrip("/"), upstream.UNIFIED_POSTGRES_BIN
    # The embedded PostgreSQL accepts only local connections, with trust (start.sh:18).
    client = f"-h 127.0.0.1 -U {url.username} -d {database}"
    exec_ = (
        f"kubectl -n {source.namespace} exec deploy/{source.deployment} -c {source.container} --"
    )
    freeze = (
        f"scale Deployment {source.deployment} to 1 pod and make the database read-only "
        f"(ALTER DATABASE {database} SET default_transaction_read_only = on, then end the "
        "open sessions)"
    )
    dump = f"dump it: {exec_} {bin_dir}/pg_dump {client} -Fc > {DUMP_FILE}"
    steps = restore_steps(source, new).replace("FREEZE", freeze).replace("DUMP", dump)
    return Risk(
        environment,
        change.label,
        "the data volume claim is removed",
        f"it holds the embedded PostgreSQL database of Deployment {source.deployment} "
        f"(container {source.container}, PGDATA {source.pgdata}), and nothing copies it to the "
        "new database: deleting the claim deletes the volume and all the app's data (with the "
        "usual Delete reclaim policy)",
        f"move the data before applying this ({MIGRATION_README} has every command): {steps}; "
        "then apply, and delete the old Deployment, and the claim last, once the new "
        "deployment serves the data",
    )


def door_risks(
    environment: str, changes: list[ResourceChange], old: list[Any], new: list[Any]
) -> list[Risk]:
    """Changes that open a door: an endpoint losing its sign-in, traffic let in more widely."""
    before, after = index_resources(old), index_resources(new)
    risks: list[Risk] = []
    for change in changes:
        kind = change.id[1]
        old_resource, new_resource = before.get(change.id), after.get(change.id)
        if kind == "Ingress" and change.change == "changed":
            if annotations_of(old_resource).get(OAUTH_ANNOTATION) and not annotations_of(
                new_resource
            ).get(OAUTH_ANNOTATION):
                hosts = ", ".join(ingress_hosts(new_resource)) or "its hosts"
                risks.append(
                    Risk(
                        environment,
                        change.label,
                        f"the oauth2-proxy sign-in is removed: {hosts} becomes public",
                        "anyone who can reach the host reaches the endpoint without signing in",
                        "make sure the endpoint is meant to be public (the spec's `public` "
                        "setting) and protects itself",
                    )
                )
        elif kind == "NetworkPolicy" and change.change == "removed":
            if replaced(before.get(change.id), new):
                continue
            risks.append(
                Risk(
                    environment,
                    change.label,
                    "the NetworkPolicy is removed",
                    "the pods it selected accept traffic from anywhere in the cluster",
                    "keep a NetworkPolicy (networkPolicy.enabled) unless the cluster "
                    "restricts traffic otherwise",
                )
            )
        elif kind == "NetworkPolicy" and change.change == "changed":
            reasons = loosened(old_resource or {}, new_resource or {})
            if reasons:
                risks.append(
                    Risk(
                        environment,
                        change.label,
                        f"the NetworkPolicy is loosened: {'; '.join(reasons)}",
                        "more traffic reaches the pods than before",
                        "check that every newly allowed source or destination is intended",
                    )
                )
        elif kind == "Service" and change.change in ("changed", "added"):
            old_type = ((old_resource or {}).get("spec") or {}).get("type", "ClusterIP")
            new_type = ((new_resource or {}).get("spec") or {}).get("type", "ClusterIP")
            if new_type in EXPOSED_SERVICE_TYPES and new_type != old_type:
                risks.append(
                    Risk(
                        environment,
                        change.label,
                        f"the Service becomes {new_type}"
                        + (f" (was {old_type})" if change.change == "changed" else ""),
                        "its ports are reachable from outside the cluster, bypassing the "
                        "Ingress and its sign-in",
                        "keep ClusterIP behind the Ingress unless the exposure is intended "
                        "(serviceType)",
                    )
                )
    return risks


def replaced(policy: Any, new: list[Any]) -> bool:
    """Whether a removed NetworkPolicy's pods are all still restricted: at least one
    workload of the new rendering has pods it selected, and each such pod is selected by
    a NetworkPolicy of the new rendering that restricts every direction it did (as when
    one policy for every pod becomes one policy per component). Pods the rendering does
    not template (an operator's) cannot be seen: without a workload, it is not replaced."""
    spec = (policy or {}).get("spec") or {}
    namespace = ((policy or {}).get("metadata") or {}).get("namespace")
    directions = policy_types(spec)
    policies = [
        r.get("spec") or {}
        for r in new
        if isinstance(r, dict)
        and r.get("kind") == "NetworkPolicy"
        and (r.get("metadata") or {}).get("namespace") == namespace
    ]
    selected = [
        labels for labels in pod_labels(new, namespace) if selects(spec.get("podSelector"), labels)
    ]
    return bool(selected) and all(
        any(
            selects(p.get("podSelector"), labels) and directions <= policy_types(p)
            for p in policies
        )
        for labels in selected
    )


def pod_labels(resources: list[Any], namespace: Any) -> list[dict[str, Any]]:
    """The pod template labels of each workload in ``namespace``."""
    found = []
    for r in resources:
        if not isinstance(r, dict) or (r.get("metadata") or {}).get("namespace") != namespace:
            continue
        template = (r.get("spec") or {}).get("template")
        if isinstance(template, dict):
            found.append((template.get("metadata") or {}).get("labels") or {})
    return found


def selects(selector: Any, labels: dict[str, Any]) -> bool:
    """Whether a label selector selects ``labels`` (matchLabels; a selector with
    matchExpressions is taken to select nothing, so no removal is ever called replaced
    on its account)."""
    if not isinstance(selector, dict) or selector.get("matchExpressions"):
        return False
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(key) == value for key, value in wanted.items())


def annotations_of(resource: Any) -> dict[str, Any]:
    if not isinstance(resource, dict):
        return {}
    found = (resource.get("metadata") or {}).get("annotations") or {}
    return found if isinstance(found, dict) else {}


def ingress_hosts(resource: Any) -> list[str]:
    rules = ((resource or {}).get("spec") or {}).get("rules") or []
    return [str(r["host"]) for r in rules if isinstance(r, dict) and r.get("host")]


def loosened(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How a NetworkPolicy lets more through than before (empty when it does not)."""
    before, after = old.get("spec") or {}, new.get("spec") or {}
    reasons: list[str] = []
    if before.get("podSelector") != after.get("podSelector"):
        reasons.append("it selects other pods")
    restricted = policy_types(before)
    lost = restricted - policy_types(after)
    if lost:
        reasons.append(f"it no longer restricts {', '.join(sorted(lost))}")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        if direction.capitalize() not in restricted:
            continue  # that direction was open before: new rules only narrow it
        old_rules = before.get(direction) or []
        if any(not any(covers(o, n, peers) for o in old_rules) for n in after.get(direction) or []):
            reasons.append(f"it allows more {direction} traffic")
    return reasons


def policy_types(spec: dict[str, Any]) -> set[str]:
    """The directions a NetworkPolicy restricts (Kubernetes' default when policyTypes is unset)."""
    if spec.get("policyTypes"):
        return {str(t) for t in spec["policyTypes"]}
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def covers(old_rule: Any, new_rule: Any, peers: str) -> bool:
    """Whether a new rule allows nothing the old one did not (absent or empty lists allow all)."""
    if not isinstance(old_rule, dict) or not isinstance(new_rule, dict):
        return bool(old_rule == new_rule)
    for key in (peers, "ports"):
        allowed, wanted = old_rule.get(key) or [], new_rule.get(key) or []
        if allowed and (not wanted or any(item not in allowed for item in wanted)):
            return False
    return True


def immutable_risk(environment: str, change: ResourceChange, field_change: FieldChange) -> Risk:
    kind = change.id[1]
    namespace, name = change.id[2], change.id[3]
    return Risk(
        environment,
        change.label,
        describe_change(field_change),
        f"a {kind}'s {field_change.path.split('[')[0]} cannot change in place; the API "
        "server rejects the apply",
        f"delete and recreate the {kind} (kubectl delete {kind.lower()} {name} -n "
        f"{namespace}) in a maintenance window"
        + (
            "; the data must be migrated to the new claim first"
            if kind == "PersistentVolumeClaim"
            else ""
        ),
    )


def strategy_risk(environment: str, change: ResourceChange, new: list[Any]) -> list[Risk]:
    for field_change in change.fields:
        if field_change.path != "spec.strategy.type" or field_change.old != "Recreate":
            continue
        claims = [
            r for r in index_resources(new).values() if r.get("kind") == "PersistentVolumeClaim"
        ]
        if any("ReadWriteOnce" in (c.get("spec") or {}).get("accessModes", []) for c in claims):
            return [
                Risk(
                    environment,
                    change.label,
                    describe_change(field_change),
                    "the data volume is ReadWriteOnce: a rolling update starts a second pod "
                    "on the same volume, which corrupts the PostgreSQL WAL",
                    "keep strategy Recreate while the volume is ReadWriteOnce",
                )
            ]
    return []


# --- formats ----------------------------------------------------------------------------

SIGN = {"added": "+", "removed": "-", "changed": "~"}


def summary(env: EnvironmentDiff) -> str:
    if env.status == "unchanged":
        return "no changes"
    counts = (
        f"{env.count('added')} added, {env.count('changed')} changed, "
        f"{env.count('removed')} removed"
    )
    if env.status == "removed":
        return f"environment removed ({counts})"
    if env.status == "added":
        return f"new environment ({counts})"
    return counts


def plain_paint(text: str, colour: str) -> str:
    return text


COLOUR_OF = {"added": "green", "removed": "red", "changed": "yellow"}


def to_text(review: Review, paint: Callable[[str, str], str] = plain_paint) -> str:
    """The review for a terminal; ``paint`` colours a piece of text (or leaves it)."""
    lines = [f"Changes against {review.base}:"]
    risks = review.risks
    if risks:
        lines.append("")
        lines.append(paint(f"RISKY CHANGES ({len(risks)}):", "red"))
        for risk in risks:
            lines.append(f"  {paint('!', 'red')} {risk.environment} {risk.resource}: {risk.what}")
            lines.append(f"      why: {risk.why}")
            lines.append(f"      do:  {risk.action}")
    for env in review.environments:
        lines.append("")
        lines.append(f"{env.name}: {summary(env)}")
        for change in env.changes:
            lines.append(f"  {paint(SIGN[change.change], COLOUR_OF[change.change])} {change.label}")
            shown, policy = split_policy(change.fields)
            lines.extend(f"      {describe_change(f)}" for f in shown)
            if policy:
                lines.append(f"      {policy_line(policy)}")
    return "\n".join(lines) + "\n"


def md(text: str) -> str:
    """Text safe inside inline code."""
    return text.replace("`", "'").replace("\n", " ")


def markdown_details(env: EnvironmentDiff) -> list[str]:
    lines: list[str] = []
    for change in env.changes:
        lines.append(f"- `{md(change.label)}` {change.change}")
        shown, policy = split_policy(change.fields)
        for f in shown:
            lines.append(f"  - `{md(f.path)}`: {md_change(f)}")
        if policy:
            lines.append(f"  - {policy_line(policy)}")
    return lines


def md_change(change: FieldChange) -> str:
    if change.kind == "added":
        return f"added `{md(show(change.new))}`"
    if change.kind == "removed":
        return f"removed (was `{md(show(change.old))}`)"
    return f"`{md(show(change.old))}` → `{md(show(change.new))}`"


def to_markdown(review: Review, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: summary table, risky changes, then details per environment."""
    head = [f"### Manifest changes against `{md(review.base)}`", ""]
    head += ["| environment | added | changed | removed | risky |", "|---|---:|---:|---:|---:|"]
    for env in review.environments:
        name = env.name + (f" ({env.status})" if env.status in ("added", "removed") else "")
        head.append(
            f"| {name} | {env.count('added')} | {env.count('changed')} | "
            f"{env.count('removed')} | {len(env.risks)} |"
        )
    head.append("")
    risks = review.risks
    if risks:
        head += [f"#### ⚠️ Risky changes ({len(risks)})", ""]
        for risk in risks:
            head.append(
                f"- **{risk.environment}** `{md(risk.resource)}`: {md(risk.what)}  \n"
                f"  *Why:* {risk.why}  \n  *Do:* {risk.action}"
            )
        head.append("")
    elif not review.has_differences:
        head += ["No changes in any environment.", ""]
    text = "\n".join(head) + "\n"
    omitted: list[str] = []
    for env in review.environments:
        if env.status == "unchanged":
            continue
        body = [f"<details><summary><b>{env.name}</b>: {summary(env)}</summary>", ""]
        body += markdown_details(env)
        body += ["", "</details>", ""]
        block = "\n".join(body) + "\n"
        reserve = 400  # room for the closing note
        if len(text) + len(block) + reserve <= limit and not omitted:
            text += block
            continue
        # Cut this environment's details line by line, then leave the rest out.
        if not omitted:
            kept: list[str] = []
            for line in body[2:-3]:
                if len(text) + sum(len(k) + 1 for k in kept) + len(line) + reserve + 200 > limit:
                    break
                kept.append(line)
            hidden = len(body) - 5 - len(kept)
            if kept:
                text += (
                    "\n"
                    + "\n".join(
                        [
                            *body[:2],
                            *kept,
                            "",
                            f"*… {hidden} more lines not shown.*",
                            "",
                            "</details>",
                            "",
                        ]
                    )
                    + "\n"
                )
                omitted.append(f"{env.name} (partly)")
                continue
        omitted.append(env.name)
    if omitted:
        text += (
            f"\n> Cut to stay under {limit:,} characters: details of {', '.join(omitted)} "
            "not shown. Run `python -m compiler diff` locally for everything.\n"
        )
    return text


def to_json(review: Review) -> str:
    document = {
        "base": review.base,
        "risky": [r.__dict__ for r in review.risks],
        "environments": [
            {
                "name": env.name,
                "status": env.status,
                "added": env.count("added"),
                "changed": env.count("changed"),
                "removed": env.count("removed"),
                "resources": [
                    {
                        "apiVersion": c.id[0],
                        "kind": c.id[1],
                        "namespace": c.id[2],
                        "name": c.id[3],
                        "change": c.change,
                        "fields": [
                            {
                                "path": f.path,
                                "change": f.kind,
                                "old": plain(f.old),
                                "new": plain(f.new),
                            }
                            for f in c.fields
                        ],
                    }
                    for c in env.changes
                ],
            }
            for env in review.environments
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def plain(value: Any) -> Any:
    from compiler.compare import unkeyed

    return unkeyed(value)


# --- the commands -----------------------------------------------------------------------


def diff_command(
    output: Output,
    spec_path: str,
    *,
    base: str | None,
    environments: list[str] | None,
    fmt: str,
    fail_on: str,
    early: Any = None,  # rendercache.EarlyRender: the overlays on disk, rendering since the start
) -> int:
    """`diff`: the overlays committed at ``base`` against what the spec compiles to."""
    import tempfile
    from pathlib import Path

    from compiler import git
    from compiler.kustomize import find_kustomize
    from compiler.load import load_spec
    from compiler.plan import plan_tree
    from compiler.render import render, render_revision
    from compiler.rendercache import RenderCache

    spec = load_spec(spec_path)
    tree = plan_tree(spec)
    revision = base or git.default_base()
    short = git.short_revision(revision)
    if base:
        label = f"{base} ({short})"
    elif revision == "HEAD":
        label = f"HEAD ({short})"
    else:
        label = f"merge base with origin/main ({short})"
    kustomize = find_kustomize()
    old_names = git.overlay_names(revision)
    new_names = [name for name, _ in spec.enabled()]
    wanted = set(old_names) | set(new_names)
    if environments:
        unknown = sorted(set(environments) - wanted)
        if unknown:
            raise UsageError(
                f"no environment {', '.join(unknown)} at {revision} or in {spec_path} "
                f"(environments: {', '.join(sorted(wanted)) or 'none'})"
            )
        wanted = set(environments)
    # Only base/ and the overlays compared are exported and written.
    scopes = ("base", *(f"overlays/{n}" for n in sorted(wanted)))
    prefixes = tuple(f"{scope}/" for scope in scopes)
    cache = (early.done() if early else None) or RenderCache(Path("."), kustomize)
    with tempfile.TemporaryDirectory(prefix="llmgw-diff-") as scratch:
        old_root = Path(scratch) / "ref"
        new_root = Path(scratch) / "work"
        old_dirs = [n for n in old_names if n in wanted]
        new_dirs = [n for n in new_names if n in wanted]
        # The committed side is keyed by git tree ids: only its misses are exported.
        old_texts = render_revision(kustomize, revision, old_dirs, old_root, cache, tree)
        for rel, data in tree.items():
            if not rel.startswith(prefixes):
                continue
            path = new_root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        new_texts = render(kustomize, [new_root / "overlays" / n for n in new_dirs], cache=cache)
    old = dict(zip(old_dirs, old_texts, strict=True))
    new = dict(zip(new_dirs, new_texts, strict=True))
    return print_review(output, diff_renderings(label, old, new), fmt, fail_on)


def live_diff_command(output: Output, environment: str, *, fmt: str, fail_on: str) -> int:
    """`diff --live`: what applying overlays/<environment> would change in the cluster."""
    from pathlib import Path

    from compiler.live import live_diff

    live, merged = live_diff(Path("overlays", environment))
    review = diff_environments(
        "the cluster (kubectl diff --server-side)", {environment: live}, {environment: merged}
    )
    return print_review(output, review, fmt, fail_on)


def print_review(output: Output, review: Review, fmt: str, fail_on: str) -> int:
    """The review in the format asked for; exit 1 on any difference, or only a risky one."""
    if fmt == "text":
        output.write(to_text(review, output.paint))
    else:
        output.write(to_markdown(review) if fmt == "markdown" else to_json(review))
    if fail_on == "risky":
        return ExitCode.DIFFERENCES if review.risks else ExitCode.OK
    return ExitCode.DIFFERENCES if review.has_differences else ExitCode.OK
