"""The comparing functions one by one, with exact expected reports.

`check`, `diff` and the golden drift all print what these functions return, so each
piece (resource identity, list items keyed by name, field paths, shown values, Secret
redaction, kustomize's hash suffixes, file drift, quantities) is pinned here on small
hand-written inputs, written from what a reviewer should read, not from the output.
"""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml.error import YAMLError

from compiler.compare import (
    REDACTED,
    FieldChange,
    FileDrift,
    ResourceChange,
    compare_resources,
    describe_change,
    document_label,
    field_changes,
    file_changes,
    hash_renames,
    index_resources,
    keyed,
    load_documents,
    quantity_bytes,
    redact_secret,
    render_path,
    rendered_drift,
    resource_fields,
    resource_id,
    secret_key_changes,
    show,
    text_changes,
    tree_drift,
    unhashed,
    unkeyed,
)
from compiler.fingerprint import FINGERPRINT_PATH


def deployment(replicas: int = 1, name: str = "llmgateway", **env: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "llmgateway"},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "llmgateway",
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                        }
                    ]
                }
            },
        },
    }


def secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "llmgateway"},
        "data": dict(data),
    }


# --- reading and identifying resources -------------------------------------------------


def test_load_documents_skips_empty_documents() -> None:
    text = "---\na: 1\n---\n---\n# only a comment\n---\nb: [x, y]\n"
    assert load_documents(text) == [{"a": 1}, {"b": ["x", "y"]}]


def test_load_documents_reads_plain_data_only() -> None:
    # the safe loader: a Python tag is an error, not an object
    with pytest.raises(YAMLError):
        load_documents("a: !!python/object:os.system {}\n")
    loaded = load_documents("a: {b: 1}\n")
    assert type(loaded[0]) is dict
    assert type(loaded[0]["a"]) is dict


def test_load_documents_raises_on_invalid_yaml() -> None:
    with pytest.raises(YAMLError):
        load_documents("a: [1\n")


def test_resource_id_of_a_namespaced_and_a_cluster_resource() -> None:
    assert resource_id(deployment()) == ("apps/v1", "Deployment", "llmgateway", "llmgateway")
    assert resource_id({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}) == (
        "v1",
        "Namespace",
        "",
        "x",
    )
    # a null namespace or metadata is no namespace, missing fields are empty
    assert resource_id({"kind": "X", "metadata": {"namespace": None, "name": "n"}}) == (
        "",
        "X",
        "",
        "n",
    )
    assert resource_id({"metadata": None}) == ("", "", "", "")
    assert resource_id({"apiVersion": 1, "kind": 2, "metadata": {"namespace": 3, "name": 4}}) == (
        "1",
        "2",
        "3",
        "4",
    )


def test_index_resources_skips_what_is_not_a_mapping() -> None:
    a, b = deployment(name="a"), deployment(name="b")
    assert index_resources([a, "text", None, [1], b]) == {
        ("apps/v1", "Deployment", "llmgateway", "a"): a,
        ("apps/v1", "Deployment", "llmgateway", "b"): b,
    }


def test_resource_change_label_with_and_without_namespace() -> None:
    assert ResourceChange(("v1", "Service", "ns", "web"), "added").label == "Service/ns/web"
    assert ResourceChange(("v1", "Namespace", "", "ns"), "added").label == "Namespace/ns"
    assert ResourceChange(("v1", "Namespace", "", "ns"), "added").fields == []


# --- list items keyed by name, paths and shown values ----------------------------------


