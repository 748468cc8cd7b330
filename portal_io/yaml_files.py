"""Read YAML with ruamel and remember where every key sits.

The core validates plain data and reports a key path; `YamlDocument.locate`
turns that path back into `line:column` so errors point into the file.

A config file is input the tool must survive, so reading it is bounded:

* the file itself goes through `read_config_text` (size limit, UTF-8, not a
  folder or a pipe);
* merge keys (`<<: *base`) are supported; a merged key is located where it is
  written, in the base mapping;
* aliases share one object in ruamel's result, and copying them into plain
  data would multiply them: a 450-byte "billion laughs" file expands to
  hundreds of millions of values. Values reached again through an alias or a
  merge count against `ALIAS_BUDGET`, and nesting against `MAX_DEPTH`; past
  either, the file is refused at the place where the budget ran out;
* only plain YAML values are accepted (mappings with scalar keys, lists,
  strings, numbers, booleans, null, dates); custom tags, binary and sets are
  refused where they appear rather than surfacing later as odd types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import attrs

from portal_core.errors import ConfigError
from portal_io.text_files import read_config_text

Position = tuple[int, int]  # 1-based line and column
KeyPath = tuple[Any, ...]

#: Values reached a second time (through aliases or merge keys). Real configs
#: reuse a few defaults per flow: hundreds, not tens of thousands.
ALIAS_BUDGET = 20_000
#: Deeper nesting is a mistake or an attack (and would exhaust the stack).
MAX_DEPTH = 64


@attrs.frozen
class YamlDocument:
    path: str  # as shown to the user (relative where possible)
    data: Any
    positions: Mapping[KeyPath, Position]

    def locate(self, key_path: tuple[str | int, ...]) -> Position | None:
        """The position of the deepest known prefix of `key_path`."""
        for end in range(len(key_path), -1, -1):
            found = self.positions.get(tuple(key_path[:end]))
            if found is not None:
                return found
        return None

    def where(self, key_path: tuple[str | int, ...]) -> str:
        """`file:line:col` of `key_path` (or of its deepest known prefix)."""
        position = self.locate(key_path)
        return self.path if position is None else f"{self.path}:{position[0]}:{position[1]}"

    def error(self, err: ConfigError) -> ConfigError:
        """Re-issue a core `ConfigError` with this file's name and position."""
        return ConfigError(err.message, err.path, source=self.where(err.path))


class _Problem(Exception):
    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _merge_sources(node: Any) -> Iterator[Any]:
    for item in getattr(node, "merge", None) or ():
        yield item[1] if isinstance(item, tuple) else item


def _key_position(node: Any, key: Any, depth: int = 0) -> Position | None:
    """Where `key` is written: in `node` itself, or in a mapping merged into it."""
    try:
        line, column = node.lc.key(key)
        return (line + 1, column + 1)
    except (KeyError, TypeError, AttributeError):
        pass
    if depth < MAX_DEPTH:
        for source in _merge_sources(node):
            found = _key_position(source, key, depth + 1)
            if found is not None:
                return found
    return None


def _plain_datetime(value: dt.datetime) -> dt.datetime:
    """ruamel's `TimeStamp` as a plain `datetime` (same instant, same offset)."""
    return dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=value.tzinfo,
    )


class _Copier:
    """Copy ruamel's round-trip nodes into plain dicts/lists, recording positions."""

    def __init__(self, budget: int) -> None:
        from ruamel.yaml.comments import CommentedKeyMap, CommentedKeySeq, CommentedMap, CommentedSeq

        self.mapping, self.sequence = CommentedMap, CommentedSeq
        self.complex_key = (CommentedKeyMap, CommentedKeySeq)
        self.positions: dict[KeyPath, Position] = {(): (1, 1)}
        self.seen: set[int] = set()
        self.budget = budget

    def _count(self, path: KeyPath) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _Problem(
                path,
                f"aliases and merge keys expand to more than {ALIAS_BUDGET} values"
                " (a recursive or exponential alias?); write the values out or reuse less",
            )

    def plain(self, node: Any, path: KeyPath, copied: bool = False) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Problem(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, (self.mapping, self.sequence)):
            if id(node) in self.seen:
                copied = True
            else:
                self.seen.add(id(node))
        if copied:
            self._count(path)
        if isinstance(node, self.mapping):
            result = {}
            for key, value in node.items():
                if isinstance(key, self.complex_key) or not _is_scalar(key):
                    raise _Problem(path, "a mapping key must be a plain value, not a list or mapping")
                plain_key = self.plain(key, path)
                if not copied:
                    position = _key_position(node, key)
                    if position is not None:
                        self.positions[(*path, plain_key)] = position
                result[plain_key] = self.plain(value, (*path, plain_key), copied)
            return result
        if isinstance(node, self.sequence):
            items = []
            for index, value in enumerate(node):
                if not copied:
                    try:
                        line, column = node.lc.item(index)
                        self.positions[(*path, index)] = (line + 1, column + 1)
                    except (KeyError, TypeError, AttributeError):
                        pass
                items.append(self.plain(value, (*path, index), copied))
            return items
        if node is None or isinstance(node, (bool, int, float, str)):
            return _scalar(node)
        if isinstance(node, dt.datetime):
            return _plain_datetime(node)
        if isinstance(node, dt.date):
            return dt.date(node.year, node.month, node.day)
        raise _Problem(path, f"unsupported YAML value {_kind(node)}; use plain strings, numbers, lists and mappings")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, dt.date))


def _scalar(node: Any) -> Any:
    """Drop ruamel's scalar subclasses (they carry formatting, not meaning)."""
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _kind(node: Any) -> str:
    tag = getattr(node, "tag", None)
    tag_text = getattr(tag, "value", tag)
    if isinstance(tag_text, str) and tag_text:
        return f"(tag {tag_text})"
    if isinstance(node, (bytes, bytearray)):
        return "(binary)"
    if isinstance(node, AbstractSet):
        return "(a set: use a list)"
    return f"({type(node).__name__})"


def parse_yaml(text: str, shown: str, *, alias_budget: int = ALIAS_BUDGET) -> YamlDocument:
    """Parse YAML text; every problem is a `ConfigError` at `shown:line:col`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = err.problem or err.context or "malformed YAML"
        raise ConfigError(f"malformed YAML: {problem}".splitlines()[0], source=where) from None
    except RecursionError:
        raise ConfigError("malformed YAML: nested too deeply", source=shown) from None
    except Exception as err:  # ruamel raises a few unmarked errors (e.g. huge integers)
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"malformed YAML: {detail}", source=shown) from None
    copier = _Copier(alias_budget)
    try:
        data = copier.plain(tree, ())
    except _Problem as problem:
        document = YamlDocument(path=shown, data=None, positions=copier.positions)
        raise ConfigError(problem.message, source=document.where(problem.path)) from None
    return YamlDocument(path=shown, data=data, positions=copier.positions)


def load_yaml(path: Path, shown_as: str | None = None) -> YamlDocument:
    """Load one YAML file (bounded, see the module doc); problems are `ConfigError`s."""
    shown = shown_as or str(path)
    return parse_yaml(read_config_text(path, shown), shown)
