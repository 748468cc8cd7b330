"""A cache of flow parameter schemas, so an unchanged re-deploy never imports prefect's
schema machinery (about 6 ms a flow, plus the import).

Keyed by entrypoint, a hash of the file's content and the installed prefect
version: any edit to the file or a prefect upgrade recomputes. A missing or
corrupt cache is simply empty; writes are atomic (temp file + `os.replace`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from portal_io.json_files import write_json_atomic

CACHE_FILE_NAME = "schemas.json"
CACHE_FORMAT = 1

Schema = dict[str, Any] | None
Compute = Callable[[Path, list[str]], Mapping[str, Schema]]


def _prefect_version() -> str:
    try:
        return metadata.version("prefect")
    except metadata.PackageNotFoundError:
        return "unknown"


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save(path: Path, entries: Mapping[str, Any]) -> None:
    with contextlib.suppress(OSError):
        write_json_atomic(path, {"format": CACHE_FORMAT, "entries": entries})


def cached_schemas(
    root: Path, entrypoints: Iterable[str], compute: Compute, cache_dir: Path | None
) -> dict[str, Schema]:
    """Schemas for `entrypoints`, computing (with `compute`) only those not cached."""
    entrypoints = list(entrypoints)
    if cache_dir is None:
        return dict(compute(root, entrypoints))
    cache_path = cache_dir / CACHE_FILE_NAME
    entries = _load(cache_path)
    version = _prefect_version()
    keys = {}
    for entrypoint in entrypoints:
        digest = _file_hash(root / entrypoint.rpartition(":")[0])
        keys[entrypoint] = f"{version}:{digest}:{entrypoint}" if digest else None
    result: dict[str, Schema] = {}
    missing = []
    for entrypoint, key in keys.items():
        if key is not None and key in entries:
            result[entrypoint] = entries[key]
        else:
            missing.append(entrypoint)
    if missing:
        computed = compute(root, missing)
        for entrypoint in missing:
            result[entrypoint] = computed.get(entrypoint)
            key = keys[entrypoint]
            if key is not None and computed.get(entrypoint) is not None:
                entries[key] = computed[entrypoint]
        live = set(keys.values())
        stale_prefix = f"{version}:"
        pruned = {k: v for k, v in entries.items() if k in live or k.startswith(stale_prefix)}
        _save(cache_path, pruned)
    return result
