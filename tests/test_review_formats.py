"""The three formats of a review (text, markdown, JSON), line by line, from reviews built
by hand: every status of an environment, risks, policy annotations, characters markdown
must escape, values JSON must carry as they are, and the markdown cut at its limit.

In-process and without kustomize, so `nox -s mutation` runs them per mutant of review.py.
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pytest

from compiler.compare import FieldChange, ResourceChange
from compiler.console import Output
from compiler.review import (
    MARKDOWN_LIMIT,
    EnvironmentDiff,
    Review,
    Risk,
    print_review,
    summary,
    to_json,
    to_markdown,
    to_text,
)

DEPLOYMENT = ("apps/v1", "Deployment", "llmgateway", "llmgateway")
SERVICE = ("v1", "Service", "llmgateway", "llmgateway")
NAMESPACE = ("v1", "Namespace", "", "llmgateway")
SKIP = "metadata.annotations.checkov.io/skip1"


def changed_deployment() -> ResourceChange:
    return ResourceChange(
        DEPLOYMENT,
        "changed",
        [
            FieldChange("spec.replicas", 1, 2),
            FieldChange("spec.template.spec.containers[app].env[A].value", None, "x", "added"),
            FieldChange("metadata.labels.tier", "web", None, "removed"),
            FieldChange(SKIP, "CKV_K8S_1=a", "CKV_K8S_1=b"),
        ],
    )


RISK = Risk("prod", "Service/llmgateway/llmgateway", "it opens", "because", "close it")


def review() -> Review:
    return Review(
        "main (abc1234)",
        [
            EnvironmentDiff("dev", "removed", [ResourceChange(NAMESPACE, "removed")]),
            EnvironmentDiff(
                "prod",
                "changed",
                [
                    changed_deployment(),
                    ResourceChange(
                        SERVICE, "added", [FieldChange("spec.type", None, "NodePort", "added")]
                    ),
                ],
                [RISK],
            ),
            EnvironmentDiff("qa", "unchanged"),
            EnvironmentDiff(
                "stage",
                "added",
                [
                    ResourceChange(
                        SERVICE,
                        "changed",
                        [FieldChange(SKIP, "a", "b"), FieldChange(SKIP + "x", "a", "b")],
                    )
                ],
            ),
        ],
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("unchanged", "no changes"),
        ("changed", "1 added, 2 changed, 3 removed"),
        ("removed", "environment removed (1 added, 2 changed, 3 removed)"),
        ("added", "new environment (1 added, 2 changed, 3 removed)"),
    ],
)
def test_summary(status: str, expected: str) -> None:
    changes = [
        ResourceChange(SERVICE, change)
        for change in ("removed", "changed", "added", "removed", "changed", "removed")
    ]
    assert summary(EnvironmentDiff("prod", status, changes)) == expected


def test_text() -> None:
    assert to_text(review()).splitlines() == [
        "Changes against main (abc1234):",
        "",
        "RISKY CHANGES (1):",
        "  ! prod Service/llmgateway/llmgateway: it opens",
        "      why: because",
        "      do:  close it",
        "",
        "dev: environment removed (0 added, 0 changed, 1 removed)",
        "  - Namespace/llmgateway",
        "",
        "prod: 1 added, 1 changed, 0 removed",
        "  ~ Deployment/llmgateway/llmgateway",
        "      spec.replicas: 1 -> 2",
        "      spec.template.spec.containers[app].env[A].value: added 'x'",
        "      metadata.labels.tier: removed (was 'web')",
        "      policy annotations changed (1 checkov.io/* annotation)",
        "  + Service/llmgateway/llmgateway",
        "      spec.type: added 'NodePort'",
        "",
        "qa: no changes",
        "",
        "stage: new environment (0 added, 1 changed, 0 removed)",
        "  ~ Service/llmgateway/llmgateway",
        "      policy annotations changed (2 checkov.io/* annotations)",
    ]
    assert to_text(review()).endswith("annotations)\n")


def test_text_is_painted_by_the_paint_given() -> None:
    def paint(text: str, colour: str) -> str:
        return f"<{colour}>{text}</>"

    lines = to_text(review(), paint).splitlines()
    assert lines[2] == "<red>RISKY CHANGES (1):</>"
    assert lines[3] == "  <red>!</> prod Service/llmgateway/llmgateway: it opens"
    assert lines[8] == "  <red>-</> Namespace/llmgateway"
    assert lines[11] == "  <yellow>~</> Deployment/llmgateway/llmgateway"
    assert lines[16] == "  <green>+</> Service/llmgateway/llmgateway"


def test_text_without_risks() -> None:
    quiet = Review("HEAD", [EnvironmentDiff("qa", "unchanged")])
    assert to_text(quiet) == "Changes against HEAD:\n\nqa: no changes\n"


MARKDOWN = """\
### Manifest changes against `main (abc1234)`

