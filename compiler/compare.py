"""Compare manifests: drift of the committed tree, and the semantic diff of rendered ones.

Pure functions over plain data; the CLI gathers the inputs (files, kustomize output,
git exports) and prints the reports.

Field paths name list items by their `name` where they have one
(`spec.template.spec.containers[llmgateway].env[UI_URL].value`), so a report reads like
the manifest. No value of a Secret's `data` or `stringData` ever reaches a report: only
which keys were added, changed or removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from compiler.fingerprint import FINGERPRINT_PATH
from compiler.rendered import load_rendered

ResourceId = tuple[str, str, str, str]  # apiVersion, kind, namespace, name
SECRET_FIELDS = ("data", "stringData")
REDACTED = "(hidden)"


@dataclass(frozen=True)
class FieldChange:
    """One field of one resource: added (old None), removed (new None) or changed."""

    path: str
    old: Any
    new: Any
    kind: str = "changed"  # changed | added | removed


@dataclass
class ResourceChange:
    """What happens to one resource: added, removed or changed (with its field changes)."""

    id: ResourceId
    change: str  # added | removed | changed
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def label(self) -> str:
        _api, kind, namespace, name = self.id
        return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def load_documents(text: str) -> list[Any]:
    """Every non-empty YAML document of a stream (raises YAMLError on invalid YAML)."""
    yaml = YAML(typ="safe", pure=True)
    return [d for d in yaml.load_all(text) if d is not None]


def resource_id(resource: Any) -> ResourceId:
    meta = resource.get("metadata") or {}
    return (
        str(resource.get("apiVersion", "")),
        str(resource.get("kind", "")),
        str(meta.get("namespace", "") or ""),
        str(meta.get("name", "")),
    )


def index_resources(resources: Iterable[Any]) -> dict[ResourceId, Any]:
    return {resource_id(r): r for r in resources if isinstance(r, dict)}


def keyed(value: Any) -> Any:
    """Lists of mappings that all have a unique `name` become mappings keyed `[name]`."""
    if isinstance(value, dict):
        return {k: keyed(v) for k, v in value.items()}
    if isinstance(value, list):
        names = [v.get("name") for v in value if isinstance(v, dict)]
        if (
            value
            and len(names) == len(value)
            and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names)
        ):
            return {f"[{v['name']}]": keyed(v) for v in value}
        return [keyed(v) for v in value]
    return value


def render_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith("[") and part.endswith("]"):
            out += part
        else:
            out += f".{part}" if out else str(part)
    return out or "(whole document)"


def identical(old: Any, new: Any) -> bool:
    """Whether two parsed documents are the same values of the same types throughout
    (`1`, `1.0` and `true` are equal in Python, never identical here)."""
    if type(old) is not type(new):
        return False
    if isinstance(old, dict):
        return old.keys() == new.keys() and all(identical(v, new[k]) for k, v in old.items())
    if isinstance(old, list):
        return len(old) == len(new) and all(map(identical, old, new))
    return bool(old == new)


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Field-by-field changes between two documents, computed with deepdiff."""
    if identical(old, new):
        return []  # deepdiff finds nothing in identical documents, slowly
    from deepdiff import DeepDiff  # imported lazily: only comparing commands need it

    # threshold_to_diff_deeper=0: always list the fields, never "the whole mapping changed".
    diff = DeepDiff(keyed(old), keyed(new), view="tree", threshold_to_diff_deeper=0)
    changes: list[FieldChange] = []
    for report, levels in diff.items():
        for level in levels:
            path = render_path(level.path(output_format="list"))
            if report in ("dictionary_item_added", "iterable_item_added", "set_item_added"):
                changes.append(FieldChange(path, None, level.t2, "added"))
            elif report in ("dictionary_item_removed", "iterable_item_removed", "set_item_removed"):
                changes.append(FieldChange(path, level.t1, None, "removed"))
            else:
                changes.append(FieldChange(path, level.t1, level.t2))
    return sorted(changes, key=lambda c: c.path)


def redact_secret(resource: Any) -> tuple[Any, dict[str, Any]]:
    """A copy of a Secret without its values, and the values kept aside for comparison."""
    if not isinstance(resource, dict) or resource.get("kind") != "Secret":
        return resource, {}
    copy = {k: v for k, v in resource.items() if k not in SECRET_FIELDS}
    hidden = {f: resource.get(f) or {} for f in SECRET_FIELDS if f in resource}
    return copy, hidden


