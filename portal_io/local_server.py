"""Lifecycle of the embedded local Prefect server (SPEC section 7, "Embedded default").

With no Prefect API configured, flowportal starts one `prefect server start`
process per project, on 127.0.0.1 with SQLite under a directory the tool owns,
and reuses it from every later command. Starting a server costs 6-14 s, so the
whole point of this module is to start it *once*: the running server is
recorded in `<state_dir>/server.json` and later commands only check that the
recorded process is still ours and still answers `/api/health`.

This module is imported by every command that might need an API, including
ones that never do, so it deliberately uses only the standard library (plus
attrs): no prefect, no httpx. Starting the server is a subprocess anyway.

POSIX only: it relies on process groups, signals and `fcntl.flock`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from portal_core.errors import PortalError
from portal_io.json_files import write_json_atomic

DEFAULT_PORT = 4200
STATE_FILE_NAME = "server.json"
LOG_FILE_NAME = "server.log"
LOCK_FILE_NAME = "lock"
HOME_DIR_NAME = "home"

# How often to ask a starting server whether it is up. Cheap (a refused
# connection on loopback), and the granularity of the start time we report.
POLL_INTERVAL = 0.2
# Upper bound on waiting for another command that holds the lock. The holder is
# itself bounded (start timeout + kill grace), so this only guards against a
# wedged holder; it is never the expected path.
LOCK_WAIT = 180.0
# A healthy server answers /health in milliseconds; a busy SQLite writer can
# stall it for a moment, so deciding "unhealthy -> replace it" gets a few
# tries rather than one, while `status()` stays quick with a single try.
HEALTH_TIMEOUT = 2.0
HEALTH_GRACE = 5.0
# After SIGKILL the kernel tears the process down promptly; this only bounds
# the wait for that to become visible.
KILL_GRACE = 5.0
LOG_TAIL_LINES = 5


class LocalServerError(PortalError):
    """The embedded server could not be started, reused or stopped; the message says why."""


class PortTakenError(LocalServerError):
    """Another server bound our port between our check and our server's bind."""


