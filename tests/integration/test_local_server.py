"""The embedded Prefect server lifecycle, against real `prefect server start` processes.

Each test that starts a server uses its own state directory and a free port,
and stops what it started by pid, so tests are independent of each other, of
the session server and of any server a developer has running on 4200.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_io.local_server import LocalServer, LocalServerError
from portal_io.local_server import server as local_server

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether pid is a live process (reaping it first if it is our zombie child)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] != "Z"


@pytest.fixture
def servers() -> Iterator[list[LocalServer]]:
    """Collects LocalServers a test creates and stops them all afterwards, pass or fail."""
    created: list[LocalServer] = []
    yield created
    for server in created:
        server.stop(timeout=5)


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A plain socket listening on a loopback port: 'another process' holding it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _write_state(state_dir: Path, pid: int, port: int) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    (state_dir / "server.json").write_text(
        json.dumps({"pid": pid, "port": port, "url": url, "started_at": "2020-01-01T00:00:00+00:00"})
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_start_reuse_replace_and_stop(tmp_path: Path, servers: list[LocalServer]) -> None:
    state_dir = tmp_path / ".portal" / "server"
    port = free_port()

    # Two concurrent callers: the lock makes them share one server.
    racers = [LocalServer(state_dir, port=port) for _ in range(2)]
    servers.extend(racers)
    urls: list[str] = []
    errors: list[BaseException] = []

    def race(server: LocalServer) -> None:
        try:
            urls.append(server.ensure_running(timeout=120))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    assert not errors
    assert urls == [f"http://127.0.0.1:{port}/api"] * 2
    assert sorted(s.last_start_seconds is None for s in racers) == [False, True]

    status = LocalServer(state_dir).status()
    assert status.running and status.healthy
    assert status.port == port and status.url == urls[0]
    assert status.log_path == state_dir / "server.log"
    first_pid = status.pid
    assert first_pid is not None and _alive(first_pid)
    record = json.loads((state_dir / "server.json").read_text())
    assert {"pid", "port", "url", "started_at"} <= record.keys()
    assert (state_dir / "home" / "prefect.db").exists()

    # A later command (no port given) reuses it without starting anything.
    again = LocalServer(state_dir)
    began = time.monotonic()
    assert again.ensure_running() == urls[0]
    assert again.last_start_seconds is None
    assert time.monotonic() - began < 5
    assert again.status().pid == first_pid

    # A copy of the project (record included) must not adopt, or kill, this server.
    copy_dir = tmp_path / "copy" / ".portal" / "server"
    copy_dir.mkdir(parents=True)
    (copy_dir / "server.json").write_text((state_dir / "server.json").read_text())
    copied = LocalServer(copy_dir).status()
    assert not copied.running and "not this project's" in copied.message
    assert LocalServer(copy_dir).stop() is False
    assert _alive(first_pid) and LocalServer(state_dir).status().healthy

    # Asking for a different port while it runs is refused, not silently ignored.
    with pytest.raises(LocalServerError, match="already running on port"):
        LocalServer(state_dir, port=free_port()).ensure_running()
    with pytest.raises(LocalServerError, match="already running"):
        LocalServer(state_dir).start()

    # A server that stops answering is replaced, never waited on forever.
    os.kill(first_pid, signal.SIGSTOP)
    try:
        stuck = LocalServer(state_dir).status()
        assert stuck.running and not stuck.healthy
        replacer = LocalServer(state_dir, port=port)
        servers.append(replacer)
        assert replacer.ensure_running(timeout=120) == urls[0]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(first_pid, signal.SIGCONT)
    assert any("does not answer" in notice for notice in replacer.notices)
    assert not _alive(first_pid)
    second_pid = replacer.status().pid
    assert second_pid not in (None, first_pid)

    # Stop from a fresh object, as `invoke server stop` would.
    assert LocalServer(state_dir).stop() is True
    assert not _alive(second_pid)
    assert not (state_dir / "server.json").exists()
    after = LocalServer(state_dir).status()
    assert not after.running and not after.healthy and after.pid is None
    assert LocalServer(state_dir).stop() is False


def test_stale_record_is_replaced_and_busy_default_port_avoided(
    tmp_path: Path,
    servers: list[LocalServer],
    listening_socket: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state_dir = tmp_path / "server"
    busy_port = listening_socket.getsockname()[1]
    monkeypatch.setattr(local_server, "DEFAULT_PORT", busy_port)
    dead = _dead_pid()
    _write_state(state_dir, dead, busy_port)

    stale = LocalServer(state_dir).status()
    assert not stale.running and "not running" in stale.message

    server = LocalServer(state_dir)
    servers.append(server)
    url = server.ensure_running(timeout=120)
    assert any(f"pid {dead} is not running" in n for n in server.notices)
    assert any(f"port {busy_port} on 127.0.0.1 is in use" in n for n in server.notices)
    assert url != f"http://127.0.0.1:{busy_port}/api"
    status = server.status()
    assert status.healthy and status.pid != dead and status.url == url
    assert server.stop() is True


def test_record_naming_an_unrelated_process_never_kills_it(tmp_path: Path) -> None:
    state_dir = tmp_path / "server"
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_state(state_dir, bystander.pid, free_port())
        status = LocalServer(state_dir).status()
        assert not status.running and "not this project's Prefect server" in status.message
        server = LocalServer(state_dir)
        assert server.stop() is False
        assert any("stale" in n for n in server.notices)
        assert bystander.poll() is None
        assert not (state_dir / "server.json").exists()
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


def test_unreadable_record_is_reported_and_removed(tmp_path: Path) -> None:
    state_dir = tmp_path / "server"
    state_dir.mkdir()
    (state_dir / "server.json").write_text("{not json")
    assert "unreadable server record" in LocalServer(state_dir).status().message
    server = LocalServer(state_dir)
    assert server.stop() is False
    assert not (state_dir / "server.json").exists()


def test_explicit_port_in_use_is_a_clear_error(tmp_path: Path, listening_socket: socket.socket) -> None:
    port = listening_socket.getsockname()[1]
    with pytest.raises(LocalServerError) as caught:
        LocalServer(tmp_path / "server", port=port).ensure_running(timeout=10)
    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is in use by another process; pass --port or stop it"
    )
    assert not (tmp_path / "server" / "server.json").exists()


def test_server_dying_at_start_reports_log_tail(tmp_path: Path) -> None:
    state_dir = tmp_path / "server"
    server = LocalServer(
        state_dir,
        port=free_port(),
        extra_env={"PREFECT_SERVER_API_KEEPALIVE_TIMEOUT": "not-a-number"},
    )
    began = time.monotonic()
    with pytest.raises(LocalServerError) as caught:
        server.ensure_running(timeout=60)
    assert time.monotonic() - began < 60
    message = str(caught.value)
    assert "exited with code 1 while starting" in message
    assert str(state_dir / "server.log") in message
    assert "keepalive_timeout" in message or "not-a-number" in message
    assert "\n" not in message
    assert not (state_dir / "server.json").exists()


def test_start_timeout_kills_what_it_started(tmp_path: Path) -> None:
    state_dir = tmp_path / "server"
    server = LocalServer(state_dir, port=free_port())
    with pytest.raises(LocalServerError) as caught:
        server.ensure_running(timeout=0.5)
    message = str(caught.value)
    assert "within 0.5 s" in message and str(state_dir / "server.log") in message
    match = re.search(r"pid (\d+)", message)
    assert match is not None
    assert not _alive(int(match.group(1)))
    assert not (state_dir / "server.json").exists()


def test_session_server_answers_health(prefect_api_url: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{prefect_api_url}/health", timeout=5) as response:
        assert response.read().strip() == b"true"
