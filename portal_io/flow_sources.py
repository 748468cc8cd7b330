"""Read flow modules as text for the parameter-schema reader; nothing in them is run.

Parsing a flow file takes a few milliseconds, which a deploy of a hundred
flows pays on every run (~70 ms) although the files rarely change. Results
are therefore kept in a content-addressed cache: the key is the file's bytes'
hash, the function and the path, and the cache is valid only for the exact
source of the schema reader that filled it. A changed file, a changed reader
or a corrupt cache means a fresh parse, so a stale schema can never reach the
server; every deploy still reads the files it deploys, as they are in the checkout.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from portal_core import parameter_schema
from portal_core.parameter_schema import SchemaResult, flow_parameter_schema
from portal_io.json_files import read_json, write_json_atomic

CACHE_FILE_NAME = "schemas.json"
CACHE_LIMIT = 5000  # entries kept: beyond this the oldest go


@functools.cache
def reader_version() -> str:
    """The hash of the schema reader's own source: a new reader never trusts an old cache."""
    return hashlib.sha256(Path(parameter_schema.__file__).read_bytes()).hexdigest()[:16]


def read_parameter_schemas(
    root: Path, entrypoints: Iterable[str], cache_dir: Path | None = None
) -> dict[str, SchemaResult]:
    """Each entrypoint (`path/to/file.py:function`, relative to `root`) -> its schema result.

    An unreadable file gives a result without a schema and a warning, like an unparsable one:
    the server then accepts any parameters for that flow rather than the deploy failing.
    """
    cache = _load(cache_dir)
    results: dict[str, SchemaResult] = {}
    fresh = 0
    for entrypoint in entrypoints:
        path, _, function = entrypoint.rpartition(":")
        try:
            data = (root / path).read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            results[entrypoint] = SchemaResult(None, (f"{path}: cannot read ({err}); no parameter schema",))
            continue
        key = f"{hashlib.sha256(data).hexdigest()}:{function}:{path}"
        cached = _entry(cache.get(key))
        if cached is None:
            cached = flow_parameter_schema(text, function, path)
            fresh += 1
        cache.pop(key, None)
        cache[key] = {"schema": cached.schema, "warnings": list(cached.warnings)}  # newest last
        results[entrypoint] = cached
    if cache_dir is not None and fresh:
        kept = dict(list(cache.items())[-CACHE_LIMIT:])
        with contextlib.suppress(OSError):  # a cache that cannot be written costs the next run a parse
            write_json_atomic(cache_dir / CACHE_FILE_NAME, {"reader": reader_version(), "entries": kept})
    return results


def _load(cache_dir: Path | None) -> dict[str, Any]:
    data = read_json(cache_dir / CACHE_FILE_NAME) if cache_dir is not None else None
    if not isinstance(data, dict) or data.get("reader") != reader_version():
        return {}
    entries = data.get("entries")
    return dict(entries) if isinstance(entries, dict) else {}


def _entry(value: Any) -> SchemaResult | None:
    if not isinstance(value, dict):
        return None
    schema, warnings = value.get("schema"), value.get("warnings")
    if (schema is not None and not isinstance(schema, dict)) or not isinstance(warnings, list) \
            or not all(isinstance(w, str) for w in warnings):
        return None
    return SchemaResult(schema, tuple(warnings))
