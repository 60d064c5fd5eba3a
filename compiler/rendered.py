"""Read what kustomize printed (a rendering, a golden file): plain data, with libyaml.

kustomize writes YAML that a YAML 1.1 reader (PyYAML) reads as a YAML 1.2 reader
(ruamel) does: it quotes every string either would take for another type (`"yes"`,
`"0777"`, dates). PyYAML's C loader reads it about 12x faster than ruamel's pure-Python
one (45.8 ms against 3.7 ms for a 13 KB rendering). Files a person may edit (the spec,
the generated files) stay with ruamel (`compare.load_documents`), which keeps positions
and refuses duplicate keys. Kept apart from compare.py so that `build` does not import
ruamel.
"""

from __future__ import annotations

from typing import Any

import yaml

RenderedYAMLError: type[Exception] = yaml.YAMLError
# libyaml through PyYAML when it was built with it (about 12x faster), else pure Python.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# kustomize writes the strings `=` and `<<` plain, which YAML 1.1 reads as its value and
# merge tags that no safe loader constructs (ruamel fails on them too); it never writes a
# merge key (it expands them), so here they are strings.
NOT_RESOLVED = ("tag:yaml.org,2002:value", "tag:yaml.org,2002:merge")
RENDERED_LOADER: Any = type(
    "RenderedLoader",
    (FAST_LOADER,),
    {
        "yaml_implicit_resolvers": {
            first: [(tag, regexp) for tag, regexp in resolvers if tag not in NOT_RESOLVED]
            for first, resolvers in FAST_LOADER.yaml_implicit_resolvers.items()
        }
    },
)


def load_rendered(text: str) -> list[Any]:
    """Every non-empty document of what kustomize printed (raises RenderedYAMLError on
    invalid YAML). tests/test_rendered_yaml.py and the invariant test prove both readers
    agree on every rendering the tests make."""
    return [d for d in yaml.load_all(text, Loader=RENDERED_LOADER) if d is not None]
