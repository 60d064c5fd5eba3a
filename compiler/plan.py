"""Plan the Kustomize tree: base/ from the defaults, the smallest overlay per environment.

An overlay is `resources: [../../base]` plus, in this order of preference:
Kustomize's own fields (namespace, labels, images, replicas), then one patch file per
resource that still differs: a strategic merge patch where it expresses the change, a
JSON 6902 patch where a list without merge keys changes. Resources the base lacks are
files of the overlay; resources the environment lacks are deleted with `$patch: delete`.

The planner simulates the Kustomize fields on the base to know what is left to patch.
The simulation is checked against the real kustomize by the tests (the invariant:
rendering an overlay gives exactly the lowering of its environment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from compiler.emit import dump, header
from compiler.fingerprint import FINGERPRINT_PATH, SECRET_ENV, fingerprint_text
from compiler.gcpause import gc_paused
from compiler.lower import comment, lower_environment
from compiler.lower.meta import APP, Resource, service_name
from compiler.lower.split import image as split_image
from compiler.secretenv import example_text
from compiler.spec import Settings, Spec

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
INSTANCE_LABEL = "app.kubernetes.io/instance"
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
# patchMergeKey of the lists we emit, by field name, in pod templates.
POD_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ports": "containerPort",
    "topologySpreadConstraints": "topologyKey",
}

Tree = dict[str, bytes]
ResourceKey = tuple[str, str, str]  # apiVersion, kind, name


def key_of(resource: Resource) -> ResourceKey:
    return (resource["apiVersion"], resource["kind"], resource["metadata"]["name"])


def file_name(resource: Resource) -> str:
    return f"{resource['kind'].lower()}-{resource['metadata']['name']}.yaml"


def target(resource: Resource) -> dict[str, str]:
    """A Kustomize patch target selecting exactly this resource."""
    group, _, version = resource["apiVersion"].rpartition("/")
    out = {"group": group} if group else {}
    out.update(version=version, kind=resource["kind"], name=resource["metadata"]["name"])
    return out


@dataclass
class OverlayFields:
    """The Kustomize fields of one overlay; None or empty means the field is left out."""

    namespace: str | None = None
    instance: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    replicas: list[dict[str, Any]] = field(default_factory=list)


def overlay_fields(defaults: Settings, env: Settings, name: str) -> OverlayFields:
    fields = OverlayFields(instance=name)
    if env.namespace != defaults.namespace:
        fields.namespace = env.namespace
    if env.image != defaults.image and not (env.split or defaults.split):
        image: dict[str, str] = {"name": defaults.image.repository}
        if env.image.repository != defaults.image.repository:
            image["newName"] = env.image.repository
        if env.image.tag != defaults.image.tag:
            image["newTag"] = env.image.tag
        fields.images.append(image)
    if env.split and defaults.split:
        fields.images += split_images(defaults, env)
    if env.replicas != defaults.replicas and not (env.split or defaults.split):
        fields.replicas.append({"name": APP, "count": env.replicas})
    if env.split and defaults.split:
        fields.replicas += split_replicas(defaults, env)
    return fields


def split_images(defaults: Settings, env: Settings) -> list[dict[str, str]]:
    """The images field retagging the base's split services that the environment also runs
    (a service the base lacks is an added resource, already with its image)."""
    base = {name for name, _ in defaults.services.enabled()}
    images: list[dict[str, str]] = []
    for name, _ in env.services.enabled():
        if name not in base:
            continue
        (old, _), (new, _) = split_image(defaults, name), split_image(env, name)
        if old != new:
            old_name, _, old_tag = old.rpartition(":")
            new_name, _, new_tag = new.rpartition(":")
            image = {"name": old_name}
            if new_name != old_name:
                image["newName"] = new_name
            if new_tag != old_tag:
                image["newTag"] = new_tag
            images.append(image)
    return images


def split_replicas(defaults: Settings, env: Settings) -> list[dict[str, Any]]:
    """The replicas field for the base's split services whose fixed count changes (an
    autoscaled one has no count to set)."""
    base = dict(defaults.services.enabled())
    counts: list[dict[str, Any]] = []
    for name, service in env.services.enabled():
        before = base.get(name)
        if before is None or service.autoscaling is not None:
            continue
        if before.autoscaling is not None or before.replicas != service.replicas:
            counts.append({"name": service_name(name), "count": service.replicas})
    return counts


def apply_fields(resources: list[Resource], fields: OverlayFields) -> list[Resource]:
    """What kustomize's namespace, labels, images and replicas fields do to ``resources``.

    The input is left alone. The output shares what the fields do not change with the
    input (copying every resource of the base for each of a thousand environments was a
    tenth of planning): read it, never change it.
    """
    out: list[Resource] = []
    for original in resources:
        resource = dict(original)
        kind = resource["kind"]
        meta = resource["metadata"] = dict(resource["metadata"])
        if fields.namespace is not None:
            if kind == "Namespace":
                meta["name"] = fields.namespace
            elif "namespace" in meta:
                meta["namespace"] = fields.namespace
        meta["labels"] = {**meta.get("labels", {}), INSTANCE_LABEL: fields.instance}
        if kind in WORKLOADS:
            spec = resource["spec"] = dict(resource["spec"])
            template = spec["template"] = dict(spec["template"])
            template_meta = template["metadata"] = dict(template.get("metadata", {}))
            template_meta["labels"] = {
                **template_meta.get("labels", {}),
                INSTANCE_LABEL: fields.instance,
            }
            pod = template["spec"] = dict(template["spec"])
            for image in fields.images:
                for group in ("initContainers", "containers"):
                    if group in pod:
                        pod[group] = [retagged(c, image) for c in pod[group]]
            for replicas in fields.replicas:
                if meta["name"] == replicas["name"]:
                    spec["replicas"] = replicas["count"]
        out.append(resource)
    return out


def retagged(container: dict[str, Any], image: dict[str, str]) -> dict[str, Any]:
    """``container`` with kustomize's images entry applied (a copy if it changes)."""
    repository, _, tag = container["image"].rpartition(":")
    if repository != image["name"]:
        return container
    new = f"{image.get('newName', repository)}:{image.get('newTag', tag)}"
    return {**container, "image": new}


