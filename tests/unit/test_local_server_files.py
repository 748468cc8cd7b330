"""The state directory's locks and permissions, with plain processes instead of a Prefect server."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from portal_io.local_server import files
from portal_io.local_server.process import spawn

# Lives until `release` appears in its cwd (bounded, so a failed test cannot leave it behind).
HOLD = (
    "import os, time\n"
    "end = time.monotonic() + 60\n"
    "while not os.path.exists('release') and time.monotonic() < end:\n"
    "    time.sleep(0.05)\n"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_make_private_tightens_what_exists_but_never_follows_symlinks(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "home" / "nested").mkdir(parents=True)
    loose = [state / "server.log", state / "home" / "prefect.db", state / "home" / "nested" / "x"]
    for path in loose:
        path.write_text("data")
        os.chmod(path, 0o644)
    for directory in (state, state / "home", state / "home" / "nested"):
        os.chmod(directory, 0o755)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (state / "link").symlink_to(outside)

    files.make_private(state)

    assert [mode(p) for p in loose] == [0o600] * 3
    assert [mode(d) for d in (state, state / "home", state / "home" / "nested")] == [0o700] * 3
    assert mode(outside) == 0o644


def test_open_private_creates_and_tightens(tmp_path: Path) -> None:
    existing = tmp_path / "lock"
    existing.write_text("")
    os.chmod(existing, 0o666)
    for path in (existing, tmp_path / "new"):
        os.close(files.open_private(path, os.O_RDWR))
        assert mode(path) == 0o600


def test_server_lock_lives_exactly_as_long_as_the_process_that_inherited_it(tmp_path: Path) -> None:
    lock = tmp_path / "server.lock"
    assert not files.server_lock_held(lock)
    fd = files.take_server_lock(lock)
    assert fd is not None
    assert files.take_server_lock(lock) is None  # a second start is refused meanwhile
    log = (tmp_path / "log").open("wb")
    try:
        child = spawn([sys.executable, "-c", HOLD], env=dict(os.environ), cwd=tmp_path, log=log, keep_fd=fd)
    finally:
        os.close(fd)  # as the starting command does: only the child holds it now
        log.close()
    try:
        assert files.server_lock_held(lock)
        assert files.lock_holders(lock) == [child.pid]
        assert files.take_server_lock(lock) is None
    finally:
        (tmp_path / "release").touch()
        assert child.wait(timeout=60) == 0
    assert not files.server_lock_held(lock)
    assert files.lock_holders(lock) == []


def test_spawned_server_gets_the_private_umask(tmp_path: Path) -> None:
    log = (tmp_path / "log").open("wb")
    fd = files.take_server_lock(tmp_path / "server.lock")
    assert fd is not None
    try:
        child = spawn(
            [sys.executable, "-c", "open('made-by-child', 'w').close(); import os; os.mkdir('dir')"],
            env=dict(os.environ), cwd=tmp_path, log=log, keep_fd=fd,
        )
    finally:
        os.close(fd)
        log.close()
    assert child.wait(timeout=30) == 0
    assert mode(tmp_path / "made-by-child") == 0o600
    assert mode(tmp_path / "dir") == 0o700
