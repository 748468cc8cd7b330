"""A warm cache of per-file discovery results.

Re-running `list-flows` on an unchanged tree should cost a directory walk and a
`stat` per file, not a read and parse. Each file's `ParseResult` is stored under
its relative path together with the `(size, mtime_ns)` it had when parsed; a
different size or mtime is a miss.

Safety rules:

* The cache is an optimisation only. A missing, unreadable, corrupt or
  foreign-version file is treated as empty, never as an error.
* Writes go to a temporary file in the same directory followed by
  `os.replace`, so a reader sees the old or the new cache, never half of one.
* Racy entries (git's "racily clean" problem): a file modified within the
  filesystem's mtime granularity *after* being parsed can keep its old
  `(size, mtime_ns)`. An entry whose mtime is not strictly older than the cache
  file itself is therefore never trusted; it is re-parsed on the next scan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from portal_core.discovery import ParseResult, SourceError
from portal_core.flows import FlowRecord

CACHE_FILE_NAME = "discovery.json"

#: Bump when the parser's output for the same text may change, so old caches
#: are dropped instead of serving stale answers.
CACHE_FORMAT = 1

_EMPTY = ParseResult()

# Records are written and read field by field (not through a generic structuring
# library): every `list-flows` reads this file, and importing and generating
# converters cost more than the lookups themselves. Reading is strict: a field of
# the wrong type makes the whole cache unusable (treated as empty), never a wrong flow.
_FLOW_TEXT = ("key", "original_name", "function_name", "description", "relative_path")
_FLOW_FLAGS = ("is_async", "has_explicit_name")


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name}: not a string")
    return value


def _number(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: not an integer")
    return value


def _flow_to_json(flow: FlowRecord) -> dict[str, Any]:
    return {**{name: getattr(flow, name) for name in _FLOW_TEXT}, "line_number": flow.line_number,
            "grouping": list(flow.grouping), **{name: getattr(flow, name) for name in _FLOW_FLAGS}}


def _flow_from_json(data: Any) -> FlowRecord:
    if not isinstance(data, dict):
        raise TypeError("flow: not an object")
    grouping = data.get("grouping", [])
    if not isinstance(grouping, list) or not all(isinstance(part, str) for part in grouping):
        raise TypeError("grouping: not a list of strings")
    flags = {name: data.get(name, False) for name in _FLOW_FLAGS}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise TypeError("flags: not booleans")
    return FlowRecord(
        key=_text(data, "key"),
        original_name=_text(data, "original_name"),
        function_name=_text(data, "function_name"),
        description=_text(data, "description"),
        relative_path=_text(data, "relative_path"),
        line_number=_number(data, "line_number"),
        grouping=tuple(grouping),
        is_async=flags["is_async"],
        has_explicit_name=flags["has_explicit_name"],
    )


def _error_to_json(error: SourceError) -> dict[str, Any]:
    return {"relative_path": error.relative_path, "line": error.line, "message": error.message}


def _error_from_json(data: Any) -> SourceError:
    if not isinstance(data, dict):
        raise TypeError("error: not an object")
    return SourceError(_text(data, "relative_path"), _number(data, "line"), _text(data, "message"))


def _result_to_json(result: ParseResult) -> dict[str, Any] | None:
    if not result.flows and result.error is None:
        return None  # most files: keep the cache small
    return {
        "flows": [_flow_to_json(f) for f in result.flows],
        "error": _error_to_json(result.error) if result.error else None,
    }


def _result_from_json(data: dict[str, Any] | None) -> ParseResult:
    if data is None:
        return _EMPTY
    flows = tuple(_flow_from_json(f) for f in data["flows"])
    error = data["error"]
    return ParseResult(flows=flows, error=_error_from_json(error) if error is not None else None)


@attrs.define
class _Entry:
    size: int
    mtime_ns: int
    result: ParseResult


@attrs.define
class DiscoveryCache:
    """Per-file results for one `(root, source_root)`; load, look up, store, save.

    `hits` and `misses` count look-ups since loading, so callers and tests can
    tell whether the cache did its job.
    """

    path: Path | None
    source_root: str = ""
    _entries: dict[str, _Entry] = attrs.Factory(dict)
    _seen: dict[str, _Entry] = attrs.Factory(dict)
    _trusted_before_ns: int = 0
    hits: int = 0
    misses: int = 0
    _dirty: bool = False

    @classmethod
    def disabled(cls) -> DiscoveryCache:
        """A cache that never hits and never writes."""
        return cls(path=None)

    @classmethod
    def load(cls, cache_dir: Path, source_root: str = "") -> DiscoveryCache:
        """Read the cache in `cache_dir`; anything unusable yields an empty cache."""
        path = cache_dir / CACHE_FILE_NAME
        cache = cls(path=path, source_root=source_root)
        try:
            stat = path.stat()
            with path.open("rb") as handle:
                raw = json.load(handle)
            entries = cls._decode(raw, source_root)
        except (
            OSError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            RecursionError,
        ):
            return cache
        cache._entries = entries
        cache._trusted_before_ns = stat.st_mtime_ns
        return cache

    @staticmethod
    def _decode(raw: Any, source_root: str) -> dict[str, _Entry]:
        if (
            not isinstance(raw, dict)
            or raw.get("format") != CACHE_FORMAT
            or raw.get("source_root") != source_root
            or not isinstance(raw.get("files"), dict)
        ):
            return {}
        entries: dict[str, _Entry] = {}
        for relative_path, (size, mtime_ns, result) in raw["files"].items():
            if not isinstance(size, int) or not isinstance(mtime_ns, int):
                raise ValueError("bad cache entry")
            entries[relative_path] = _Entry(size, mtime_ns, _result_from_json(result))
        return entries

    def get(self, relative_path: str, size: int, mtime_ns: int) -> ParseResult | None:
        """The cached result if the file is unchanged (and not racy), else None."""
        entry = self._entries.get(relative_path)
        if (
            entry is not None
            and entry.size == size
            and entry.mtime_ns == mtime_ns
            and mtime_ns < self._trusted_before_ns
        ):
            self.hits += 1
            self._seen[relative_path] = entry
            return entry.result
        self.misses += 1
        return None

    def put(self, relative_path: str, size: int, mtime_ns: int, result: ParseResult) -> None:
        self._seen[relative_path] = _Entry(size, mtime_ns, result)
        self._dirty = True

    def save(self) -> None:
        """Write what this scan saw (dropping deleted files) if anything changed.

        Failing to write (read-only checkout, full disk) only costs speed next
        time, so it is swallowed.
        """
        if self.path is None:
            return
        if not self._dirty and self._seen.keys() == self._entries.keys():
            return
        payload = {
            "format": CACHE_FORMAT,
            "source_root": self.source_root,
            "files": {
                rel: [e.size, e.mtime_ns, _result_to_json(e.result)]
                for rel, e in sorted(self._seen.items())
            },
        }
        from portal_io.json_files import write_json_atomic  # tempfile & co.: only when writing

        try:
            write_json_atomic(self.path, payload)
        except OSError:
            return
        self._entries = dict(self._seen)
        self._dirty = False
