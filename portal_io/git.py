"""Git facts about the checkout, through argument-list subprocess calls (no shell)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from portal_core.errors import PortalError


class GitError(PortalError):
    pass


def _git(root: Path, *args: str) -> str:
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
    return done.stdout.strip()


def current_branch(root: Path) -> str:
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise GitError("the checkout is on a detached HEAD; pass --branch")
    return branch


def short_commit(root: Path) -> str:
    return _git(root, "rev-parse", "--short", "HEAD")