class NeedsJsonPatch(Exception):
    """A change a strategic merge patch cannot express (a list without merge keys)."""


def merge_key(kind: str, path: tuple[str, ...]) -> str | None:
    name = path[-1]
    if kind == "Service" and path == ("spec", "ports"):
        return "port"
    if kind in WORKLOADS and "template" in path:
        return POD_MERGE_KEYS.get(name)
    return None


def is_scalar_list(values: list[Any]) -> bool:
    return all(not isinstance(v, dict | list) for v in values)


def strategic_patch(old: Any, new: Any, kind: str, path: tuple[str, ...] = ()) -> Any:
    """The strategic merge patch turning ``old`` into ``new`` (which differ)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: dict[str, Any] = {}
        for key, value in new.items():
            if key not in old:
                out[key] = value
            elif old[key] != value:
                out[key] = strategic_patch(old[key], value, kind, (*path, key))
        if any(key not in new for key in old):
            # kustomize does not reliably delete a field set to null (annotations keep
            # theirs): removals are JSON 6902 `remove` operations.
            raise NeedsJsonPatch
        return out
    if isinstance(old, list) and isinstance(new, list):
        key = merge_key(kind, path)
        if key is None:
            if is_scalar_list(old) and is_scalar_list(new):
                return new  # a strategic merge replaces a list of scalars whole
            raise NeedsJsonPatch
        return keyed_list_patch(old, new, key, kind, path)
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        # A field that changes shape (mapping, list, scalar): kustomize's strategic merge
        # fails on it ("wrong node kind: expected MappingNode but got ScalarNode").
        raise NeedsJsonPatch
    return new


def keyed_list_patch(
    old: list[Any], new: list[Any], key: str, kind: str, path: tuple[str, ...]
) -> list[Any]:
    """Patch a list merged by ``key``: changed, added and deleted items, order kept.

    Kustomize's strategic merge puts the patch's items first, in the patch's order,
    then the old items the patch does not name. So the patch names every item of the
    new list up to the last one that changed or moved (unchanged ones by key alone),
    and the untouched tail keeps its place.
    """
    old_by_key = {item[key]: item for item in old}
    new_keys = [item[key] for item in new]
    if len(set(new_keys)) != len(new_keys) or len(old_by_key) != len(old):
        raise NeedsJsonPatch
    # The longest tail of the new list that the merge leaves exactly as it was.
    untouched = 0
    old_rest = [k for k in old_by_key if k in set(new_keys)]
    while (
        untouched < len(new)
        and untouched < len(old_rest)
        and new_keys[-1 - untouched] == old_rest[-1 - untouched]
        and new[-1 - untouched] == old_by_key[new_keys[-1 - untouched]]
    ):
        untouched += 1
    items: list[Any] = []
    for item in new[: len(new) - untouched]:
        before = old_by_key.get(item[key])
        if before is None:
            items.append(item)
        elif before == item:
            items.append({key: item[key]})
        else:
            items.append({key: item[key], **strategic_patch(before, item, kind, path)})
    for gone in old_by_key:
        if gone not in new_keys:
            items.append({key: gone, "$patch": "delete"})
    return items


def pointer(path: Iterable[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def json_patch(old: Any, new: Any, path: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """JSON 6902 operations turning ``old`` into ``new``, as fine-grained as lists allow."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": pointer((*path, key))})
        for key, value in new.items():
            if key not in old:
                ops.append({"op": "add", "path": pointer((*path, key)), "value": value})
            elif old[key] != value:
                ops.extend(json_patch(old[key], value, (*path, key)))
        return ops
    if isinstance(old, list) and isinstance(new, list):
        common = min(len(old), len(new))
        if aligned(old[:common], new[:common]):
            ops = []
            for index in range(common):
                if old[index] != new[index]:
                    item = old[index]
                    if isinstance(item, dict) and "name" in item:
                        # Say which item an index means, and fail if it ever means another.
                        ops.append(
                            {
                                "op": "test",
                                "path": pointer((*path, index, "name")),
                                "value": item["name"],
                            }
                        )
                    ops.extend(json_patch(item, new[index], (*path, index)))
            # Items appended at the end, or removed from the end (last first).
            ops.extend(
                {"op": "add", "path": pointer((*path, "-")), "value": item} for item in new[common:]
            )
            for index in range(len(old) - 1, common - 1, -1):
                ops.append({"op": "remove", "path": pointer((*path, index))})
            return ops
    return [{"op": "replace", "path": pointer(path), "value": new}]


