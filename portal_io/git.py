"""Git, the one adapter: facts about the checkout (branch, commit, status) and reads
of other branches, remotes and files at a commit (never checked out, never imported).

Every call is an argument list (no shell) with a timeout, through one runner, so
that a missing git, a hung remote and a failing command read the same way
everywhere. Two kinds of failure stay apart because callers act differently on
them: `GitError` (what the checkout is could not be told: the user can pass the
value instead, and the message says how) and `GitReadError` (another branch, a
remote or an old file could not be read: the caller decides whether that stops it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from portal_io.errors import GitError, GitReadError

__all__ = [
    "GitError",
    "GitReadError",
    "current_branch",
    "file_at",
    "local_branches",
    "python_files_at",
    "remote_branches",
    "remotes",
    "short_commit",
    "status",
    "user_name",
]

Runner = Callable[..., subprocess.CompletedProcess[Any]]

#: What to do when git cannot tell what the checkout is (deploy and the CLI's options).
CHECKOUT_HINT = "pass --branch/--commit to override"


def _git(root: Path, *args: str, hint: str | None = None, timeout: float = 30,
         stdin: str | None = None, run: Runner = subprocess.run) -> str:
    """git's standard output; a failure raises `GitError` ending in `hint` when one is
    given (the checkout's facts), else `GitReadError`."""
    def failed(message: str) -> Exception:
        return GitError(f"{message}; {hint}") if hint is not None else GitReadError(message)

    try:
        done = run(["git", *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                   check=False, input=stdin)
    except FileNotFoundError:
        raise failed("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise failed(f"git {' '.join(args)} timed out") from None
    if done.returncode != 0:
        message = ((done.stderr or "").strip().splitlines() or ["failed"])[-1]
        raise failed(f"git {' '.join(args)}: {message}")
    return str(done.stdout or "")


# --------------------------------------------------------------------------- the checkout


def current_branch(root: Path, *, hint: str = CHECKOUT_HINT, run: Runner = subprocess.run) -> str:
    """The checked-out branch. A detached HEAD has no branch to name deployments after
    or to run a workflow on, so it is an error (ending in `hint`), never a guess."""
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD", hint=hint, timeout=15, run=run).strip()
    if branch == "HEAD" or not branch:
        raise GitError(f"the checkout is on a detached HEAD; {hint}")
    return branch


def short_commit(root: Path) -> str:
    return _git(root, "rev-parse", "--short", "HEAD", hint=CHECKOUT_HINT, timeout=15).strip()


def status(root: Path) -> list[tuple[str, str]]:
    """`(XY code, path)` for every changed or untracked file under `root`, paths relative
    to `root` (git's porcelain format, NUL-separated so that any file name survives)."""
    prefix = _git(root, "rev-parse", "--show-prefix", hint=CHECKOUT_HINT, timeout=15).strip()
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".",
               hint=CHECKOUT_HINT, timeout=15)
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


def user_name(root: Path) -> str | None:
    try:
        return _git(root, "config", "user.name").strip() or None
    except GitReadError:
        return None


# --------------------------------------------------------------------------- other branches


def local_branches(root: Path) -> dict[str, str]:
    """Local branch name -> the ref to read its tip from."""
    out = _git(root, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    return {name: f"refs/heads/{name}" for name in out.split()}


def remotes(root: Path) -> list[str]:
    return _git(root, "remote").split()


def remote_branches(root: Path, remote: str) -> dict[str, str]:
    """Branches that exist on `remote` now (asked over the network, not the stale
    remote-tracking refs) -> the local ref of their tip if one is fetched, else ""."""
    out = _git(root, "ls-remote", "--heads", remote, timeout=60)
    found = {}
    for line in out.splitlines():
        _, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/"):]
            found[name] = f"refs/remotes/{remote}/{name}"
    tracked = set(_git(root, "for-each-ref", "--format=%(refname)",
                       f"refs/remotes/{remote}").split())
    return {name: (ref if ref in tracked else "") for name, ref in found.items()}


def python_files_at(root: Path, ref: str, under: str) -> list[tuple[str, str]]:
    """(path, text) of every `.py` file under `under` at `ref`, in two git calls."""
    args = ["ls-tree", "-r", "--name-only", ref]
    if under:
        args += ["--", under]
    paths = [p for p in _git(root, *args).splitlines() if p.endswith(".py")]
    if not paths:
        return []
    return list(zip(paths, _cat_files(root, [f"{ref}:{p}" for p in paths]), strict=True))


def file_at(root: Path, commit: str, path: str) -> str | None:
    """The text of `path` at `commit`, or None when either does not exist here."""
    try:
        return _git(root, "show", f"{commit}:{path}")
    except GitReadError:
        return None


def _cat_files(root: Path, objects: Sequence[str]) -> list[str]:
    """The objects' texts in one `git cat-file --batch` (bytes: sizes count bytes)."""
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, capture_output=True,
                         input="\n".join(objects).encode() + b"\n", timeout=60, check=False)
    if out.returncode != 0:
        raise GitReadError("git cat-file --batch failed")
    data, texts, pos = out.stdout, [], 0
    for _ in objects:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode()
        pos = end + 1
        if header.endswith("missing"):
            texts.append("")
            continue
        size = int(header.rsplit(" ", 1)[1])
        texts.append(data[pos:pos + size].decode("utf-8", "replace"))
        pos += size + 1
    return texts