def test_keyed_names_list_items_only_when_every_name_is_a_unique_string() -> None:
    assert keyed([{"name": "a", "v": 1}, {"name": "b", "v": [{"name": "c"}]}]) == {
        "[a]": {"name": "a", "v": 1},
        "[b]": {"name": "b", "v": {"[c]": {"name": "c"}}},
    }
    assert keyed({"x": [{"name": "a"}]}) == {"x": {"[a]": {"name": "a"}}}
    assert keyed([]) == []
    assert keyed([{"name": "a"}, {"name": "a"}]) == [{"name": "a"}, {"name": "a"}]
    assert keyed([{"name": "a"}, {"value": 1}]) == [{"name": "a"}, {"value": 1}]
    assert keyed([{"name": "a"}, {"name": 2}]) == [{"name": "a"}, {"name": 2}]
    assert keyed([{"name": "a"}, "b"]) == [{"name": "a"}, "b"]
    assert keyed([[{"name": "a"}], 1]) == [{"[a]": {"name": "a"}}, 1]
    assert keyed("text") == "text"


def test_unkeyed_undoes_keyed() -> None:
    value = {"c": [{"name": "a", "p": [{"name": "x"}]}, {"name": "b"}], "d": [1, {"e": 2}]}
    assert unkeyed(keyed(value)) == value
    assert unkeyed({}) == {}
    assert unkeyed({"[a]": 1, "b": 2}) == {"[a]": 1, "b": 2}
    assert unkeyed({"[a": 1}) == {"[a": 1}
    assert unkeyed({"a]": 1}) == {"a]": 1}
    assert unkeyed({1: "x"}) == {1: "x"}
    assert unkeyed([{"[a]": 1}]) == [[1]]


def test_render_path() -> None:
    assert render_path(["spec", "template", "[web]", "ports", 0, "port"]) == (
        "spec.template[web].ports[0].port"
    )
    assert render_path([0, "a"]) == "[0].a"
    assert render_path(["[web]", "image"]) == "[web].image"
    assert render_path(["[web", "x]"]) == "[web.x]"
    assert render_path([]) == "(whole document)"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "(none)"),
        (REDACTED, "(hidden)"),
        ("text", "'text'"),
        ("", "''"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        ({"[a]": {"name": "a"}, "[b]": None}, '[{"name": "a"}, null]'),
        ({"[a]": {"name": "a"}, "b": None}, '{"[a]": {"name": "a"}, "b": null}'),
        ({"b": 1, "a": [1, "x"]}, '{"b": 1, "a": [1, "x"]}'),
        ([{"[a]": {"name": "a"}}], '[[{"name": "a"}]]'),
    ],
    ids=repr,
)
def test_show(value: Any, shown: str) -> None:
    assert show(value) == shown


def test_show_cuts_long_values_at_the_limit() -> None:
    assert show("x" * 118) == "'" + "x" * 118 + "'"  # 120 characters: kept
    assert show("x" * 119) == "'" + "x" * 116 + "..."  # 121: cut to 120
    assert len(show("x" * 119)) == 120
    assert show("abcdef", limit=8) == "'abcdef'"
    assert show("abcdefg", limit=8) == "'abcd..."
    assert show([1] * 100, limit=10) == "[1, 1, ..."


def test_show_dumps_what_json_cannot_as_text() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    assert show({"a": Thing()}) == '{"a": "thing"}'


def test_describe_change() -> None:
    assert describe_change(FieldChange("spec.replicas", 1, 2)) == "spec.replicas: 1 -> 2"
    assert describe_change(FieldChange("a", None, "x", "added")) == "a: added 'x'"
    assert describe_change(FieldChange("a", "x", None, "removed")) == "a: removed (was 'x')"
    assert FieldChange("a", 1, 2).kind == "changed"


def test_document_label() -> None:
    assert document_label(deployment(), 0) == "Deployment/llmgateway"
    assert document_label({"kind": "List"}, 0) == "List"
    assert document_label({"kind": "List", "metadata": None}, 0) == "List"
    assert document_label({"kind": "List", "metadata": {"name": ""}}, 0) == "List"
    assert document_label({"apiVersion": "v1"}, 2) == "document 3"
    assert document_label(["kind"], 0) == "document 1"


# --- field changes -----------------------------------------------------------------


