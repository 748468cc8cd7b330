"""Git facts the lifecycle verbs need: who is acting, which branches exist, and the
source of a branch's tip (read from git objects, never checked out, never imported).

Argument-list subprocess calls only (no shell).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from portal_io.errors import GitReadError


def _git(root: Path, *args: str, stdin: str | None = None, timeout: float = 30) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=timeout, check=False, input=stdin)
    except FileNotFoundError:
        raise GitReadError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitReadError(f"git {' '.join(args)} timed out") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitReadError(f"git {' '.join(args)}: {message}")
    return done.stdout


def user_name(root: Path) -> str | None:
    try:
        return _git(root, "config", "user.name").strip() or None
    except GitReadError:
        return None


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