| environment | added | changed | removed | risky |
|---|---:|---:|---:|---:|
| dev (removed) | 0 | 0 | 1 | 0 |
| prod | 1 | 1 | 0 | 1 |
| qa | 0 | 0 | 0 | 0 |
| stage (added) | 0 | 1 | 0 | 0 |

#### ⚠️ Risky changes (1)

- **prod** `Service/llmgateway/llmgateway`: it opens<BR>
  *Why:* because<BR>
  *Do:* close it

<details><summary><b>dev</b>: environment removed (0 added, 0 changed, 1 removed)</summary>

- `Namespace/llmgateway` removed

</details>

<details><summary><b>prod</b>: 1 added, 1 changed, 0 removed</summary>

- `Deployment/llmgateway/llmgateway` changed
  - `spec.replicas`: `1` → `2`
  - `spec.template.spec.containers[app].env[A].value`: added `'x'`
  - `metadata.labels.tier`: removed (was `'web'`)
  - policy annotations changed (1 checkov.io/* annotation)
- `Service/llmgateway/llmgateway` added
  - `spec.type`: added `'NodePort'`

</details>

<details><summary><b>stage</b>: new environment (0 added, 1 changed, 0 removed)</summary>

- `Service/llmgateway/llmgateway` changed
  - policy annotations changed (2 checkov.io/* annotations)

</details>

""".replace("<BR>", "  ")  # a markdown line break: two trailing spaces


def test_markdown() -> None:
    assert to_markdown(review()) == MARKDOWN


def test_markdown_without_changes() -> None:
    quiet = Review("HEAD", [EnvironmentDiff("qa", "unchanged")])
    assert to_markdown(quiet) == (
        "### Manifest changes against `HEAD`\n\n"
        "| environment | added | changed | removed | risky |\n"
        "|---|---:|---:|---:|---:|\n"
        "| qa | 0 | 0 | 0 | 0 |\n\n"
        "No changes in any environment.\n\n"
    )


def test_markdown_with_changes_but_no_risk_says_nothing_of_risks() -> None:
    text = to_markdown(Review("HEAD", [EnvironmentDiff("qa", "changed", [changed_deployment()])]))
    assert "Risky" not in text
    assert "No changes" not in text


def test_markdown_keeps_backquotes_and_line_breaks_out_of_inline_code() -> None:
    odd = Review(
        "a`b\nc",
        [
            EnvironmentDiff(
                "prod",
                "changed",
                [ResourceChange(DEPLOYMENT, "changed", [FieldChange("a`b", "x`\ny", "z")])],
                [Risk("prod", "r`s\nt", "w`h\na", "why", "do")],
            )
        ],
    )
    text = to_markdown(odd)
    assert text.startswith("### Manifest changes against `a'b c`\n")
    assert "- **prod** `r's t`: w'h a  \n" in text
    assert "  - `a'b`: `'x'\\ny'` → `'z'`\n" in text


def environment(name: str, lines: int, status: str = "changed") -> EnvironmentDiff:
    """An environment whose details are ``lines`` field lines of equal length."""
    fields = [FieldChange(f"spec.f{index:04d}", 1, 2) for index in range(lines)]
    return EnvironmentDiff(name, status, [ResourceChange(DEPLOYMENT, "changed", fields)])


def cut_review() -> Review:
    return Review("HEAD", [environment("a", 3), environment("b", 40), environment("c", 2)])


CLOSING = (
    "\n> Cut to stay under {limit:,} characters: details of {names} not shown. "
    "Run `python -m compiler diff` locally for everything.\n"
)


def test_markdown_at_its_limit() -> None:
    """An environment's block goes in whole while it fits with 400 characters to spare."""
    whole = to_markdown(cut_review(), limit=10**6)
    assert "not shown" not in whole
    needed = len(whole) + 400
    assert to_markdown(cut_review(), limit=needed) == whole
    cut = to_markdown(cut_review(), limit=needed - 1)
    assert cut != whole
    assert cut.endswith(CLOSING.format(limit=needed - 1, names="c"))
    assert len(cut) <= needed - 1


def test_markdown_cut_line_by_line() -> None:
    """The first environment that does not fit is cut line by line (keeping 600 characters
    spare), the rest left out, and the closing note names them."""
    whole = to_markdown(cut_review(), limit=10**6)
    head, _, _ = whole.partition("<details><summary><b>b</b>")
    field_line = "  - `spec.f0000`: `1` → `2`"
    # b's lines: the resource line, then 40 field lines of the same length.
    resource_line = "- `Deployment/llmgateway/llmgateway` changed"
    for kept_fields in (0, 1, 7):
        room = len(head) + len(resource_line) + 1 + kept_fields * (len(field_line) + 1)
        limit = room + len(field_line) + 600
        text = to_markdown(cut_review(), limit=limit)
        assert len(text) <= limit
        assert text.startswith(head + "\n<details><summary><b>b</b>")
        shown = text.partition("<details><summary><b>b</b>")[2]
        lines = shown.splitlines()
        assert lines[2] == resource_line
        assert lines[3 : 3 + kept_fields + 1] == [
            f"  - `spec.f{index:04d}`: `1` → `2`" for index in range(kept_fields + 1)
        ]
        hidden = 40 - (kept_fields + 1)
        assert lines[3 + kept_fields + 1 :] == [
            "",
            f"*… {hidden} more lines not shown.*",
            "",
            "</details>",
            "",
            "",
            f"> Cut to stay under {limit:,} characters: details of b (partly), c not shown. "
            "Run `python -m compiler diff` locally for everything.",
        ]
        # One character less and the last of those lines no longer fits.
        fewer = to_markdown(cut_review(), limit=limit - 1)
        assert f"*… {hidden + 1} more lines not shown.*" in fewer


def test_markdown_leaves_out_an_environment_with_no_line_that_fits() -> None:
    whole = to_markdown(cut_review(), limit=10**6)
    head, _, _ = whole.partition("<details><summary><b>b</b>")
    limit = len(head) + 600
    text = to_markdown(cut_review(), limit=limit)
    assert text == head + CLOSING.format(limit=limit, names="b, c")
    assert "more lines not shown" not in text


def test_markdown_limit_default() -> None:
    """GitHub refuses a comment over 65,536 characters."""
    assert MARKDOWN_LIMIT == 65_000


def test_json() -> None:
    document = json.loads(to_json(review()))
    assert document == {
        "base": "main (abc1234)",
        "risky": [
            {
                "environment": "prod",
                "resource": "Service/llmgateway/llmgateway",
                "what": "it opens",
                "why": "because",
                "action": "close it",
            }
        ],
        "environments": [
            {
                "name": "dev",
                "status": "removed",
                "added": 0,
                "changed": 0,
                "removed": 1,
                "resources": [
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "namespace": "",
                        "name": "llmgateway",
                        "change": "removed",
                        "fields": [],
                    }
                ],
            },
            {
                "name": "prod",
                "status": "changed",
                "added": 1,
                "changed": 1,
                "removed": 0,
                "resources": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "namespace": "llmgateway",
                        "name": "llmgateway",
                        "change": "changed",
                        "fields": [
                            {"path": "spec.replicas", "change": "changed", "old": 1, "new": 2},
                            {
                                "path": "spec.template.spec.containers[app].env[A].value",
                                "change": "added",
                                "old": None,
                                "new": "x",
                            },
                            {
                                "path": "metadata.labels.tier",
                                "change": "removed",
                                "old": "web",
                                "new": None,
                            },
                            {
                                "path": SKIP,
                                "change": "changed",
                                "old": "CKV_K8S_1=a",
                                "new": "CKV_K8S_1=b",
                            },
                        ],
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "namespace": "llmgateway",
                        "name": "llmgateway",
                        "change": "added",
                        "fields": [
                            {"path": "spec.type", "change": "added", "old": None, "new": "NodePort"}
                        ],
                    },
                ],
            },
            {
                "name": "qa",
                "status": "unchanged",
                "added": 0,
                "changed": 0,
                "removed": 0,
                "resources": [],
            },
            {
                "name": "stage",
                "status": "added",
                "added": 0,
                "changed": 1,
                "removed": 0,
                "resources": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "namespace": "llmgateway",
                        "name": "llmgateway",
                        "change": "changed",
                        "fields": [
                            {"path": SKIP, "change": "changed", "old": "a", "new": "b"},
                            {"path": SKIP + "x", "change": "changed", "old": "a", "new": "b"},
                        ],
                    }
                ],
            },
        ],
    }


def test_json_text() -> None:
    """Indented by two, non-ASCII kept as it is, values JSON lacks as text, a final newline;
    list items keyed by name in the comparison are lists again."""
    keyed: dict[str, Any] = {"[a]": {"name": "a", "value": "é"}, "[b]": {"name": "b"}}
    odd = Review(
        "HEAD",
        [
            EnvironmentDiff(
                "prod",
                "changed",
                [
                    ResourceChange(
                        DEPLOYMENT,
                        "changed",
                        [
                            FieldChange("spec.env", None, keyed, "added"),
                            FieldChange("metadata.annotations.day", datetime.date(2026, 1, 2), "é"),
                        ],
                    )
                ],
            )
        ],
    )
    text = to_json(odd)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "base": "HEAD",\n  "risky": [],\n  "environments": [\n    {\n')
    assert '"new": "é"' in text
    fields = json.loads(text)["environments"][0]["resources"][0]["fields"]
    assert fields[0]["new"] == [{"name": "a", "value": "é"}, {"name": "b"}]
    assert fields[1]["old"] == "2026-01-02"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", to_text),
        ("markdown", to_markdown),
        ("json", to_json),
    ],
)
def test_print_review_formats(fmt: str, expected: Any) -> None:
    stdout = io.StringIO()
    assert print_review(Output(stdout, io.StringIO()), review(), fmt, "any") == 1
    assert stdout.getvalue() == expected(review())


def test_print_review_colours_text_for_a_terminal() -> None:
    stdout = io.StringIO()
    print_review(Output(stdout, io.StringIO(), colour=True), review(), "text", "any")
    assert stdout.getvalue() == to_text(review(), Output(io.StringIO(), io.StringIO(), True).paint)
    assert "\033[" in stdout.getvalue()


@pytest.mark.parametrize(
    ("environments", "fail_on", "code"),
    [
        ([EnvironmentDiff("qa", "unchanged")], "any", 0),
        ([EnvironmentDiff("qa", "unchanged")], "risky", 0),
        ([EnvironmentDiff("qa", "changed")], "any", 1),
        ([EnvironmentDiff("qa", "changed")], "risky", 0),
        ([EnvironmentDiff("qa", "changed", risks=[RISK])], "risky", 1),
        ([EnvironmentDiff("qa", "unchanged"), EnvironmentDiff("b", "removed")], "any", 1),
    ],
)
def test_print_review_exit_code(
    environments: list[EnvironmentDiff], fail_on: str, code: int
) -> None:
    output = Output(io.StringIO(), io.StringIO())
    assert print_review(output, Review("HEAD", environments), "json", fail_on) == code