def test_field_changes_name_list_items_and_sort_by_path() -> None:
    old = deployment(2, UI_URL="http://a", GONE="x")
    new = deployment(3, UI_URL="http://b", NEW="y")
    env = "spec.template.spec.containers[llmgateway].env"
    assert field_changes(old, new) == [
        FieldChange("spec.replicas", 2, 3),
        FieldChange(f"{env}[GONE]", {"name": "GONE", "value": "x"}, None, "removed"),
        FieldChange(f"{env}[NEW]", None, {"name": "NEW", "value": "y"}, "added"),
        FieldChange(f"{env}[UI_URL].value", "http://a", "http://b"),
    ]


def test_field_changes_of_a_field_added_removed_or_set_to_or_from_null() -> None:
    """Documents alike but for one field, every other value unchanged: the field is
    reported, never taken as "nothing changed" (FieldChange: added with old None,
    removed with new None, a change to or from null a change)."""
    assert field_changes({"a": 1}, {"a": 1, "b": 2}) == [FieldChange("b", None, 2, "added")]
    assert field_changes({"a": 1, "b": 2}, {"a": 1}) == [FieldChange("b", 2, None, "removed")]
    assert field_changes({"a": None, "b": 1}, {"a": None, "b": None}) == [FieldChange("b", 1, None)]
    assert field_changes({"a": None, "b": None}, {"a": None, "b": 1}) == [FieldChange("b", None, 1)]


def test_field_changes_of_unnamed_list_items() -> None:
    assert field_changes({"a": [1, 2]}, {"a": [1, 2, 3]}) == [FieldChange("a[2]", None, 3, "added")]
    assert field_changes({"a": [1, 2, 3]}, {"a": [1, 2]}) == [
        FieldChange("a[2]", 3, None, "removed")
    ]
    assert field_changes({"a": [1, 2]}, {"a": [1, 5]}) == [FieldChange("a[1]", 2, 5)]


def test_field_changes_list_each_field_even_when_all_of_a_mapping_changed() -> None:
    assert field_changes({"m": {"a": 1, "b": 2}}, {"m": {"a": 3, "b": 4}}) == [
        FieldChange("m.a", 1, 3),
        FieldChange("m.b", 2, 4),
    ]


def test_field_changes_of_set_items() -> None:
    # YAML's !!set (the safe loader reads it): members are added or removed, not changed
    old, new = load_documents("a: !!set {x}\n---\na: !!set {x, y}\n")
    assert [(c.kind, c.old, c.new) for c in field_changes(old, new)] == [("added", None, "y")]
    assert [(c.kind, c.old, c.new) for c in field_changes(new, old)] == [("removed", "y", None)]


def test_field_changes_when_every_key_of_a_mapping_is_replaced() -> None:
    # the key that went and the key that came, not "the mapping changed"
    assert field_changes({"m": {"a": 1}}, {"m": {"b": 1}}) == [
        FieldChange("m.a", 1, None, "removed"),
        FieldChange("m.b", None, 1, "added"),
    ]


def test_field_changes_of_a_type_change_and_of_whole_documents() -> None:
    assert field_changes({"a": 1}, {"a": "1"}) == [FieldChange("a", 1, "1")]
    assert field_changes(1, 2) == [FieldChange("(whole document)", 1, 2)]
    assert field_changes({"a": 1}, {"a": 1}) == []


# --- Secrets --------------------------------------------------------------------------


def test_redact_secret_keeps_the_values_aside() -> None:
    s = secret("auth", KEY="dmFsdWU=")
    s["stringData"] = {"OTHER": "plain"}
    visible, hidden = redact_secret(s)
    assert visible == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "auth", "namespace": "llmgateway"},
    }
    assert hidden == {"data": {"KEY": "dmFsdWU="}, "stringData": {"OTHER": "plain"}}
    assert "data" in s  # the input is not changed
    empty = {"kind": "Secret", "data": None}
    assert redact_secret(empty) == ({"kind": "Secret"}, {"data": {}})
    assert redact_secret({"kind": "Secret"}) == ({"kind": "Secret"}, {})


