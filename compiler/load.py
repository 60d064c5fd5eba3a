"""Load the spec: YAML with positions, then the models, then the cross-field rules.

The YAML is composed by libyaml where it parses the text exactly as ruamel.yaml does,
else by ruamel (compose_with_libyaml); ruamel builds the values either way.

Every problem found is reported at once, each located at the file, line and column of
the key it is about. Environments are merged over the defaults field by field (mappings
merge, lists and scalars replace), and a problem found in the merged result points at
whichever of the two files' places the value came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import stat
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, StringMark, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from compiler.errors import Problem, SpecError
from compiler.files import FileTooLargeError, NotRegularFileError, kind_of, read_regular
from compiler.gitops import MAX_LABEL_VALUE, object_name
from compiler.spec import (
    EnvironmentSettings,
    Settings,
    Spec,
    check_dns_label,
    check_rules,
)

MAX_SPEC_BYTES = 1024 * 1024
# More values than this after alias expansion is a YAML alias bomb, not a deployment spec.
MAX_VALUES = 100_000
MAX_DEPTH = 64
DEFAULT_SPEC_PATH = "spec/llmgateway.yaml"
YAML_TAG = "tag:yaml.org,2002:"
STR = YAML_TAG + "str"

Path_ = tuple[str | int, ...]
Positions = dict[Path_, tuple[int, int]]


def load_spec(path: str | Path = DEFAULT_SPEC_PATH, *, strict: bool = False) -> Spec:
    """Read, parse and validate the spec at ``path``; raise SpecError listing every problem.

    With ``strict``, warnings are errors.
    """
    display = str(path)

    def fail(message: str) -> SpecError:
        return SpecError([Problem(display, 1, 1, "", message)])

    limit = f"the limit is {MAX_SPEC_BYTES:,} (1 MiB)"
    try:
        # At most the limit + 1 bytes are read, whatever stat says (/dev/zero says 0).
        raw = read_regular(path, MAX_SPEC_BYTES)
    except FileTooLargeError as exc:  # refused before reading, so memory stays flat
        raise fail(f"spec is {exc.size:,} bytes; {limit}") from None
    except NotRegularFileError as exc:
        if stat.S_ISDIR(exc.mode):
            raise fail("is a directory, not a spec file") from None
        raise fail(f"is {kind_of(exc.mode)}, not a regular file; refusing to read it") from None
    except FileNotFoundError:
        where = (
            f": no {DEFAULT_SPEC_PATH} here; use -C DIR or --spec PATH"
            if Path(path) == Path(DEFAULT_SPEC_PATH)
            else ""
        )
        raise fail(f"spec file not found{where}") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise fail(f"spec is more than {MAX_SPEC_BYTES:,} bytes; {limit}")
    return parse_spec(raw, display, strict=strict)


def parse_spec(raw: bytes, display: str, *, strict: bool = False) -> Spec:
    """Validate spec bytes; ``display`` is the file name used in messages."""
    data, positions = read_yaml(raw, display)
    spec = SpecReader(display, positions).read(data, strict=strict)
    return dataclasses.replace(spec, source=raw)


def read_yaml(raw: bytes, display: str, *, libyaml: bool = True) -> tuple[Any, Positions]:
    """Parse YAML bytes into plain data and the 1-based position of every key and item.

    With ``libyaml``, text that libyaml parses as ruamel does is parsed by libyaml (see
    compose_with_libyaml); the result is the same either way, only faster.
    """

    def fail(line: int, column: int, message: str) -> SpecError:
        return SpecError([Problem(display, line, column, "", message)])

    if len(raw) > MAX_SPEC_BYTES:
        raise fail(1, 1, f"spec is {len(raw):,} bytes; the limit is {MAX_SPEC_BYTES:,} (1 MiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise fail(line, column, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    deep = flow_nesting(text)
    if deep is not None:
        raise fail(*deep, f"nested deeper than {MAX_DEPTH} levels")
    reader = YAML(typ="rt", pure=True)
    reader.allow_duplicate_keys = False
    # YAML lets an anchor be defined again (an alias takes the latest); ruamel's warning
    # would print the spec's text on stderr, or raise where warnings are errors.
    reader.composer.warn_double_anchors = False
    try:
        # Composed first, checked, then constructed: what the spec cannot take (a tag,
        # a merge key, a key that is not a string) never reaches ruamel's constructors.
        root = compose_with_libyaml(text, reader.resolver) if libyaml else None
        if root is None:
            root = reader.compose(text)
        refused = first_refused(root, reader.resolver) if root is not None else None
        if refused is not None:
            line, column, path, message = refused
            raise SpecError([Problem(display, line, column, dotted(path), message)])
        document = reader.constructor.construct_document(root) if root is not None else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise fail(line, column, yaml_message(exc)) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        character = exc.character if isinstance(exc.character, int) else ord(str(exc.character))
        raise fail(
            line, column, f"invalid YAML: control character 0x{character:02x} is not allowed"
        ) from None
    except YAMLError as exc:
        raise fail(1, 1, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise fail(1, 1, "YAML is nested too deeply to be a deployment spec") from None
    return PlainConverter(display, text).convert(document)


# Printable ASCII and line feeds only: where libyaml (YAML 1.1) and ruamel (YAML 1.2) read
# characters alike (1.1 also breaks lines at U+0085, U+2028 and U+2029; tabs and carriage
# returns have rules of their own).
_LIBYAML_TEXT = re.compile(r"[\n\x20-\x7e]*")


def compose_with_libyaml(text: str, resolver: Any) -> Node | None:
    """The node tree ruamel's composer makes of ``text``, parsed by libyaml; None when
    the text is not one ruamel and libyaml are known to parse alike.

    ruamel's pure-Python scanner and parser were most of the time spent reading a large
    spec (0.8 s of 0.9 s CPU for 1,000 environments); libyaml (PyYAML's C parser)
    parses the same text in 0.08 s. Only the parsing changes: its events become the
    nodes ruamel's composer makes (tags resolved by ruamel's YAML 1.2 ``resolver``, the
    same line and column marks), and what follows (refusals, construction, duplicate
    keys, positions) is ruamel's as before. libyaml is a YAML 1.1 parser, so it is used
    only where the two parse alike: printable ASCII without tabs or carriage returns,
    one document, no directive, tag, anchor or alias, no block scalar, no scalar of
    several lines, no empty key or list item, nesting within MAX_DEPTH. Any other text,
    and any text libyaml refuses, is composed by ruamel: its reading and its messages
    stay exactly as they were (tests/test_fast_compose.py reads every spec the tests
    know and hostile inputs both ways).
    """
    if not _LIBYAML_TEXT.fullmatch(text):
        return None
    try:
        events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        return None  # ruamel says what is wrong, as it always did
    if len(events) < 5:  # an empty stream: ruamel's own reading of it
        return None
    opening, body, closing = events[1], events[2:-2], events[-2]
    if (
        not isinstance(opening, yaml.DocumentStartEvent)
        or opening.version is not None
        or opening.tags is not None
        or not isinstance(closing, yaml.DocumentEndEvent)
        or any(isinstance(event, yaml.DocumentStartEvent) for event in body)
    ):
        return None

    def mark(event_mark: Any) -> StringMark:
        return StringMark(
            "<unicode string>",
            event_mark.index,
            event_mark.line,
            event_mark.column,
            text,
            event_mark.index,
        )

    root: Node | None = None
    # Open collections, each with the key waiting for its value (mappings).
    stack: list[tuple[Node, Node | None]] = []

    def add(node: Node) -> bool:
        nonlocal root
        if not stack:
            if root is not None:
                return False
            root = node
            return True
        parent, key = stack[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif key is None:
            stack[-1] = (parent, node)
        else:
            parent.value.append((key, node))
            stack[-1] = (parent, None)
        return True

    for event in body:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if (
                event.anchor is not None
                or event.tag is not None
                or event.style not in _LIBYAML_STYLES
                or event.start_mark.line != event.end_mark.line
            ):
                return None
            # An empty value: libyaml marks it after its key, ruamel at the next token (or
            # elsewhere, comments decide). Only a mapping value's mark is read by nothing;
            # as a key or a list item it is a position: left to ruamel.
            if (
                event.value == ""
                and not event.style
                and (not stack or isinstance(stack[-1][0], SequenceNode) or stack[-1][1] is None)
            ):
                return None
            node: Node = ScalarNode(
                resolver.resolve(ScalarNode, event.value, event.implicit),
                event.value,
                mark(event.start_mark),
                mark(event.end_mark),
                style=_LIBYAML_STYLES[event.style],
            )
            if not add(node):
                return None
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH:
                return None
            collection = MappingNode if kind is yaml.MappingStartEvent else SequenceNode
            node = collection(
                resolver.resolve(collection, None, event.implicit),
                [],
                mark(event.start_mark),
                None,
                flow_style=event.flow_style,
            )
            if not add(node):
                return None
            stack.append((node, None))
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            if not stack or stack[-1][1] is not None:
                return None
            node, _ = stack.pop()
            node.end_mark = mark(event.end_mark)
        else:  # an alias
            return None
    return root if not stack else None


# libyaml's scalar styles (PyYAML gives '' for plain) as ruamel's nodes have them; block
# scalars ('|', '>') are left to ruamel.
_LIBYAML_STYLES: dict[str | None, str | None] = {"": None, None: None, "'": "'", '"': '"'}


def first_refused(root: Node, resolver: Any) -> tuple[int, int, Path_, str] | None:
    """The first node, in document order, the spec does not take: where, and why."""
    seen: set[int] = set()
    stack: list[tuple[Node, bool, Path_]] = [(root, False, ())]
    while stack:
        node, is_key, path = stack.pop()
        if id(node) in seen:  # an alias: checked where its anchor is
            continue
        seen.add(id(node))
        reason = refusal(node, is_key, resolver)
        if reason is not None:
            return node.start_mark.line + 1, node.start_mark.column + 1, path, reason
        if isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack += [(value, False, (*path, str(key.value))), (key, True, path)]
        elif isinstance(node, SequenceNode):
            stack += [
                (item, False, (*path, i)) for i, item in reversed(list(enumerate(node.value)))
            ]
    return None


def refusal(node: Node, is_key: bool, resolver: Any) -> str | None:
    """Why one node is refused: any tag other than the one YAML infers, a merge key, a key
    that is not a string, or an integer too long for Python to read."""
    tag = str(node.tag)
    if isinstance(node, ScalarNode):
        plain = node.style is None  # quoted and block scalars are strings
        inferred = resolver.resolve(ScalarNode, node.value, (True, True)) if plain else STR
        if is_key and tag == YAML_TAG + "merge":
            return (
                "merge keys ('<<') are not supported: environments already merge over "
                "defaults; write the fields out"
            )
        if tag != inferred:
            hint = "; quote the value instead" if tag == STR else ""
            return f"tag {shown_tag(tag)} is not supported: the spec takes plain values{hint}"
        limit = sys.get_int_max_str_digits()
        if tag == YAML_TAG + "int" and limit and len(node.value) > limit:
            return f"a number of {len(node.value):,} digits; numbers have at most {limit:,}"
        if is_key and tag != STR:
            kind = {"int": "a number", "float": "a number", "bool": "a boolean"}.get(
                tag.removeprefix(YAML_TAG), "null"
            )
            written = one_line(node.value if len(node.value) <= 40 else node.value[:37] + "...")
            return f"key {written} is {kind}, not a string; quote it if it is a name"
        return None
    expected = YAML_TAG + ("map" if isinstance(node, MappingNode) else "seq")
    if tag != expected:
        return f"tag {shown_tag(tag)} is not supported: the spec takes plain values"
    if is_key:
        return f"a {'mapping' if isinstance(node, MappingNode) else 'list'} cannot be a key"
    return None


def shown_tag(tag: str) -> str:
    """`!!omap` for YAML's own tags, others as written."""
    return (
        "'" + one_line("!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag) + "'"
    )


def flow_nesting(text: str) -> tuple[int, int] | None:
    """Where `[` and `{` nest deeper than MAX_DEPTH, found before the parser recurses."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    line, start = 1, 0
    quote = ""
    for index, char in enumerate(text):
        if char == "\n":
            # An apostrophe in a comment or plain text must not hide the rest.
            line, start, quote = line + 1, index + 1, ""
        elif quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, index - start + 1
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def yaml_message(exc: MarkedYAMLError) -> str:
    problem = (exc.problem or "invalid YAML").strip()
    if "found duplicate key" in problem:
        key = problem.split('"')[1] if '"' in problem else ""
        return f"duplicate key '{one_line(key)}'" if key else "duplicate key"
    context = (exc.context or "").strip()
    return f"invalid YAML: {context + ': ' if context else ''}{problem}"


class WrittenFloat(float):
    """A float from the spec with its text as written."""

    written: str

    def __new__(cls, value: float, written: str) -> WrittenFloat:
        instance = super().__new__(cls, value)
        instance.written = written
        return instance


class PlainConverter:
    """Turns ruamel's round-trip nodes into plain dicts and lists, recording positions.

    Counts every value it produces, so aliases that expand to millions of values
    (billion laughs) stop early instead of exhausting memory.
    """

    def __init__(self, display: str, text: str = "") -> None:
        self.display = display
        self.lines = text.splitlines()
        self.positions: Positions = {}
        self.count = 0

    def convert(self, document: Any) -> tuple[Any, Positions]:
        return self.value(document, (), 0), self.positions

    def written(self, value: Any, position: tuple[int, int]) -> Any:
        """A float that remembers how it was written (`1.10`, not `1.1`), for messages."""
        if not isinstance(value, float):
            return value
        line, column = position
        text = self.lines[line][column:] if 0 <= line < len(self.lines) else ""
        token = re.match(r"[^\s,\]\}#]+", text)
        return WrittenFloat(value, token.group(0) if token else repr(value))

    def value(self, node: Any, path: Path_, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            # At the top-level key whose value expands, not deep inside the aliases.
            line, column = self.positions.get(path[:1], (1, 1))
            raise SpecError(
                [
                    Problem(
                        self.display,
                        line,
                        column,
                        "",
                        f"spec expands to more than {MAX_VALUES:,} values "
                        "(YAML aliases repeating each other?)",
                    )
                ]
            )
        if depth > MAX_DEPTH:
            line, column = self.positions.get(path, (1, 1))
            raise SpecError(
                [Problem(self.display, line, column, "", f"nested deeper than {MAX_DEPTH} levels")]
            )
        if isinstance(node, CommentedMap):
            out: dict[Any, Any] = {}
            for key, item in node.items():
                line, column = node.lc.key(key)
                child = (*path, key if isinstance(key, str | int) else str(key))
                self.positions[child] = (line + 1, column + 1)
                out[child[-1]] = self.written(
                    self.value(item, child, depth + 1), node.lc.value(key)
                )
            return out
        if isinstance(node, CommentedSeq):
            items: list[Any] = []
            for index, item in enumerate(node):
                line, column = node.lc.item(index)
                child = (*path, index)
                self.positions[child] = (line + 1, column + 1)
                items.append(self.written(self.value(item, child, depth + 1), (line, column)))
            return items
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, str):
            return str(node)
        # Timestamps, binary and other YAML types: keep as text so the models reject them.
        return str(node)


def dotted(path: Path_) -> str:
    """`environments.prod.adminEmails[0]` from a path tuple, always on one line."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{one_line(part)}" if out else one_line(part)
    return out


def one_line(text: str) -> str:
    """``text`` with line breaks, NUL and other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` over ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return override


def present(data: Any, path: Path_) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def origin(override: dict[Any, Any], defaults: dict[Any, Any], path: Path_) -> bool:
    """Whether the value at ``path`` of a merged environment comes from its override."""
    node = override
    for depth, part in enumerate(path):
        if part not in node:
            # A key missing under a mapping the environment sets (TLS turned on without
            # an issuer) is that environment's doing; missing at the top, the defaults'.
            return depth > 0 and not present(defaults, path)
        node = node[part]
        if not isinstance(node, dict):
            return True
    return True


class SpecReader:
    """Validates plain spec data and turns every finding into a located Problem."""

    def __init__(self, display: str, positions: Positions) -> None:
        self.display = display
        self.positions = positions
        self.problems: list[Problem] = []
        self.raw_defaults: dict[Any, Any] = {}

    def problem(self, path: Path_, message: str, *, warning: bool = False) -> None:
        line, column = self.locate(path)
        self.problems.append(Problem(self.display, line, column, dotted(path), message, warning))

    def locate(self, path: Path_) -> tuple[int, int]:
        for end in range(len(path), 0, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)

    def read(self, data: Any, *, strict: bool) -> Spec:
        if not isinstance(data, dict):
            kind = "empty" if data is None else f"a {yaml_type(data)}"
            self.problem(
                (), f"the spec must be a mapping with 'defaults' and 'environments', not {kind}"
            )
            raise SpecError(self.problems)
        sections = ["defaults", "environments"]
        misspelled: set[str] = set()
        for key in data:
            if key not in sections:
                self.problem((key,), unknown_field_message(key, sections))
                misspelled.update(difflib.get_close_matches(str(key), sections, n=1, cutoff=0.6))
        for key in sections:
            if key not in data and key not in misspelled:
                self.problem((), f"missing required section '{key}'")
        raw_defaults = data.get("defaults")
        if isinstance(raw_defaults, dict):
            self.raw_defaults = raw_defaults
        raw_environments = data.get("environments")
        if "defaults" in data and not isinstance(raw_defaults, dict):
            self.problem(
                ("defaults",), f"must be a mapping of fields, not {yaml_type(raw_defaults)}"
            )
        defaults = None
        if isinstance(raw_defaults, dict):
            defaults = self.validate(Settings, raw_defaults, ("defaults",), None)
            if defaults is not None:
                for violation in check_rules(defaults):
                    self.problem(
                        ("defaults", *violation.path), violation.message, warning=violation.warning
                    )
        defaults_findings = {(p.path, p.message) for p in self.problems}
        environments: dict[str, EnvironmentSettings] = {}
        if "environments" in data and not isinstance(raw_environments, dict):
            self.problem(
                ("environments",),
                f"must be a mapping of environment names, not {yaml_type(raw_environments)}",
            )
        elif isinstance(raw_environments, dict):
            # Without a mapping of defaults, merged environments would only repeat that
            # one problem; their names are still checked.
            environments = self.read_environments(
                raw_environments,
                raw_defaults if isinstance(raw_defaults, dict) else None,
                defaults_findings,
            )
            self.check_collisions(environments, raw_environments)
            if not any(env.enabled for env in environments.values()) and not self.errors():
                self.problem(
                    ("environments",),
                    "no environment is enabled: define one, or set enabled: true on one",
                )
        warnings = [p for p in self.problems if p.warning]
        if strict:
            self.problems = [
                Problem(p.file, p.line, p.column, p.path, p.message) if p.warning else p
                for p in self.problems
            ]
        if self.errors() or defaults is None:
            raise SpecError(self.problems)
        return Spec(self.display, defaults, environments, tuple(warnings))

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    def read_environments(
        self,
        raw_environments: dict[Any, Any],
        raw_defaults: dict[str, Any] | None,
        defaults_findings: set[tuple[str, str]],
    ) -> dict[str, EnvironmentSettings]:
        environments: dict[str, EnvironmentSettings] = {}
        for name, override in raw_environments.items():
            prefix: Path_ = ("environments", name)
            try:
                check_dns_label(str(name))
            except ValueError as exc:
                self.problem(prefix, f"environment name {exc}")
                continue
            if override is None:
                override = {}
            if not isinstance(override, dict):
                self.problem(
                    prefix, f"must be a mapping of fields to override, not {yaml_type(override)}"
                )
                continue
            if raw_defaults is None:
                continue
            merged = deep_merge(raw_defaults, override)
            before = len(self.problems)
            env = self.validate(
                EnvironmentSettings, merged, prefix, (override, defaults_findings, str(name))
            )
            if env is not None:
                for violation in check_rules(env):
                    self.merged_problem(
                        violation.path,
                        violation.message,
                        violation.warning,
                        prefix,
                        override,
                        defaults_findings,
                        str(name),
                    )
                if env.gitops is not None and len(object_name(name)) > MAX_LABEL_VALUE:
                    self.problem(
                        prefix,
                        f"with gitops, this environment's {env.gitops.tool} objects are named "
                        f"'{object_name('<name>')}', which the controller writes into a label "
                        f"of at most {MAX_LABEL_VALUE} characters: use an environment name of "
                        f"at most {MAX_LABEL_VALUE - len(object_name(''))} characters",
                    )
                if len(self.problems) == before or all(p.warning for p in self.problems[before:]):
                    environments[str(name)] = env
        return environments

    def check_collisions(
        self, environments: dict[str, EnvironmentSettings], raw_environments: dict[Any, Any]
    ) -> None:
        """Two enabled environments may share no namespace (every resource of one lives in
        its Namespace, a cluster-wide object) and no Ingress host.

        Reported at the later environment's field: the namespace or domain line, or its
        key when the value is inherited from the defaults.
        """
        from compiler.lower.meta import hosts

        overrides = {str(k): v for k, v in raw_environments.items() if isinstance(v, dict)}
        namespaces: dict[str, str] = {}
        served: dict[str, str] = {}
        for name, env in environments.items():
            if not env.enabled:
                continue
            override = overrides.get(name, {})
            owner = namespaces.setdefault(env.namespace, name)
            if owner != name:
                self.collision(
                    name,
                    override,
                    "namespace",
                    f"namespace '{env.namespace}'",
                    f"is also environment '{owner}''s: applying one would overwrite the "
                    "other's Namespace, Deployment, claim and Ingresses; set "
                    f"environments.{name}.namespace to a namespace of its own",
                )
            shared: dict[str, list[str]] = {}
            for host in hosts(env).values():
                other = served.setdefault(host, name)
                if other != name:
                    shared.setdefault(other, []).append(host)
            for other, taken in shared.items():
                self.collision(
                    name,
                    override,
                    "domain",
                    f"host{'s' if len(taken) > 1 else ''} {', '.join(taken)}",
                    f"{'are' if len(taken) > 1 else 'is'} also served by environment "
                    f"'{other}': the ingress controller would send one environment's users "
                    f"to the other; set environments.{name}.domain to a domain of its own",
                )

    def collision(
        self, name: str, override: dict[Any, Any], field: str, subject: str, rest: str
    ) -> None:
        """A collision at the environment's field, or at its key when the value is inherited."""
        prefix: Path_ = ("environments", name)
        if field in override:
            self.problem((*prefix, field), f"{subject} {rest}")
        else:
            self.problem(prefix, f"{subject} (the defaults' {field}) {rest}")

    def merged_problem(
        self,
        path: Path_,
        message: str,
        warning: bool,
        prefix: Path_,
        override: dict[str, Any] | None,
        defaults_findings: set[tuple[str, str]] | None,
        env_name: str,
    ) -> None:
        """Record a problem of a merged environment at the place its value came from."""
        if override is None or origin(override, self.raw_defaults, path):
            self.problem((*prefix, *path), message, warning=warning)
            return
        # The value comes from the defaults: reported there once, unless only this
        # environment's combination of values breaks the rule.
        if (
            defaults_findings is not None
            and (dotted(("defaults", *path)), message) in defaults_findings
        ):
            return
        self.problem(
            ("defaults", *path), f"{message} (in environment '{env_name}')", warning=warning
        )

    def validate(
        self,
        model: type[Settings],
        data: dict[str, Any],
        prefix: Path_,
        merge: tuple[dict[str, Any], set[tuple[str, str]], str] | None,
    ) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc: Path_ = tuple(error["loc"])
                message = pydantic_message(model, loc, error)
                if error["type"] == "extra_forbidden":
                    message = self.indentation_hint(model, prefix, loc) or message
                if merge is None:
                    self.problem((*prefix, *loc), message)
                else:
                    override, findings, env_name = merge
                    self.merged_problem(loc, message, False, prefix, override, findings, env_name)
            return None

    def indentation_hint(self, model: type[Settings], prefix: Path_, loc: Path_) -> str:
        """For an unknown key that is a known key one level up or down: which line to check.

        A key known one level up was indented too far: its own line. A key known one
        level down belongs under a sibling field; when the mapping holding it is named
        like that field, that mapping's key was dedented (`storage:` under an
        environment reads as an environment named storage): its line.
        """
        key = str(loc[-1])
        parent = loc[:-1]
        if parent and key in field_names(model, parent[:-1]):
            where, why = loc, "one level up"
        else:
            owners = [
                n for n in field_names(model, parent) if key in field_names(model, (*parent, n))
            ]
            if not owners:
                return ""
            holder = (*prefix, *parent)[-1]
            where = parent if holder in owners else loc
            why = f"under '{holder if holder in owners else owners[0]}'"
        path: Path_ = (*prefix, *where)
        if path not in self.positions:  # an environment's key reported from the defaults
            path = ("defaults", *where)
        line, _ = self.locate(path)
        return (
            f"unknown field '{key}' here; check the indentation of line {line} "
            f"('{key}' belongs {why})"
        )


def yaml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def pydantic_message(model: type[BaseModel], loc: Path_, error: Mapping[str, Any]) -> str:
    """One readable sentence for a pydantic error, with a suggestion where one helps."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "extra_forbidden":
        return unknown_field_message(loc[-1], field_names(model, loc[:-1]))
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, not {short(given)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, not {short(given)}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, not {short(given)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of fields, not {yaml_type(given)}"
    if kind == "list_type":
        return f"must be a list, not {yaml_type(given)}"
    if kind == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        number = given.written if isinstance(given, WrittenFloat) else repr(given)
        return f"must be a string, not the number {number}; quote it in YAML"
    if kind == "string_pattern_mismatch":
        return f"{short(given)} does not match the pattern {ctx['pattern']}"
    msg = str(error["msg"])
    msg = msg[0].lower() + msg[1:]
    return f"{msg.replace('input should be', 'must be')}, not {short(given)}"


def unknown_field_message(key: Any, known: list[str]) -> str:
    message = f"unknown field '{one_line(str(key))}'"
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean '{close[0]}'?"
    if known:
        return f"{message}; expected one of: {', '.join(known)}"
    return message


def field_names(model: type[BaseModel], loc: Path_) -> list[str]:
    """The YAML keys a mapping at ``loc`` inside ``model`` may have."""
    current: Any = model
    for part in loc:
        fields = field_map(current)
        if fields is None:
            return []
        if isinstance(part, int):
            continue
        if part not in fields:
            return []
        current = model_of(fields[part])
    found = field_map(current)
    return sorted(found) if found is not None else []


def field_map(candidate: Any) -> dict[str, Any] | None:
    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
        return {
            (info.alias or name): info.annotation for name, info in candidate.model_fields.items()
        }
    return None


def model_of(annotation: Any) -> Any:
    """The model class inside an annotation such as ``Issuer | None`` or ``list[Issuer]``."""
    for candidate in walk_annotation(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def walk_annotation(annotation: Any) -> Iterator[Any]:
    yield annotation
    origin_type = typing.get_origin(annotation)
    if origin_type in (Union, types.UnionType, list, dict) or origin_type is not None:
        for arg in typing.get_args(annotation):
            yield from walk_annotation(arg)
