"""Git facts about the checkout, through argument-list subprocess calls (no shell)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from portal_io.errors import GitError


def _git(root: Path, *args: str) -> str:
    return _git_raw(root, *args).strip()


def _git_raw(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=15, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed; pass --branch and --commit instead") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} timed out") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitError(f"git {' '.join(args)}: {message}; pass --branch/--commit to override")
    return done.stdout


def current_branch(root: Path) -> str:
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise GitError("the checkout is on a detached HEAD; pass --branch")
    return branch


def short_commit(root: Path) -> str:
    return _git(root, "rev-parse", "--short", "HEAD")


def status(root: Path) -> list[tuple[str, str]]:
    """`(XY code, path)` for every changed or untracked file under `root`, paths relative
    to `root` (git's porcelain format, NUL-separated so that any file name survives)."""
    prefix = _git(root, "rev-parse", "--show-prefix")
    out = _git_raw(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    entries: list[tuple[str, str]] = []
    fields = out.split("\0")
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename/copy is followed by its source path
            index += 1
        if path.startswith(prefix):  # porcelain paths are relative to the repository's top
            entries.append((code, path[len(prefix):]))
    return entries
