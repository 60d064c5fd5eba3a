"""Render environments with kustomize, never reading a secret value unless asked to.

An overlay whose Secret comes from a secretGenerator reads the git-ignored
`overlays/<env>/secret.env`. Everything that only inspects the rendering (check, lint,
snapshot, diff) renders a scratch copy where that file holds placeholders, so no real
value can reach a report, a golden file or a log. Only `build` reads the real file, and
it hides the Secret's values in what it prints.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from compiler.emit import dump
from compiler.errors import ExternalError, UsageError
from compiler.files import NotRegularFileError, create_new, read_regular, special_file
from compiler.fingerprint import SECRET_ENV
from compiler.kustomize import Kustomize
from compiler.rendercache import KIND, RenderCache, cached_render, git_tree_id, reads_only
from compiler.secretenv import check_secret_env, refuse_special_secret_env

PLACEHOLDER = "placeholder-not-a-secret"
REDACTED = "(redacted)"
MAX_EXAMPLE_BYTES = 64 * 1024


def generator_keys(overlay: Path) -> list[str] | None:
    """The keys of an overlay's secretGenerator (from its generated example), or None."""
    try:
        data = read_regular(overlay / f"{SECRET_ENV}.example", MAX_EXAMPLE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ExternalError(f"cannot read {overlay / SECRET_ENV}.example: {exc.strerror}") from None
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")]


def render(
    kustomize: Kustomize,
    overlays: Sequence[Path],
    *,
    real_secrets: bool = False,
    cache: RenderCache | None = None,
    check: bool = True,
    cores: int | None = None,
) -> list[str]:
    """kustomize's output for each overlay directory (each `<root>/overlays/<name>`);
    with a ``cache``, kustomize runs only for the overlays whose inputs changed.
    ``check=False`` and ``cores``: see `Kustomize.build_many` (check: one overlay, no
    cache)."""
    generated = [o for o in overlays if generator_keys(o) is not None]
    refuse_special_secret_env(generated)
    if real_secrets:
        missing = [o for o in generated if not (o / SECRET_ENV).is_file()]
        if missing:
            raise UsageError(
                "missing "
                + ", ".join(str(o / SECRET_ENV) for o in missing)
                + ": the secretGenerator reads the Secret's values from it (git-ignored); "
                f"create it with: python -m compiler secret --env {missing[0].name} "
                f"--generate --format env > {missing[0] / SECRET_ENV}"
            )
    # Read by us first: kustomize turns a malformed line into a key, value included.
    for overlay in generated:
        check_secret_env(overlay)
    if cache is None or real_secrets:
        return render_directories(
            kustomize, overlays, real_secrets=real_secrets, check=check, cores=cores
        )
    keys = cache.keys(overlays)

    def misses(indexes: list[int]) -> list[tuple[str, bool]]:
        chosen = [overlays[i] for i in indexes]
        texts = render_directories(kustomize, chosen, real_secrets=False, cores=cores)
        # Stored only when nothing changed while kustomize read it, and it read only these.
        after = cache.keys(chosen)
        stored = [
            after[n] == keys[i] and reads_only(o.parent.parent, [o.parent.parent / "base", o])
            for n, (i, o) in enumerate(zip(indexes, chosen, strict=True))
        ]
        return list(zip(texts, stored, strict=True))

    return cached_render(cache.cache, keys, misses)


def render_directories(
    kustomize: Kustomize,
    overlays: Sequence[Path],
    *,
    real_secrets: bool,
    check: bool = True,
    cores: int | None = None,
) -> list[str]:
    """kustomize's output for each overlay, a generator's values replaced by placeholders
    unless ``real_secrets`` (the overlays' secret.env files are checked already)."""
    generated = [o for o in overlays if generator_keys(o) is not None]
    if real_secrets or not generated:
        return kustomize.build_many(list(overlays), check=check, cores=cores)
    with tempfile.TemporaryDirectory(prefix="llmgw-render-") as scratch:
        targets: list[Path] = []
        for index, overlay in enumerate(overlays):
            keys = generator_keys(overlay)
            if keys is None:
                targets.append(overlay)
                continue
            root = Path(scratch) / str(index)
            copy_regular(overlay.parent.parent / "base", root / "base")
            copy = root / "overlays" / overlay.name
            copy_regular(overlay, copy, skip=SECRET_ENV)  # the real values are never copied
            placeholders = "".join(f"{key}={PLACEHOLDER}\n" for key in keys)
            create_new(copy / SECRET_ENV, placeholders.encode())
            targets.append(copy)
        return kustomize.build_many(targets, cores=cores)


def render_revision(
    kustomize: Kustomize,
    revision: str,
    names: Sequence[str],
    scratch: Path,
    cache: RenderCache | None = None,
    planned: Mapping[str, bytes] | None = None,
) -> list[str]:
    """The overlays ``names`` as committed at ``revision``. With a ``cache``, keyed by the
    git tree ids of base/ and each overlay (nothing exported for that); only the misses
    are exported, into ``scratch``, and rendered.

    An overlay committed exactly as ``planned`` has it (the tree compile writes: the same
    git tree ids for base/ and the overlay, no .gitattributes to filter the export) has
    the same files, so the same rendering, as the other side of `diff`: it is written
    from the plan instead of exported, and keyed by its files as that side is, so it is
    rendered once for both sides (and not at all when `check` or an early start rendered
    the same files already)."""
    from compiler import git

    same: list[str] = []  # committed as planned
    borrowed: dict[int, str | None] = {}  # keyed by their files: index -> git key

    def export_and_render(indexes: list[int]) -> list[tuple[str, bool]]:
        chosen = [scratch / "overlays" / names[i] for i in indexes]
        exported = [f"overlays/{o.name}" for o in chosen if o.name not in same]
        if exported or not same:
            git.export_tree(revision, scratch, paths=(*(() if same else ("base",)), *exported))
        texts = render(kustomize, chosen)
        return [
            (text, reads_only(scratch, [scratch / "base", o]))
            for text, o in zip(texts, chosen, strict=True)
        ]

    if cache is None:
        return [text for text, _ in export_and_render(list(range(len(names))))]
    trees = git.tree_ids(revision, ("base", ".gitattributes", "overlays/"))
    keys = cache.git_keys(trees, names)
    # Those cached under their git key need nothing written (a later diff's usual case).
    same.extend(
        name
        for name in committed_as_planned(trees, planned or {}, names)
        if not (key := keys[names.index(name)]) or cache.cache.get(KIND, key) is None
    )
    if same:
        for rel, data in (planned or {}).items():
            if rel.startswith(("base/", *(f"overlays/{name}/" for name in same))):
                (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
                create_new(scratch / rel, data)
        files = cache.keys([scratch / "overlays" / name for name in same])
        for name, key in zip(same, files, strict=True):
            index = names.index(name)
            committed = keys[index]
            if key and (committed is None or cache.cache.get(KIND, committed) is None):
                keys[index], borrowed[index] = key, committed
    texts = cached_render(cache.cache, keys, export_and_render)
    for index, committed in borrowed.items():
        # Kept under the git key too (when storable, so stored): a later diff whose spec
        # changed this overlay still finds the committed side's rendering.
        if committed and cache.cache.get(KIND, keys[index] or "") is not None:
            cache.cache.put(KIND, committed, texts[index])
    return texts


def committed_as_planned(
    trees: Mapping[str, str], planned: Mapping[str, bytes], names: Sequence[str]
) -> list[str]:
    """Those of ``names`` whose base/ and overlay have, as committed (``trees``:
    `git.tree_ids`), the git tree ids of the ``planned`` files."""
    if ".gitattributes" in trees or "base" not in trees:
        return []
    kind = "sha256" if len(trees["base"]) == 64 else "sha1"  # the repository's object format
    # The planned files of base/ and of each overlay, relative to it (one pass: a fleet's
    # plan holds thousands of files).
    folders: dict[str, dict[str, bytes]] = {}
    for rel, data in planned.items():
        top, _, rest = rel.partition("/")
        if top == "overlays":
            name, _, rest = rest.partition("/")
            top = f"overlays/{name}"
        if rest:
            folders.setdefault(top, {})[rest] = data
    if "base" not in folders or git_tree_id(folders["base"], kind) != trees["base"]:
        return []
    return [
        name
        for name in names
        if f"overlays/{name}" in trees
        and git_tree_id(folders.get(f"overlays/{name}", {}), kind) == trees[f"overlays/{name}"]
    ]


def copy_regular(source: Path, destination: Path, skip: str = "") -> None:
    """Copy a directory tree holding only directories and regular files; anything else
    (a link, a FIFO, a device) is refused, so nothing is read or written through it."""
    mode = special_file(source)
    if mode is not None and not stat.S_ISDIR(mode):
        raise NotRegularFileError(source, mode, "copy")
    destination.mkdir(parents=True)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            copy_regular(path, destination / entry.name)
        elif entry.name != skip:
            try:
                create_new(destination / entry.name, read_regular(path))
            except OSError as exc:
                raise ExternalError(f"cannot copy {path}: {exc.strerror}") from None


def redact(text: str) -> str:
    """kustomize output with every Secret's values replaced; other documents untouched."""
    documents = text.split("\n---\n")
    out: list[str] = []
    for document in documents:
        if "kind: Secret" not in document:
            out.append(document)
            continue
        from compiler.rendered import load_rendered

        (parsed,) = load_rendered(document)
        if not isinstance(parsed, dict) or parsed.get("kind") != "Secret":
            out.append(document)
            continue
        hidden: Any = dict(parsed)
        for section in ("data", "stringData"):
            if isinstance(hidden.get(section), dict):
                hidden[section] = dict.fromkeys(hidden[section], REDACTED)
        out.append(dump(hidden).rstrip("\n"))
    joined = "\n---\n".join(out)
    return joined if joined.endswith("\n") else joined + "\n"
