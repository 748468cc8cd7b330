"""Small project files: pyproject metadata and dotenv files."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from portal_core.dotenv import parse_dotenv
from portal_core.errors import ConfigError


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
    if not path.is_file():
        return PyprojectInfo()
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return _read_pyproject_lines(text)
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"invalid TOML: {err}", source=str(path)) from None
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
        pair = re.match(r'^\s*(name|version)\s*=\s*"([^"]*)"', line)
        if section == "project" and pair:
            found[pair.group(1)] = pair.group(2)
    return PyprojectInfo(name=found.get("name"), version=found.get("version"))


def read_dotenv(path: Path, shown_as: str) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("env_file not found", source=shown_as) from None
    return parse_dotenv(text, shown_as)
