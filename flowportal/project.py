"""Locating the project a command runs in.

Commands are run from anywhere inside a project (often a subdirectory), but
everything they own — config, the `.portal/` state directory with the local
server — lives at the project root, so every command resolves it the same way.
"""

from __future__ import annotations

from pathlib import Path

# Checked in order in each directory; the first directory with any of them wins.
# `config/environments.yaml` is the most specific marker of a flowportal
# project; `pyproject.toml` and `.git` cover projects not configured yet.
ROOT_MARKERS = ("config/environments.yaml", "pyproject.toml", ".git")


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above `start` that holds a project marker.

    Falls back to `start` itself so that a command run outside any project
    still has a well-defined place for its state instead of failing.
    """
    start = Path(start).absolute()
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in ROOT_MARKERS):
            return directory
    return start