def secret_key_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Which Secret keys were added, changed or removed; never their values."""
    changes: list[FieldChange] = []
    for section in SECRET_FIELDS:
        before = old.get(section) or {}
        after = new.get(section) or {}
        if not isinstance(before, dict) or not isinstance(after, dict):
            if before != after:
                changes.append(FieldChange(section, REDACTED, REDACTED))
            continue
        for key in sorted(set(before) | set(after)):
            path = f"{section}.{key}"
            if key not in before:
                changes.append(FieldChange(path, None, REDACTED, "added"))
            elif key not in after:
                changes.append(FieldChange(path, REDACTED, None, "removed"))
            elif before[key] != after[key]:
                changes.append(FieldChange(path, REDACTED, REDACTED))
    return changes


# kustomize's generators append a content hash to the name: ten characters of the hex
# digest with 0, 1, 3, a and e replaced by g, h, k, m and t (api/hasher/hasher.go, encode).
HASH_SUFFIX = re.compile(r"-[2456789bcdfghkmt]{10}\Z")
GENERATED_KINDS = ("Secret", "ConfigMap")


def unhashed(rid: ResourceId) -> ResourceId | None:
    """The identity without kustomize's hash suffix, for a generated Secret or ConfigMap."""
    api, kind, namespace, name = rid
    if kind not in GENERATED_KINDS or not HASH_SUFFIX.search(name):
        return None
    return (api, kind, namespace, HASH_SUFFIX.sub("", name))


def hash_renames(
    removed: Iterable[ResourceId], added: Iterable[ResourceId]
) -> dict[ResourceId, ResourceId]:
    """Generated resources whose hash suffix changed: new identity -> old identity.

    Only one-to-one matches are paired; anything ambiguous stays a removal and an addition.
    """

    def by_stem(ids: Iterable[ResourceId]) -> dict[ResourceId, list[ResourceId]]:
        found: dict[ResourceId, list[ResourceId]] = {}
        for rid in ids:
            stem = unhashed(rid)
            if stem is not None:
                found.setdefault(stem, []).append(rid)
        return found

    old_stems, new_stems = by_stem(removed), by_stem(added)
    return {
        new_ids[0]: old_stems[stem][0]
        for stem, new_ids in new_stems.items()
        if len(new_ids) == 1 and len(old_stems.get(stem, [])) == 1
    }


def changed_resource(rid: ResourceId, old: Any, new: Any) -> ResourceChange | None:
    old_visible, old_hidden = redact_secret(old)
    new_visible, new_hidden = redact_secret(new)
    changes = field_changes(old_visible, new_visible)
    changes += secret_key_changes(old_hidden, new_hidden)
    return ResourceChange(rid, "changed", changes) if changes else None


def compare_resources(old: list[Any], new: list[Any]) -> list[ResourceChange]:
    """Resources matched by apiVersion, kind, namespace and name; secrets redacted.

    A generated Secret or ConfigMap whose content hash changed is one changed resource
    (its `metadata.name` among the changes), not a removal and an addition.
    """
    before = index_resources(old)
    after = index_resources(new)
    renamed = hash_renames(set(before) - set(after), set(after) - set(before))
    paired = set(renamed.values())
    out: list[ResourceChange] = []
    for rid in sorted(set(before) | set(after)):
        if rid in paired:
            continue
        if rid in renamed:
            change = changed_resource(rid, before[renamed[rid]], after[rid])
            if change:
                out.append(change)
        elif rid not in before:
            out.append(ResourceChange(rid, "added", resource_fields(after[rid])))
        elif rid not in after:
            out.append(ResourceChange(rid, "removed"))
        else:
            change = changed_resource(rid, before[rid], after[rid])
            if change:
                out.append(change)
    return out


def resource_fields(resource: Any) -> list[FieldChange]:
    """An added Secret lists its keys (not values); other added resources list nothing."""
    _, hidden = redact_secret(resource)
    return secret_key_changes({}, hidden) if hidden else []