def test_redact_secret_leaves_other_kinds_alone() -> None:
    config = {"kind": "ConfigMap", "data": {"A": "1"}}
    assert redact_secret(config) == (config, {})
    assert redact_secret("text") == ("text", {})


def test_secret_key_changes_name_keys_never_values() -> None:
    old = {"data": {"A": "1", "B": "2", "C": "3"}, "stringData": {"S": "x"}}
    new = {"data": {"A": "1", "B": "9", "D": "4"}}
    assert secret_key_changes(old, new) == [
        FieldChange("data.B", REDACTED, REDACTED),
        FieldChange("data.C", REDACTED, None, "removed"),
        FieldChange("data.D", None, REDACTED, "added"),
        FieldChange("stringData.S", REDACTED, None, "removed"),
    ]
    assert secret_key_changes(old, old) == []


def test_secret_key_changes_of_a_section_that_is_not_a_mapping() -> None:
    assert secret_key_changes({"data": "abc"}, {"data": "abd"}) == [
        FieldChange("data", REDACTED, REDACTED)
    ]
    assert secret_key_changes({"data": ["a"]}, {"data": {"A": "1"}}) == [
        FieldChange("data", REDACTED, REDACTED)
    ]
    assert secret_key_changes({"data": {"A": "1"}}, {"data": "x"}) == [
        FieldChange("data", REDACTED, REDACTED)
    ]
    assert secret_key_changes({"data": "abc"}, {"data": "abc"}) == []
    # then the next section is still compared
    assert secret_key_changes(
        {"data": "a", "stringData": {}}, {"data": "a", "stringData": {"K": "v"}}
    ) == [FieldChange("stringData.K", None, REDACTED, "added")]


def test_an_added_secret_lists_its_keys_and_other_resources_nothing() -> None:
    assert resource_fields(secret("auth", B="2", A="1")) == [
        FieldChange("data.A", None, REDACTED, "added"),
        FieldChange("data.B", None, REDACTED, "added"),
    ]
    assert resource_fields({"kind": "Secret", "metadata": {"name": "x"}}) == []
    assert resource_fields(deployment()) == []


# --- kustomize's hash suffixes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "stem"),
    [
        ("Secret", "auth-5h2k9mtcbf", "auth"),
        ("ConfigMap", "config-gh2k45m6tb", "config"),
        ("ConfigMap", "a-b-ctdcgk9m8h", "a-b"),
        ("Deployment", "auth-5h2k9mtcbf", None),  # only generated kinds
        ("Secret", "auth", None),
        ("Secret", "auth-5h2k9mtcb", None),  # nine characters
        ("Secret", "auth5h2k9mtcbf", None),  # no dash
        ("Secret", "auth-5h2k9mtcbf-x", None),  # not at the end
        ("Secret", "auth-0h2k9mtcbf", None),  # 0 is never in a suffix
        ("Secret", "auth-ah2k9mtcbf", None),  # nor a
    ],
)
def test_unhashed(kind: str, name: str, stem: str | None) -> None:
    expected = None if stem is None else ("v1", kind, "ns", stem)
    assert unhashed(("v1", kind, "ns", name)) == expected


def test_hash_renames_pair_only_one_to_one() -> None:
    def s(name: str) -> tuple[str, str, str, str]:
        return ("v1", "Secret", "ns", name)

    removed = [s("a-5h2k9mtcbf"), s("b-5h2k9mtcbf"), s("b-6h2k9mtcbf"), s("c-5h2k9mtcbf"), s("d")]
    added = [s("a-7h2k9mtcbf"), s("b-7h2k9mtcbf"), s("c-7h2k9mtcbf"), s("c-8h2k9mtcbf"), s("d")]
    assert hash_renames(removed, added) == {s("a-7h2k9mtcbf"): s("a-5h2k9mtcbf")}
    assert hash_renames([], added) == {}
    assert hash_renames(removed, []) == {}


# --- comparing resources ----------------------------------------------------------------