@attrs.frozen
class ServerStatus:
    """What `status()` found, as data, so callers can print it or emit JSON.

    `running` means the recorded process exists and is a Prefect server started
    for this state directory; `healthy` additionally means it answered
    `/api/health`. A stale record (dead pid, pid reused by something else) is
    reported as not running, with the reason in `message`.
    """

    running: bool
    pid: int | None
    port: int | None
    url: str | None
    healthy: bool
    log_path: Path
    message: str
    started_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with stable keys for `--json` consumers."""
        data = attrs.asdict(self)
        data["log_path"] = str(self.log_path)
        return data


@attrs.frozen
class _Record:
    """The contents of `server.json`: enough to find, check and stop the server later."""

    pid: int
    port: int
    url: str
    started_at: str
    host: str

    @classmethod
    def from_json(cls, data: object) -> _Record:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return cls(
            pid=int(data["pid"]),
            port=int(data["port"]),
            url=str(data["url"]),
            started_at=str(data.get("started_at", "")),
            host=str(data.get("host", "127.0.0.1")),
        )


class _StaleRecord(Exception):
    """`server.json` exists but cannot be read; carries the reason for the notice."""


class LocalServer:
    """One project's embedded Prefect server, found through files in `state_dir`.

    Every method is safe to call from separate, short-lived processes: the
    truth lives in `server.json` (written atomically) and changes to it happen
    under an exclusive `flock`, so two concurrent `ensure_running` calls start
    one server between them.

    `port=None` means "4200, or whatever this project used last, or any free
    port if that is taken"; an explicit port is honoured exactly or refused.

    Keyword-only extras exist for callers with special needs and for tests:
    `ui` toggles Prefect's web UI, `database_url` replaces the SQLite file under
    `state_dir` with another database (e.g. PostgreSQL in CI), `extra_env` is
    applied last to the server's environment, and `notify` receives one-line notices about the unexpected
    (port switched, stale record cleaned up, SIGKILL needed), also kept in
    `notices`. A normal start is not a notice: callers see it in
    `last_start_seconds` and word it for their own output.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        ui: bool = True,
        database_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.host = host
        self.ui = ui
        self.database_url = database_url
        self.extra_env = dict(extra_env or {})
        self._notify = notify
        self.notices: list[str] = []
        # Seconds the last start by *this* object took until healthy; None when
        # it reused a running server. Lets callers (and benchmarks) report it.
        self.last_start_seconds: float | None = None
        # The Popen of a server this object started, so that stopping it from
        # the same process also reaps it instead of leaving a zombie.
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ paths

    @property
    def state_path(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE_NAME

    @property
    def lock_path(self) -> Path:
        return self.state_dir / LOCK_FILE_NAME

    @property
    def home_dir(self) -> Path:
        return self.state_dir / HOME_DIR_NAME

    @property
    def database_path(self) -> Path:
        return self.home_dir / "prefect.db"

    # ------------------------------------------------------------- public API

    def ensure_running(self, timeout: float = 60) -> str:
        """Return the API URL of this project's server, starting it only if needed.

        A recorded server that is alive, ours and healthy is reused (this is
        the common, fast path). Anything else recorded is cleaned up with a
        notice and a fresh server is started, waiting at most `timeout`
        seconds for it to become healthy.
        """
        with self._locked():
            record = self._load_record_or_clean()
            if record is not None:
                problem = self._problem_with(record)
                if problem is None:
                    self._refuse_port_change(record)
                    self.last_start_seconds = None
                    return record.url
                self._discard(record, problem)
            return self._start_retrying(timeout, preferred_port=record.port if record else None)

    def start(self, timeout: float = 60) -> str:
        """Start a fresh server and return its API URL; refuse if one is already running.

        Unlike `ensure_running`, a healthy recorded server is an error here,
        because the caller explicitly asked for a *new* server (e.g. after
        changing the port) and silently reusing the old one would hide that.
        """
        with self._locked():
            record = self._load_record_or_clean()
            if record is not None:
                problem = self._problem_with(record)
                if problem is None:
                    raise LocalServerError(
                        f"a Prefect server for this project is already running at "
                        f"{record.url} (pid {record.pid}); stop it first"
                    )
                self._discard(record, problem)
            return self._start_retrying(timeout, preferred_port=record.port if record else None)

    def stop(self, timeout: float = 15) -> bool:
        """Stop the recorded server and forget it; return whether a process was stopped.

        Sends SIGTERM to the server's process group (it was started in its own
        session, so the group is exactly the server and anything it spawned),
        waits up to `timeout` seconds, then SIGKILLs. A record whose pid is
        dead or belongs to an unrelated process is removed without signalling
        anything, so a reused pid is never killed.
        """
        with self._locked():
            record = self._load_record_or_clean()
            if record is None:
                return False
            stopped = False
            if self._pid_alive(record.pid) and self._is_our_server(record) is not False:
                self._terminate(record.pid, timeout)
                stopped = True
            else:
                self._note(
                    f"removed stale server record: pid {record.pid} is not this project's "
                    f"running Prefect server"
                )
            self._remove_record()
            return stopped

    def status(self) -> ServerStatus:
        """Report on the recorded server without changing anything.

        Takes no lock: it only reads, and must answer promptly even while
        another command is in the middle of starting the server.
        """
        log_path = self.log_path
        try:
            record = self._read_record()
        except _StaleRecord as exc:
            return ServerStatus(False, None, None, None, False, log_path, str(exc))
        if record is None:
            return ServerStatus(
                False,
                None,
                None,
                None,
                False,
                log_path,
                "no Prefect server is recorded for this project",
            )

        def make(running: bool, healthy: bool, message: str) -> ServerStatus:
            return ServerStatus(
                running,
                record.pid,
                record.port,
                record.url,
                healthy,
                log_path,
                message,
                record.started_at,
            )

        if not self._pid_alive(record.pid):
            return make(False, False, f"stale record: pid {record.pid} is not running")
        if self._is_our_server(record) is False:
            return make(False, False, f"stale record: pid {record.pid} is not this project's Prefect server")
        if _health_ok(record.url, HEALTH_TIMEOUT):
            return make(True, True, f"Prefect server running at {record.url}")
        return make(
            True,
            False,
            f"pid {record.pid} is running but {record.url}/health does not answer "
            f"(starting, or stuck; see {log_path})",
        )

    # --------------------------------------------------------------- starting

    def _start_retrying(self, timeout: float, preferred_port: int | None) -> str:
        """Start; if another server grabbed the port meanwhile and the user did not ask
        for that port, try once more on a port that is free now."""
        try:
            return self._start_locked(timeout, preferred_port)
        except PortTakenError as err:
            if self.port is not None:
                raise
            self._note(f"{err}; retrying on another port")
            return self._start_locked(timeout, preferred_port=None)

    def _start_locked(self, timeout: float, preferred_port: int | None) -> str:
        """Spawn the server and wait until healthy; caller holds the lock.

        The record is written right after spawning, before the server is
        healthy, so that if this command is killed mid-wait the next command
        still knows about the process and can clean it up.
        """
        port = self._choose_port(preferred_port)
        url = f"http://{_url_host(self.host)}:{port}/api"
        self.home_dir.mkdir(parents=True, exist_ok=True)
        started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

        with self.log_path.open("ab") as log:
            log.write(f"\n--- {started_at} flowportal: starting Prefect server for {url} ---\n".encode())
            log.flush()
            log_offset = log.tell()
            began = time.monotonic()
            # The child gets its own dup of the log fd; ours closes with the block.
            # The lock fd is not inherited (Python fds are non-inheritable and
            # close_fds is the default), otherwise the server would hold the lock.
            try:
                proc = subprocess.Popen(
                    self._command(port),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._server_env(port),
                    cwd=self.state_dir,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LocalServerError(f"cannot start the Prefect server: {exc}") from exc
        self._proc = proc
        record = _Record(pid=proc.pid, port=port, url=url, started_at=started_at, host=self.host)
        try:
            self._write_record(record)
            self._wait_until_healthy(proc, record, timeout, log_offset)
        except BaseException:
            # Includes Ctrl-C: never leave a half-started server behind.
            self._terminate(proc.pid, KILL_GRACE)
            self._remove_record()
            raise
        self.last_start_seconds = time.monotonic() - began
        return url

    def _command(self, port: int) -> list[str]:
        # The running interpreter, so the server is the prefect this tool was
        # installed with, regardless of what `prefect` is first on PATH.
        return [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            self.host,
            "--port",
            str(port),
        ]

    def _server_env(self, port: int) -> dict[str, str]:
        """The server's environment: the caller's, minus any Prefect configuration.

        The embedded server must behave the same whatever the shell has
        configured: an inherited PREFECT_API_URL (e.g. Cloud) would leak into
        the UI's API URL, a PREFECT_PROFILE would name a profile that does not
        exist in our fresh PREFECT_HOME, a database URL would point elsewhere.
        The server runs with cwd=state_dir so a project's prefect.toml or
        .env is not picked up either.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": str(self.home_dir),
                "PREFECT_API_DATABASE_CONNECTION_URL": self.database_url
                or f"sqlite+aiosqlite:///{self.database_path}",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_UI_ENABLED": "true" if self.ui else "false",
                "PREFECT_SERVER_API_HOST": self.host,
                "PREFECT_SERVER_API_PORT": str(port),
                # So the log tail we show on failure is complete and current.
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def _wait_until_healthy(
        self, proc: subprocess.Popen[bytes], record: _Record, timeout: float, log_offset: int
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                tail = _log_tail(self.log_path, log_offset, LOG_TAIL_LINES)
                raise LocalServerError(
                    f"Prefect server exited with code {code} while starting; "
                    f"last lines of {self.log_path}: {tail or '(empty)'}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if _health_ok(record.url, min(HEALTH_TIMEOUT, remaining)):
                if _served_home(record.url, HEALTH_TIMEOUT) in (None, str(self.home_dir)):
                    return
                # Another Prefect server took the port between our check and our bind;
                # talking to it would deploy into someone else's database.
                raise PortTakenError(
                    f"another Prefect server took port {record.port} while ours was starting; "
                    f"run the command again (a free port is picked) or pass --port"
                )
            time.sleep(max(0.0, min(POLL_INTERVAL, deadline - time.monotonic())))
        raise LocalServerError(
            f"Prefect server did not answer {record.url}/health within {timeout:g} s; "
            f"stopped it (pid {record.pid}); see {self.log_path}"
        )

    def _choose_port(self, preferred: int | None) -> int:
        if self.port is not None:
            if not _port_free(self.host, self.port):
                raise LocalServerError(
                    f"port {self.port} on {self.host} is in use by another process; pass --port or stop it"
                )
            return self.port
        candidates = [DEFAULT_PORT]
        if preferred is not None and preferred != DEFAULT_PORT:
            candidates.insert(0, preferred)
        for candidate in candidates:
            if _port_free(self.host, candidate):
                chosen = candidate
                break
        else:
            chosen = _free_port(self.host)
        if chosen != candidates[0]:
            self._note(
                f"port {candidates[0]} on {self.host} is in use by another process; "
                f"using port {chosen} instead"
            )
        return chosen

    def _refuse_port_change(self, record: _Record) -> None:
        # Reusing a server on another port than the one explicitly asked for
        # would quietly ignore the request; moving it would disrupt whoever
        # uses it. Make the user choose.
        if self.port is not None and self.port != record.port:
            raise LocalServerError(
                f"this project's Prefect server is already running on port {record.port}, "
                f"not {self.port}; stop it first to move it"
            )

    # ------------------------------------------------------- checking records

    def _problem_with(self, record: _Record) -> str | None:
        """Why `record` cannot be reused, or None if it is alive, ours and healthy."""
        if not self._pid_alive(record.pid):
            return f"recorded Prefect server pid {record.pid} is not running"
        if self._is_our_server(record) is False:
            return f"recorded pid {record.pid} is not this project's Prefect server"
        deadline = time.monotonic() + HEALTH_GRACE
        while True:
            if _health_ok(record.url, HEALTH_TIMEOUT):
                return None
            if time.monotonic() >= deadline:
                return f"recorded Prefect server pid {record.pid} does not answer {record.url}/health"
            time.sleep(POLL_INTERVAL)

    def _discard(self, record: _Record, problem: str) -> None:
        """Forget a record that cannot be reused, stopping its process only if it is ours."""
        if self._pid_alive(record.pid) and self._is_our_server(record) is not False:
            self._terminate(record.pid, KILL_GRACE)
        self._remove_record()
        self._note(f"{problem}; cleaned it up and starting a new one")

    def _is_our_server(self, record: _Record) -> bool | None:
        """Whether `record.pid` runs `prefect server start ... --port <record.port>` for us.

        None means "cannot tell" (no /proc and no ps), in which case callers
        rely on the health check alone. This is what keeps a recycled pid from
        being mistaken for our server, and from being killed. Where the
        process environment is readable (Linux, same user) its PREFECT_HOME
        must also be ours: a project directory copied while its server ran
        carries a record of the *original's* server, which must not be reused
        (it would put this copy's deployments into the other database).
        """
        argv = _process_argv(record.pid)
        if argv is None:
            return None
        has_prefect = any(Path(a).name == "prefect" or a == "prefect" for a in argv)
        pairs = set(itertools.pairwise(argv))
        if not (has_prefect and ("server", "start") in pairs and ("--port", str(record.port)) in pairs):
            return False
        home = _process_env_value(record.pid, "PREFECT_HOME")
        return home is None or _same_path(Path(home), self.home_dir)

    @staticmethod
    def _pid_alive(pid: int) -> bool:
        """Whether `pid` is a live (non-zombie) process.

        If the process is our own child (started by this Python process), it
        is reaped here; otherwise a dead child would look alive as a zombie.
        """
        if pid <= 0:
            return False
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[:1] != ["Z"]

    # ---------------------------------------------------------------- killing

    def _terminate(self, pid: int, timeout: float) -> None:
        """SIGTERM the process group, wait up to `timeout`, then SIGKILL it."""
        _signal_group(pid, signal.SIGTERM)
        # A stopped (SIGSTOP/Ctrl-Z) server would never act on SIGTERM.
        _signal_group(pid, signal.SIGCONT)
        if self._wait_gone(pid, timeout):
            return
        self._note(f"Prefect server pid {pid} ignored SIGTERM for {timeout:g} s; killing it")
        _signal_group(pid, signal.SIGKILL)
        self._wait_gone(pid, KILL_GRACE)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        proc = self._proc if self._proc is not None and self._proc.pid == pid else None
        while True:
            if proc is not None:
                if proc.poll() is not None:
                    self._proc = None
                    return True
            elif not self._pid_alive(pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    # ----------------------------------------------------------- state files

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold `<state_dir>/lock` exclusively; wait at most LOCK_WAIT seconds for it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_gitignore()
        with self.lock_path.open("a") as handle:
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise LocalServerError(
                        f"another command has held {self.lock_path} for over "
                        f"{LOCK_WAIT:g} s; is a server start stuck?"
                    ) from None
                time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _ensure_gitignore(self) -> None:
        # The state directory holds a database, logs and pids: never something
        # to commit, whatever the host project's own .gitignore says.
        ignore = self.state_dir / ".gitignore"
        if not ignore.exists():
            with contextlib.suppress(OSError):
                ignore.write_text("*\n")

    def _read_record(self) -> _Record | None:
        try:
            text = self.state_path.read_text()
        except FileNotFoundError:
            return None
        try:
            return _Record.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise _StaleRecord(f"unreadable server record {self.state_path}: {exc}") from exc

    def _load_record_or_clean(self) -> _Record | None:
        try:
            return self._read_record()
        except _StaleRecord as exc:
            self._remove_record()
            self._note(f"{exc}; removed it")
            return None

    def _write_record(self, record: _Record) -> None:
        """Write `server.json` atomically, so readers never see half a record."""
        data = {
            "pid": record.pid,
            "port": record.port,
            "url": record.url,
            "started_at": record.started_at,
            "host": record.host,
        }
        write_json_atomic(self.state_path, data, indent=2, durable=True)

    def _remove_record(self) -> None:
        self.state_path.unlink(missing_ok=True)

    def _note(self, message: str) -> None:
        self.notices.append(message)
        if self._notify is not None:
            self._notify(message)


# --------------------------------------------------------------------- helpers


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _health_ok(api_url: str, timeout: float) -> bool:
    """Whether `GET <api_url>/health` answers `true` within `timeout` seconds.

    Proxies are bypassed explicitly: an http_proxy without a matching no_proxy
    would otherwise send a loopback health check to the proxy.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url}/health", timeout=max(timeout, 0.05)) as response:
            return response.status == 200 and response.read(64).strip() == b"true"
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
        # Refused, reset, timed out, HTTP error, not HTTP at all: "not healthy (yet)".
        return False


def _served_home(api_url: str, timeout: float) -> str | None:
    """PREFECT_HOME of the server answering at `api_url` (None if it does not say).

    A health check alone cannot tell our server from another one that grabbed
    the same port; the home directory can.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url}/admin/settings", timeout=max(timeout, 0.05)) as response:
            home = json.loads(response.read()).get("home")
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError, AttributeError):
        return None
    return str(home) if isinstance(home, str) else None


def _port_free(host: str, port: int) -> bool:
    """Whether the server could bind `host:port` right now.

    Binds the way uvicorn does (SO_REUSEADDR), so a port left in TIME_WAIT by
    a server we just stopped counts as free, exactly as it will for uvicorn.
    """
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LocalServerError(f"cannot resolve host {host!r}: {exc}") from exc
    family, socktype, proto, _, address = infos[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    """A port the OS says is free now (bind to port 0); small race accepted."""
    family = socket.getaddrinfo(host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _process_argv(pid: int) -> list[str] | None:
    """The command line of `pid`, or None if this platform cannot tell us."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self/cmdline").exists():
            return []  # Linux, and the process is gone.
    except OSError:
        return None
    else:
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    try:
        result = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.split()


def _process_env_value(pid: int, name: str) -> str | None:
    """One variable from the environment `pid` was started with, if this OS shows it."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{name}=".encode()
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _same_path(a: Path, b: Path) -> bool:
    # resolve(): the same project reached through a symlink is still the same.
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by `pid`, or just `pid` if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _log_tail(path: Path, offset: int, lines: int) -> str:
    """The last `lines` non-blank lines written after `offset`, joined into one line."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    kept = [line.strip()[:300] for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