def aligned(old: list[Any], new: list[Any]) -> bool:
    """Whether items at the same index are the same item (same `name` where they have one)."""
    return all(
        not (isinstance(a, dict) and isinstance(b, dict)) or a.get("name") == b.get("name")
        for a, b in zip(old, new, strict=True)
    )


@dataclass
class Patch:
    """One patch file: its content and the resource it targets."""

    file: str
    content: Any
    target: dict[str, str]


def patch_for(before: Resource, after: Resource) -> Any:
    """Strategic merge patch of a resource if it can express the change, else JSON 6902."""
    kind = before["kind"]
    try:
        body = strategic_patch(before, after, kind)
    except NeedsJsonPatch:
        return json_patch(before, after)
    meta = {"name": before["metadata"]["name"], **body.pop("metadata", {})}
    return {"apiVersion": before["apiVersion"], "kind": kind, "metadata": meta, **body}


@dataclass
class OverlayPlan:
    """What one overlay holds, before it is written as files."""

    fields: OverlayFields
    resources: list[Resource]
    patches: list[Patch]
    secret_generator: str | None = None  # the Secret's name, with source: generator
    namespace: str = ""
    lowered: list[Resource] = field(default_factory=list)  # the environment, lowered


def plan_overlay(defaults: Settings, base: list[Resource], env: Settings, name: str) -> OverlayPlan:
    """The smallest Kustomize layer turning ``base`` into environment ``name``."""
    fields = overlay_fields(defaults, env, name)
    simulated = apply_fields(base, fields)
    # Patches apply before the namespace transformer: they target the base's names.
    originals = {key_of(sim): original for sim, original in zip(simulated, base, strict=True)}
    wanted = lower_environment(env, name)
    have = {key_of(resource): resource for resource in simulated}
    added: list[Resource] = []
    patches: list[Patch] = []
    for resource in wanted:
        key = key_of(resource)
        current = have.get(key)
        if current is None:
            added.append(resource)
        elif current != resource:
            original = originals[key]
            patches.append(
                Patch(
                    "patch-" + file_name(original), patch_for(current, resource), target(original)
                )
            )
    wanted_keys = {key_of(resource) for resource in wanted}
    for key, original in originals.items():
        if key not in wanted_keys:
            delete = {
                "apiVersion": original["apiVersion"],
                "kind": original["kind"],
                "metadata": {"name": original["metadata"]["name"]},
                "$patch": "delete",
            }
            patches.append(Patch("delete-" + file_name(original), delete, target(original)))
    generator = env.auth_secret.name if env.auth_secret.source == "generator" else None
    return OverlayPlan(fields, added, patches, generator, env.namespace, wanted)