def test_compare_resources_added_removed_changed_in_identity_order() -> None:
    old = [deployment(1, name="b"), deployment(1, name="c"), secret("s-5h2k9mtcbf", K="1")]
    new = [
        deployment(1, name="a"),
        deployment(2, name="b"),
        deployment(1, name="c"),
        secret("s-7h2k9mtcbf", K="2"),
        secret("t", K="1"),
    ]
    changes = compare_resources(old, new)
    assert [(c.label, c.change) for c in changes] == [
        ("Deployment/llmgateway/a", "added"),
        ("Deployment/llmgateway/b", "changed"),
        ("Secret/llmgateway/s-7h2k9mtcbf", "changed"),
        ("Secret/llmgateway/t", "added"),
    ]
    assert changes[0].fields == []
    assert changes[1].fields == [FieldChange("spec.replicas", 1, 2)]
    # the visible fields first, then the Secret's keys
    assert changes[2].fields == [
        FieldChange("metadata.name", "s-5h2k9mtcbf", "s-7h2k9mtcbf"),
        FieldChange("data.K", REDACTED, REDACTED),
    ]
    assert changes[3].fields == [FieldChange("data.K", None, REDACTED, "added")]
    assert compare_resources(new, old)[0] == ResourceChange(
        ("apps/v1", "Deployment", "llmgateway", "a"), "removed"
    )


def test_a_renamed_generated_resource_with_the_same_content_is_only_renamed() -> None:
    old = [secret("s-5h2k9mtcbf", K="1")]
    new = [secret("s-7h2k9mtcbf", K="1")]
    (change,) = compare_resources(old, new)
    assert change.id == ("v1", "Secret", "llmgateway", "s-7h2k9mtcbf")
    assert change.fields == [FieldChange("metadata.name", "s-5h2k9mtcbf", "s-7h2k9mtcbf")]


def test_a_renamed_resource_equal_but_for_the_name_is_no_change() -> None:
    # the same name on both sides: nothing
    assert compare_resources([secret("s-5h2k9mtcbf", K="1")], [secret("s-5h2k9mtcbf", K="1")]) == []


def test_rendered_drift_lines() -> None:
    old = "---\n".join(
        [
            "apiVersion: v1\nkind: Service\nmetadata: {name: gone, namespace: ns}\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {a: 1}\n",
        ]
    )
    new = "---\n".join(
        [
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {a: 2}\n",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\ndata: {K: dg==}\n",
        ]
    )
    assert rendered_drift(old, new) == [
        "Namespace/ns: added",
        "Secret/ns/s: added",
        "Secret/ns/s: data.K: added (hidden)",
        "Service/ns/gone: removed",
        "Service/ns/web: spec.a: 1 -> 2",
    ]
    assert rendered_drift(old, old) == []


# --- drift of files ----------------------------------------------------------------------


def test_text_changes_are_the_changed_lines() -> None:
    assert text_changes(b"a\nb\nc\n", b"a\nB\nc\nd\n") == ["-b", "+B", "+d"]
    assert text_changes(b"same\n", b"same\n") == []
    assert text_changes(b"\xff\n", b"x\n") == ["-\ufffd", "+x"]
    assert text_changes(b"x\n", b"\xff\n") == ["-x", "+\ufffd"]
    # a line is shown as it is, trailing spaces included
    assert text_changes(b"a\n", b"a  \nbX\n") == ["-a", "+a  ", "+bX"]


def test_text_changes_are_cut_after_the_limit() -> None:
    expected = b"".join(b"%d\n" % i for i in range(30))
    assert text_changes(expected, b"", limit=20) == [
        *(f"-{i}" for i in range(20)),
        "... 10 more changed lines",
    ]
    assert text_changes(expected, b"") == text_changes(expected, b"", limit=20)
    assert text_changes(b"1\n2\n", b"", limit=2) == ["-1", "-2"]
    assert text_changes(b"1\n2\n3\n", b"", limit=2) == ["-1", "-2", "... 1 more changed lines"]


