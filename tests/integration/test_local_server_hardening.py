"""Hardening of the embedded server, against real `prefect server start` processes.

One server per test, on a free port (never 4200), stopped by pid in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_io.local_server import LocalServer, LocalServerError
from portal_io.local_server import server as server_module
from portal_io.local_server.rules import PASSED_ENV_NAMES

pytestmark = pytest.mark.integration

SECRET = "hunter2-warehouse-7f3a"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def server_pids_for(home: Path) -> list[int]:
    """Every live `prefect server start` process whose PREFECT_HOME is `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = environ_of(int(entry.name))
        except OSError:
            continue
        if b"server" in argv and b"start" in argv and env.get("PREFECT_HOME") == str(home):
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            if state != "Z":
                found.append(int(entry.name))
    return found


def kill_group(pid: int | None) -> None:
    """Last-resort cleanup by pid: the server leads its own process group."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def test_private_files_clean_environment_and_one_server_per_database(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bystander: subprocess.Popen[bytes],
) -> None:
    state_dir = tmp_path / ".portal" / "server"
    home = state_dir / "home"
    # What an older version (or a loose umask) left behind: world-readable.
    home.mkdir(parents=True)
    os.chmod(state_dir, 0o755)
    os.chmod(home, 0o755)
    leftover = state_dir / "server.log"
    leftover.write_text("old log\n")
    os.chmod(leftover, 0o644)

    monkeypatch.setenv("WAREHOUSE_PASSWORD", SECRET)
    monkeypatch.setenv("PREFECT_API_URL", "https://api.example.invalid/api")
    monkeypatch.setenv("PREFECT_PROFILE", "someone-elses")
    monkeypatch.setenv("LC_MESSAGES", "C")
    # Prefect's shared default is free here; the recorded port is busy (another
    # process took it while the server was down). The new server must take a
    # spare port, not the default.
    default_port = free_port()
    monkeypatch.setattr(server_module, "DEFAULT_PORT", default_port)
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy_port = holder.getsockname()[1]
    (state_dir / "server.json").write_text(
        f'{{"pid": 999999999, "port": {busy_port}, "url": "http://127.0.0.1:{busy_port}/api"}}'
    )

    seen: list[tuple[str, bool]] = []
    server = LocalServer(state_dir, notify=lambda m: seen.append((m, server_pid_recorded(state_dir))))
    pid: int | None = None
    try:
        url = server.ensure_running(timeout=180)
        pid = server.status().pid
        assert pid is not None

        # --- port: neither the busy recorded port nor the free default
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert port not in (busy_port, default_port)
        assert any(f"port {busy_port} on 127.0.0.1 is in use" in n for n in server.notices)

        # --- a progress line before the start began (no record of the new server yet)
        progress = [(m, recorded) for m, recorded in seen if m.startswith("starting the embedded Prefect")]
        assert len(progress) == 1
        message, recorded_then = progress[0]
        assert not recorded_then
        assert f"under {state_dir}" in message or "under .portal/server" in message

        # --- private: the directory tree 0700, every file 0600, the database included
        assert (home / "prefect.db").exists()
        for root, _dirs, files in os.walk(state_dir):
            assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
            for name in files:
                path = Path(root) / name
                assert stat.S_IMODE(path.lstat().st_mode) == 0o600, path

        # --- environment: what Prefect needs, nothing else of ours
        env = environ_of(pid)
        assert "WAREHOUSE_PASSWORD" not in env and SECRET not in "".join(env.values())
        assert env["PREFECT_HOME"] == str(home)
        assert env["PATH"] == os.environ["PATH"] and env["LC_MESSAGES"] == "C"
        assert "PREFECT_PROFILE" not in env
        assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == f"sqlite+aiosqlite:///{home / 'prefect.db'}"
        ours = {k for k in env if k.startswith("PREFECT_")} | {"PYTHONUNBUFFERED"}
        passed = {k for k in env if k in PASSED_ENV_NAMES or k.startswith("LC_")}
        assert set(env) == ours | passed
        assert "PREFECT_API_URL" not in env

        # --- a garbage record does not lead to a second server on the database
        (state_dir / "server.json").write_text("{garbage")
        again = LocalServer(state_dir)
        assert again.ensure_running(timeout=180) == url
        assert again.last_start_seconds is None
        assert any(f"pid {pid} by its database lock" in n for n in again.notices)
        assert server_pids_for(home) == [pid]

        # --- nor does a valid-looking record naming someone else (never signalled)
        (state_dir / "server.json").write_text(
            f'{{"pid": {bystander.pid}, "port": {free_port()}, "url": "http://127.0.0.1:1/api"}}'
        )
        found = LocalServer(state_dir).status()
        assert found.healthy and found.pid == pid and "not this project's" in found.message
        third = LocalServer(state_dir)
        assert third.ensure_running(timeout=180) == url
        assert third.last_start_seconds is None
        assert bystander.poll() is None
        assert server_pids_for(home) == [pid]

        # --- nor an explicit start
        (state_dir / "server.json").unlink()
        with pytest.raises(LocalServerError, match="already running"):
            LocalServer(state_dir).start(timeout=180)
        assert server_pids_for(home) == [pid]

        # --- with no record at all, status and stop still find it by its lock
        (state_dir / "server.json").unlink()
        status = LocalServer(state_dir).status()
        assert status.healthy and status.pid == pid and "database lock" in status.message
        assert LocalServer(state_dir).stop(timeout=10) is True
        assert server_pids_for(home) == []
        pid = None
    finally:
        holder.close()
        with contextlib.suppress(LocalServerError):
            server.stop(timeout=5)
        kill_group(pid)


def server_pid_recorded(state_dir: Path) -> bool:
    return (state_dir / "server.json").exists() and "999999999" not in (
        state_dir / "server.json"
    ).read_text()


def test_a_lock_held_by_something_unidentifiable_refuses_to_start(tmp_path: Path) -> None:
    """Whatever holds the database lock, a second server is never started beside it."""
    state_dir = tmp_path / "server"
    state_dir.mkdir()
    lock = state_dir / "server.lock"
    lock.touch()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\n"
         f"f = open({str(lock)!r}, 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
         "time.sleep(300)\n"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        server = LocalServer(state_dir, port=free_port())
        with pytest.raises(LocalServerError) as caught:
            server.ensure_running(timeout=30)
        assert f"cannot identify (pid {holder.pid}) holds" in str(caught.value) and str(lock) in str(caught.value)
        assert not (state_dir / "server.json").exists()
        assert holder.poll() is None  # not signalled either
        assert server_pids_for(state_dir / "home") == []
    finally:
        holder.kill()
        holder.wait(timeout=10)


# ----------------------------------------------------------------- PostgreSQL


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 and a free port, with a password; stopped afterwards."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    # Directly under the temp root: pytest's own directories are 0700, which
    # the postgres user (needed when running as root) could not enter.
    base = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    data, pwfile = base / "data", base / "pw"
    data.mkdir()
    password = "pg-pass-0c41d9"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        for path in (base, data, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{args[0]} failed: {done.stderr.strip()[-500:]}"

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "portal", "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "-E", "UTF8")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
            f"-h 127.0.0.1 -p {port} -k {base}", "start")
        try:
            env = {**os.environ, "PGPASSWORD": password}
            subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                            "portal", "prefect"], check=True, capture_output=True, timeout=60, env=env)
            yield f"postgresql+asyncpg://portal:{password}@127.0.0.1:{port}/prefect"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_database_url_runs_the_server_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    password = postgres_url.split(":")[2].split("@")[0]
    state_dir = tmp_path / "server"
    notes: list[str] = []
    server = LocalServer(state_dir, port=free_port(), database_url=postgres_url, notify=notes.append)
    pid: int | None = None
    try:
        url = server.ensure_running(timeout=240)
        pid = server.status().pid
        assert pid is not None
        env = environ_of(pid)
        assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == postgres_url
        assert not (state_dir / "home" / "prefect.db").exists()
        # The server really keeps its data in PostgreSQL: a work pool created through
        # the API is a row there.
        request = urllib.request.Request(
            f"{url}/work_pools/", data=b'{"name": "pg-proof", "type": "process"}',
            headers={"Content-Type": "application/json"}, method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            assert response.status == 201
        port = postgres_url.rsplit(":", 1)[1].split("/")[0]
        bin_dir = _pg_bin()
        assert bin_dir is not None
        rows = subprocess.run(
            [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", port, "-U", "portal", "-d", "prefect", "-tAc",
             "select name from work_pool where name = 'pg-proof'"],
            check=True, capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": password},
        ).stdout.split()
        assert rows == ["pg-proof"]
        # The record names the database, never its password.
        record = (state_dir / "server.json").read_text()
        assert "postgresql+asyncpg://portal:" in record and password not in record
        assert all(password not in n for n in notes)
        # Asking for SQLite while it runs on PostgreSQL is refused, not silently served.
        with pytest.raises(LocalServerError, match="already running with database"):
            LocalServer(state_dir).ensure_running(timeout=30)
        assert server.stop(timeout=10) is True
        pid = None
    finally:
        with contextlib.suppress(LocalServerError):
            server.stop(timeout=5)
        kill_group(pid)
