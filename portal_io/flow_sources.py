"""Read flow modules as text for the parameter-schema reader; nothing in them is run.

Reading and parsing a typical flow file takes a few milliseconds (mostly `ast.parse`),
so there is no cache: every deploy reads the files it deploys, as they are in the
checkout, and a stale cache can never hand the server an old schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from portal_core.parameter_schema import SchemaResult, flow_parameter_schema


def read_parameter_schemas(root: Path, entrypoints: Iterable[str]) -> dict[str, SchemaResult]:
    """Each entrypoint (`path/to/file.py:function`, relative to `root`) -> its schema result.

    An unreadable file gives a result without a schema and a warning, like an unparsable one:
    the server then accepts any parameters for that flow rather than the deploy failing.
    """
    results: dict[str, SchemaResult] = {}
    for entrypoint in entrypoints:
        path, _, function = entrypoint.rpartition(":")
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            results[entrypoint] = SchemaResult(None, (f"{path}: cannot read ({err}); no parameter schema",))
            continue
        results[entrypoint] = flow_parameter_schema(text, function, path)
    return results
