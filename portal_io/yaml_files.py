"""Read YAML with ruamel and remember where every key sits.

The core validates plain data and reports a key path; `YamlDocument.locate`
turns that path back into `line:column` so errors point into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from portal_core.errors import ConfigError

Position = tuple[int, int]  # 1-based line and column


@attrs.frozen
class YamlDocument:
    path: str  # as shown to the user (relative where possible)
    data: Any
    positions: Mapping[tuple[str | int, ...], Position]

    def locate(self, key_path: tuple[str | int, ...]) -> Position | None:
        """The position of the deepest known prefix of `key_path`."""
        for end in range(len(key_path), -1, -1):
            found = self.positions.get(tuple(key_path[:end]))
            if found is not None:
                return found
        return None

    def error(self, err: ConfigError) -> ConfigError:
        """Re-issue a core `ConfigError` with this file's name and position."""
        where = self.path
        position = self.locate(err.path)
        if position is not None:
            where += f":{position[0]}:{position[1]}"
        return ConfigError(err.message, err.path, source=where)


def _plain(node: Any, path: tuple[str | int, ...], positions: dict) -> Any:
    """Copy ruamel's round-trip nodes into plain dicts/lists, recording positions."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        result = {}
        for key, value in node.items():
            line, column = node.lc.key(key)
            positions[(*path, key)] = (line + 1, column + 1)
            result[key] = _plain(value, (*path, key), positions)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            line, column = node.lc.item(index)
            positions[(*path, index)] = (line + 1, column + 1)
            items.append(_plain(value, (*path, index), positions))
        return items
    if isinstance(node, str):
        return str(node)  # drop ruamel's scalar-string subclasses
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_yaml(path: Path, shown_as: str | None = None) -> YamlDocument:
    """Load one YAML file; malformed YAML becomes a `ConfigError` with its position."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    shown = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=shown) from None
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", source=shown) from None
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = err.problem or err.context or "malformed YAML"
        raise ConfigError(f"malformed YAML: {problem}", source=where) from None
    except Exception as err:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        raise ConfigError(f"malformed YAML: {err}".splitlines()[0], source=shown) from None
    positions: dict[tuple[str | int, ...], Position] = {(): (1, 1)}
    return YamlDocument(path=shown, data=_plain(tree, (), positions), positions=positions)