def overlay_kustomization(plan: OverlayPlan) -> dict[str, Any]:
    fields = plan.fields
    doc: dict[str, Any] = {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "resources": ["../../base", *(file_name(r) for r in plan.resources)],
    }
    if fields.namespace is not None:
        doc["namespace"] = fields.namespace
    doc["labels"] = [{"pairs": {INSTANCE_LABEL: fields.instance}, "includeTemplates": True}]
    if fields.images:
        doc["images"] = fields.images
    if fields.replicas:
        doc["replicas"] = fields.replicas
    if plan.patches:
        doc["patches"] = [{"path": p.file, "target": p.target} for p in plan.patches]
    if plan.secret_generator is not None:
        # The hash suffix kustomize appends to the name rolls the pods when a value changes.
        # Its namespace must be the Deployment's, or kustomize leaves the references alone.
        doc["secretGenerator"] = [
            {"name": plan.secret_generator, "namespace": plan.namespace, "envs": [SECRET_ENV]}
        ]
    return doc


def secret_files(env: Settings, name: str) -> dict[str, str]:
    """The overlay's ignore rule and an example of the generator's git-ignored env file."""
    return {
        ".gitignore": f"# The secretGenerator's values never go into git.\n/{SECRET_ENV}\n",
        f"{SECRET_ENV}.example": example_text(name, env.required_secret_keys, env.secret_keys),
    }


def plan_tree(spec: Spec, sink: Callable[[str, bytes], None] | None = None) -> Tree:
    """Every generated file of base/ and overlays/, by path relative to the project root.

    ``sink`` is given each file as soon as it is planned (a path planned twice: again).
    """
    with gc_paused():
        return _plan_tree(spec, sink)


def _plan_tree(spec: Spec, sink: Callable[[str, bytes], None] | None) -> Tree:
    top = header(spec.path)
    tree: Tree = {}

    def add(path: str, data: bytes) -> None:
        tree[path] = data
        if sink is not None:
            sink(path, data)

    def put(path: str, document: Any) -> None:
        add(path, (top + dump(document)).encode("utf-8"))

    def put_resource(path: str, resource: Resource) -> None:
        why = comment(resource)
        lines = "".join(f"# {line}".rstrip() + "\n" for line in why.splitlines()) if why else ""
        add(path, (top + lines + dump(resource)).encode("utf-8"))

    base = lower_environment(spec.defaults, None)
    put(
        "base/kustomization.yaml",
        {
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "resources": [file_name(r) for r in base],
        },
    )
    for resource in base:
        put_resource(f"base/{file_name(resource)}", resource)
    # What the docs page lists of each environment: its resources' kinds and names, taken
    # from the lowering planned here (lowering again, or keeping every resource of a
    # thousand environments, cost a second and 100 MiB).
    listed: dict[str, list[tuple[str, str]]] = {}
    for name, env in spec.enabled():
        plan = plan_overlay(spec.defaults, base, env, name)
        listed[name] = [(r["kind"], r["metadata"]["name"]) for r in plan.lowered]
        prefix = f"overlays/{name}/"
        put(prefix + "kustomization.yaml", overlay_kustomization(plan))
        for resource in plan.resources:
            put_resource(prefix + file_name(resource), resource)
        for patch in plan.patches:
            put(prefix + patch.file, patch.content)
        if plan.secret_generator is not None:
            for file, text in secret_files(env, name).items():
                add(prefix + file, (top + text).encode("utf-8"))
    from compiler.docs import DOCS_PATH, environments_page
    from compiler.emit import dump_all
    from compiler.gitops import GITOPS_DIR, gitops_documents

    for name, env in spec.enabled():
        documents = gitops_documents(env, name)
        if documents:
            add(f"{GITOPS_DIR}/{name}.yaml", (top + dump_all(documents)).encode("utf-8"))

    add(DOCS_PATH, environments_page(spec, listed).encode("utf-8"))
    add(FINGERPRINT_PATH, fingerprint_text(spec.path, spec.source, tree).encode("utf-8"))
    return dict(sorted(tree.items()))