def show(value: Any, limit: int = 120) -> str:
    """A value as one short line for a report."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        text = value if value == REDACTED else repr(value)
    elif isinstance(value, dict | list):
        import json

        text = json.dumps(unkeyed(value), sort_keys=False, default=str)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unkeyed(value: Any) -> Any:
    """Undo `keyed` for display."""
    if isinstance(value, dict):
        if value and all(
            isinstance(k, str) and k.startswith("[") and k.endswith("]") for k in value
        ):
            return [unkeyed(v) for v in value.values()]
        return {k: unkeyed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unkeyed(v) for v in value]
    return value


def describe_change(change: FieldChange) -> str:
    if change.kind == "added":
        return f"{change.path}: added {show(change.new)}"
    if change.kind == "removed":
        return f"{change.path}: removed (was {show(change.old)})"
    return f"{change.path}: {show(change.old)} -> {show(change.new)}"


# --- drift of the committed tree ------------------------------------------------------


@dataclass
class FileDrift:
    """One generated file that differs from what the spec compiles to."""

    path: str
    state: str  # missing | unexpected | changed | leftover (of an interrupted compile)
    details: list[str] = field(default_factory=list)


def document_label(document: Any, index: int) -> str:
    if isinstance(document, dict) and "kind" in document:
        name = (document.get("metadata") or {}).get("name")
        return f"{document['kind']}/{name}" if name else str(document["kind"])
    return f"document {index + 1}"


def text_changes(expected: bytes, actual: bytes, limit: int = 20) -> list[str]:
    """The changed lines of a file that is not YAML, as a short unified diff."""
    import difflib

    lines = [
        line
        for line in difflib.unified_diff(
            expected.decode("utf-8", errors="replace").splitlines(),
            actual.decode("utf-8", errors="replace").splitlines(),
            lineterm="",
            n=0,
        )
        if not line.startswith(("---", "+++", "@@"))
    ]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more changed lines"]
    return lines


def file_changes(expected: bytes, actual: bytes, path: str = "") -> list[str]:
    """Semantic changes of one YAML file, `resource: path: old -> new` (expected -> actual).

    Other files (the docs page, ignore rules) get their changed lines.
    """
    if path == FINGERPRINT_PATH:
        return ["the hashes of the generated files (follows from the other changes)"]
    if path and not path.endswith((".yaml", ".yml")):
        return text_changes(expected, actual)
    try:
        want = load_documents(expected.decode("utf-8"))
        have = load_documents(actual.decode("utf-8", errors="replace"))
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        return [f"not valid YAML any more ({first})"]
    if want == have:
        return ["only formatting differs (same YAML content)"]
    lines: list[str] = []
    if len(want) != len(have):
        lines.append(f"{len(want)} document(s) expected, {len(have)} found")
    for index, (w, h) in enumerate(zip(want, have, strict=False)):
        label = document_label(w, index)
        w_visible, w_hidden = redact_secret(w)
        h_visible, h_hidden = redact_secret(h)
        changes = field_changes(w_visible, h_visible) + secret_key_changes(w_hidden, h_hidden)
        lines.extend(f"{label}: {describe_change(c)}" for c in changes)
    return lines


def tree_drift(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[FileDrift]:
    """Files missing, unexpected or changed, with the semantic changes of each."""
    drift: list[FileDrift] = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            drift.append(FileDrift(path, "missing"))
        elif path not in expected:
            drift.append(FileDrift(path, "unexpected"))
        elif expected[path] != actual[path]:
            drift.append(
                FileDrift(path, "changed", file_changes(expected[path], actual[path], path))
            )
    return drift


def rendered_drift(expected: str, actual: str) -> list[str]:
    """Per-resource, per-field differences between two renderings (golden vs now)."""
    lines: list[str] = []
    for change in compare_resources(load_rendered(expected), load_rendered(actual)):
        if change.change != "changed":
            lines.append(f"{change.label}: {change.change}")
        for field_change in change.fields:
            lines.append(f"{change.label}: {describe_change(field_change)}")
    return lines


QUANTITY = re.compile(r"([0-9.]+)([a-zA-Z]*)")
FACTORS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity_bytes(value: Any) -> float | None:
    match = QUANTITY.fullmatch(str(value))
    if not match or match.group(2) not in FACTORS:
        return None
    try:
        return float(match.group(1)) * FACTORS[match.group(2)]
    except ValueError:
        return None
