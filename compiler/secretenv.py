"""The generator's git-ignored `secret.env`, read by us before kustomize ever sees it, and
the one redaction step for text we echo from kustomize, kubectl and git.

kustomize reads an env file leniently: a line without `=` becomes a key whose value is
looked up elsewhere, so a misplaced secret value turned into a Secret *key* and reached
the output. Here every line must be `KEY=VALUE` with a key the Secret has; anything else
is refused naming the file and line, never quoting the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from compiler import upstream
from compiler.errors import SecretFileError
from compiler.files import FileTooLargeError, NotRegularFileError, read_regular, special_file
from compiler.fingerprint import SECRET_ENV

ENV_PREFIX = "LLMGATEWAY_"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REQUIRED_MARK = "# Required, not empty:"
REDACTED = "(redacted)"
# Shorter values are not searched for in text: they would match ordinary words of the
# manifests. Values this short are refused where we make them (AUTH_SECRET: 32).
MIN_REDACTED = 8
MAX_SECRET_ENV_BYTES = 1024 * 1024
# Keys whose value is written unencoded into a URL: the postgres StatefulSet's password is
# part of the apps' DATABASE_URL (compiler/lower/data.py database_env). RFC 3986's
# unreserved characters are the ones a URL's user information never needs to escape;
# `secret --generate` makes hex.
URL_SAFE_KEYS = (upstream.POSTGRES_PASSWORD,)
URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


def url_safety_problem(key: str) -> str:
    """Why a value of ``key`` is refused (never quoting the value)."""
    return (
        f"{key} holds characters a URL must escape (only letters, digits and - . _ ~): the "
        f"apps' DATABASE_URL embeds it as it is; use a hex value (secret --generate)"
    )


def example_text(name: str, required: Iterable[str], keys: Iterable[str]) -> str:
    """The overlay's `secret.env.example` (after the generated header)."""
    return (
        f"# Copy to {SECRET_ENV} (git-ignored) and fill in, or run:\n"
        f"#   python -m compiler secret --env {name} --generate --format env "
        f"> overlays/{name}/{SECRET_ENV}\n"
        f"{REQUIRED_MARK} {' '.join(required)}\n" + "".join(f"{key}=\n" for key in keys)
    )


def example_keys(overlay: Path) -> tuple[list[str], list[str]] | None:
    """(every key, the required keys) from an overlay's example file; None without one."""
    try:
        raw = read_regular(overlay / f"{SECRET_ENV}.example", MAX_SECRET_ENV_BYTES)
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, FileTooLargeError, NotRegularFileError):
        return None
    keys = [line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")]
    required = next(
        (
            line.removeprefix(REQUIRED_MARK).split()
            for line in lines
            if line.startswith(REQUIRED_MARK)
        ),
        keys,
    )
    return keys, required


def refuse_special_secret_env(overlays: Iterable[Path]) -> None:
    """A secret.env that is a link, FIFO or device is refused (exit 2), whatever reads it:
    a link would be written through or leak another file, a FIFO would hang kustomize."""
    for overlay in overlays:
        mode = special_file(overlay / SECRET_ENV)
        if mode is not None:
            raise NotRegularFileError(overlay / SECRET_ENV, mode, "use")


def check_secret_env(overlay: Path) -> None:
    """Refuse a malformed `secret.env` of a generator overlay (exit 2); no file: nothing."""
    found = example_keys(overlay)
    path = overlay / SECRET_ENV
    if found is None or not os.path.lexists(path):
        return
    refuse_special_secret_env([overlay])
    keys, required = found
    display = f"overlays/{overlay.name}/{SECRET_ENV}"
    try:
        # Never through a link, never blocking on a FIFO (a NotRegularFileError is exit 2).
        raw = read_regular(path, MAX_SECRET_ENV_BYTES)
    except FileTooLargeError as exc:
        raise SecretFileError([f"{display}: {exc.size:,} bytes; not an env file"]) from None
    except OSError as exc:
        raise SecretFileError([f"{display}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_SECRET_ENV_BYTES:
        raise SecretFileError([f"{display}: more than {MAX_SECRET_ENV_BYTES:,} bytes"])
    problems = secret_env_problems(raw, keys, required, overlay.name)
    if problems:
        raise SecretFileError([f"{display}:{line}: {message}" for line, message in problems])


def secret_env_problems(
    raw: bytes, keys: list[str], required: list[str], environment: str
) -> list[tuple[int, str]]:
    """(line, message) for each problem; messages name keys the spec knows, never content."""
    problems: list[tuple[int, str]] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [(raw.count(b"\n", 0, exc.start) + 1, "not UTF-8 text; the file must be UTF-8")]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    seen: dict[str, int] = {}
    allowed = ", ".join(keys)
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\r" in line:
            problems.append((number, "ends with a carriage return: save the file with LF endings"))
            continue
        if any(ord(c) < 32 and c != "\t" for c in line):
            problems.append((number, "holds a control character"))
            continue
        if "=" not in line:
            problems.append(
                (
                    number,
                    f"not a KEY=VALUE line (a value continued from the line above?); "
                    f"keys: {allowed}",
                )
            )
            continue
        key, value = line.split("=", 1)
        if not KEY.fullmatch(key):
            hint = " (no spaces around '=')" if KEY.fullmatch(key.strip()) else ""
            problems.append((number, f"not a KEY=VALUE line{hint}; keys: {allowed}"))
            continue
        if key not in keys:
            problems.append((number, f"not a key of this Secret; keys: {allowed}"))
            continue
        if key in seen:
            problems.append((number, f"{key} is set again (first on line {seen[key]})"))
            continue
        seen[key] = number
        if key in required and not value:
            problems.append((number, f"{key} is empty; it is required"))
        elif key in required and key in URL_SAFE_KEYS and not URL_SAFE.fullmatch(value):
            problems.append((number, url_safety_problem(key)))
    end = len(lines) + 1
    hint = f"python -m compiler secret --env {environment} --generate --format env"
    for key in keys:
        if key not in seen:
            kind = "required key" if key in required else "key (authSecret.extraKeys)"
            problems.append((end, f"{kind} {key} is missing: add {key}=<value> ({hint})"))
    return problems


def known_secret_values(root: Path, environ: Mapping[str, str]) -> list[str]:
    """Every secret value we know of: `LLMGATEWAY_*` variables and every overlay's
    secret.env (malformed lines included, whole and after a leading key), longest first."""
    values = {v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
    overlays = root / "overlays"
    try:
        entries = list(os.scandir(overlays))
    except OSError:
        entries = []
    for entry in entries:
        path = Path(entry.path) / SECRET_ENV
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            raw = read_regular(path, MAX_SECRET_ENV_BYTES)
        except (OSError, FileTooLargeError, NotRegularFileError):
            continue  # absent, or refused (with its own message) where it is used
        text = raw.decode("utf-8", errors="replace")
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            pair = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=(.*)", line)
            if pair:
                values.add(pair.group(1))
                continue
            # A malformed line: the whole of it, and what follows a leading name.
            values.add(stripped)
            split = re.match(r"[A-Za-z_][A-Za-z0-9_]*\s*[=:\s]\s*(.*)", stripped)
            if split:
                values.add(split.group(1).strip())
    return sorted((v for v in values if len(v) >= MIN_REDACTED), key=len, reverse=True)


def redact_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every known secret value replaced (the one redaction step)."""
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text
