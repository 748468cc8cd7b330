"""The state directory's files: privacy, the two locks, the log.

Two different locks live in the state directory:

- `lock` serialises *commands*: whoever holds it may read, start, replace or
  stop the server; held for the length of one lifecycle operation.
- `server.lock` belongs to the *server*: the command that starts a server
  takes it and hands the open file to the server process (`pass_fds`), then
  closes its own copy. The `flock` therefore lives exactly as long as the
  server (and anything it let inherit the descriptor), whatever happens to
  `server.json`. A start that finds it held knows a server already runs on
  this state directory's database and must find that server instead of
  starting a second one beside it.

Everything here is private to the user: the SQLite database can hold secret
values (environment variables of deployments, block documents), and the log
and record name paths and ports.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from portal_io.json_files import PRIVATE_DIR, PRIVATE_FILE, ensure_private_dir
from portal_io.local_server.errors import LocalServerError

#: The umask of the server process, so the database, its WAL/journal files and
#: anything else Prefect creates later are born private.
SERVER_UMASK = 0o077


def make_private(state_dir: Path) -> None:
    """`state_dir` and every directory under it 0700, every file 0600.

    For what a previous version (or a server started with a looser umask)
    already created; new files are private through `SERVER_UMASK` and
    `open_private`. Symlinks are left alone: chmod would follow them out of
    the directory.
    """
    ensure_private_dir(state_dir)
    for root, dirs, files in os.walk(state_dir):
        for name in dirs:
            _chmod_if(Path(root) / name, stat.S_ISDIR, PRIVATE_DIR)
        for name in files:
            _chmod_if(Path(root) / name, stat.S_ISREG, PRIVATE_FILE)


def _chmod_if(path: Path, kind: Callable[[int], bool], mode: int) -> None:
    with contextlib.suppress(OSError):
        info = path.lstat()
        if kind(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)


def open_private(path: Path, flags: int) -> int:
    """`os.open` that creates the file 0600 (and tightens an existing one)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    with contextlib.suppress(OSError):
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def ensure_gitignore(state_dir: Path) -> None:
    """The state directory holds a database, logs and pids: never something to commit."""
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            fd = open_private(ignore, os.O_WRONLY | os.O_EXCL)
            with os.fdopen(fd, "w") as handle:
                handle.write("*\n")


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


@contextlib.contextmanager
def command_lock(path: Path, wait: float) -> Iterator[None]:
    """Hold `path` exclusively for one lifecycle operation; wait at most `wait` seconds."""
    fd = open_private(path, os.O_RDWR)
    try:
        deadline = time.monotonic() + wait
        while not _try_flock(fd):
            if time.monotonic() >= deadline:
                raise LocalServerError(
                    f"another command has held {path} for over {wait:g} s; is a server start stuck?"
                )
            time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def take_server_lock(path: Path) -> int | None:
    """The locked descriptor of `server.lock` for a server about to start, or None if a server holds it.

    The descriptor is close-on-exec in this process; the caller passes it to
    the server with `pass_fds` and closes its own copy once the server runs.
    """
    fd = open_private(path, os.O_RDWR)
    if _try_flock(fd):
        return fd
    os.close(fd)
    return None


def server_lock_held(path: Path) -> bool:
    """Whether a live server holds `server.lock` (checked by trying to take it)."""
    if not path.exists():
        return False
    fd = take_server_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def lock_holders(path: Path) -> list[int]:
    """Pids of processes with `path` open, found through /proc (empty where there is none).

    Having our lock file open is only possible for a process that inherited
    it from the command that started it, so this finds our server even when
    `server.json` is gone or garbage. Other users' processes are unreadable
    and skipped: they cannot hold a 0600 file of ours anyway.
    """
    try:
        target = path.stat()
    except OSError:
        return []
    proc = Path("/proc")
    found: list[int] = []
    try:
        entries = list(proc.iterdir())
    except OSError:
        return []
    me = os.getpid()
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                info = fd.stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
                found.append(int(entry.name))
                break
    return found


def log_tail(path: Path, offset: int, lines: int) -> str:
    """The last `lines` non-blank lines written after `offset`, joined into one line."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    kept = [line.strip()[:300] for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
