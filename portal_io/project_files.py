"""Small project files: pyproject metadata and dotenv files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from portal_core.dotenv import parse_dotenv
from portal_core.errors import ConfigError
from portal_io.text_files import read_config_text

PYPROJECT = "pyproject.toml"


@attrs.frozen
class PyprojectInfo:
    name: str | None = None
    version: str | None = None


def read_pyproject(root: Path) -> PyprojectInfo:
    """`[project] name/version`, if there is a pyproject.toml.

    Uses tomllib where available (3.11+) and a narrow line reader on 3.10, which
    is enough for the two plain strings we need.
    """
    path = root / "pyproject.toml"
    if not os.path.lexists(path):
        return PyprojectInfo()
    text = read_config_text(path, PYPROJECT)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return _read_pyproject_lines(text)
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML: {err}", source=PYPROJECT) from None
    except RecursionError:
        raise ConfigError("invalid TOML: nested too deeply", source=PYPROJECT) from None
    if not isinstance(project, dict):
        raise ConfigError("[project] must be a table", source=PYPROJECT)
    name, version = project.get("name"), project.get("version")
    return PyprojectInfo(
        name=name if isinstance(name, str) else None,
        version=version if isinstance(version, str) else None,
    )


def _read_pyproject_lines(text: str) -> PyprojectInfo:
    section = ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        header = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1).strip()
            continue
        if section == "" and re.match(r"^\s*project\s*=", line):  # as tomllib sees it: not a table
            raise ConfigError("[project] must be a table", source=PYPROJECT)
        pair = re.match(r"""^\s*(name|version)\s*=\s*(?:"([^"]*)"|'([^']*)')""", line)
        if section == "project" and pair:
            found[pair.group(1)] = pair.group(2) if pair.group(2) is not None else pair.group(3)
    return PyprojectInfo(name=found.get("name"), version=found.get("version"))


def read_dotenv(path: Path, shown_as: str) -> dict[str, str]:
    """A dotenv file's variables; a missing, unreadable, huge or non-UTF-8 file is one error."""
    return parse_dotenv(read_config_text(path, shown_as, missing="env_file not found"), shown_as)