def test_file_changes_of_yaml_files() -> None:
    old = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n"
    new = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n"
    assert file_changes(old, new, "base/web.yaml") == ["Deployment/web: spec.replicas: 1 -> 2"]
    assert file_changes(old, new) == ["Deployment/web: spec.replicas: 1 -> 2"]
    assert file_changes(old, new, "a.yml") == ["Deployment/web: spec.replicas: 1 -> 2"]
    reformatted = (
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n"
    )
    assert file_changes(old, reformatted, "base/web.yaml") == [
        "only formatting differs (same YAML content)"
    ]


def test_file_changes_count_documents_and_label_each() -> None:
    one = b"kind: A\nv: 1\n"
    two = b"kind: A\nv: 2\n---\nkind: B\n"
    assert file_changes(one, two, "x.yaml") == [
        "1 document(s) expected, 2 found",
        "A: v: 1 -> 2",
    ]
    assert file_changes(b"a: 1\n", b"a: 2\n", "x.yaml") == ["document 1: a: 1 -> 2"]


def test_file_changes_redact_secrets_on_both_sides() -> None:
    old = b"kind: Secret\nmetadata: {name: s}\ndata: {K: b2xk}\n"
    new = b"kind: Secret\nmetadata: {name: s}\ndata: {K: bmV3}\ntype: Opaque\n"
    assert file_changes(old, new, "x.yaml") == [
        "Secret/s: type: added 'Opaque'",
        "Secret/s: data.K: (hidden) -> (hidden)",
    ]


def test_file_changes_of_other_files_and_invalid_yaml() -> None:
    assert file_changes(b"a\n", b"b\n", "docs/environments.md") == ["-a", "+b"]
    assert file_changes(b"a\n", b"b\n", FINGERPRINT_PATH) == [
        "the hashes of the generated files (follows from the other changes)"
    ]
    assert file_changes(b"a: 1\n", b"a: [1\n", "x.yaml") == [
        "not valid YAML any more (while parsing a flow sequence)"
    ]
    # a non-UTF-8 byte in the committed file is replaced, not an error
    assert file_changes(b"a: x\n", b"a: \xff\n", "x.yaml") == ["document 1: a: 'x' -> '\ufffd'"]


def test_tree_drift() -> None:
    expected = {"a.yaml": b"a: 1\n", "b.yaml": b"b: 1\n", "c.yaml": b"c: 1\n"}
    actual = {"b.yaml": b"b: 2\n", "c.yaml": b"c: 1\n", "d.yaml": b"d: 1\n"}
    assert tree_drift(expected, actual) == [
        FileDrift("a.yaml", "missing"),
        FileDrift("b.yaml", "changed", ["document 1: b: 1 -> 2"]),
        FileDrift("d.yaml", "unexpected"),
    ]
    assert tree_drift(expected, expected) == []
    # a file that is not YAML is compared line by line, whatever YAML would make of it
    docs = {"docs/environments.md": b"# Environments\n- dev: 1\n"}
    edited = {"docs/environments.md": b"# Environments\n- dev: 2\n"}
    assert tree_drift(docs, edited) == [
        FileDrift("docs/environments.md", "changed", ["-- dev: 1", "+- dev: 2"])
    ]
    assert FileDrift("a", "missing").details == []


# --- quantities --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("10Gi", 10 * 2**30),
        ("10G", 10 * 10**9),
        ("1.5Ki", 1536.0),
        ("512", 512.0),
        (512, 512.0),
        ("1k", 1000.0),
        ("1K", 1000.0),
        ("1M", 10**6),
        ("1Mi", 2**20),
        ("1T", 10**12),
        ("1Ti", 2**40),
        ("1P", 10**15),
        ("1Pi", 2**50),
        ("1E", 10**18),
        ("1Ei", 2**60),
        ("1Xi", None),
        ("Gi", None),
        ("1 Gi", None),
        ("1..2Gi", None),
        ("-1Gi", None),
        ("10Gix", None),
    ],
)
def test_quantity_bytes(value: Any, number: float | None) -> None:
    assert quantity_bytes(value) == number
