"""`LocalServer`: one project's embedded Prefect server, found through files in its state directory.

With no Prefect API configured, flowportal starts one `prefect server start`
process per project, on 127.0.0.1 with SQLite (or a database URL it is given)
under a directory the tool owns, and reuses it from every later command.
Starting a server costs 6-14 s, so the point of this class is to start it
*once*: the running server is recorded in `<state_dir>/server.json` and later
commands only check that the recorded process is still ours and still
answers `/api/health`.

The decisions (is that process ours, which port, reuse or replace) are the
pure functions in `rules`; this class gathers the facts they need and carries
out what they decide.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from portal_core.redaction import Redactor
from portal_io.json_files import ensure_private_dir
from portal_io.local_server import files, net, process
from portal_io.local_server.errors import LocalServerError, PortTakenError
from portal_io.local_server.record import (
    ServerRecord,
    StaleRecord,
    read_record,
    remove_record,
    write_record,
)
from portal_io.local_server.rules import (
    DEFAULT_PORT,
    Identity,
    Verdict,
    argv_option,
    choose_port,
    database_label,
    decide_recorded,
    decide_stop,
    identify,
    port_candidates,
    server_environment,
    sqlite_url,
)

STATE_FILE_NAME = "server.json"
LOG_FILE_NAME = "server.log"
LOCK_FILE_NAME = "lock"
SERVER_LOCK_FILE_NAME = "server.lock"
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


class LocalServer:
    """One project's embedded Prefect server, found through files in `state_dir`.

    Every method is safe to call from separate, short-lived processes: the
    truth lives in `server.json` (written atomically) and in the server's own
    lock on `server.lock`; changes happen under an exclusive command lock, so
    two concurrent `ensure_running` calls start one server between them, and
    a lost or garbage record never leads to a second server on the database.

    `port=None` means "the port this project used last, else 4200, or a free
    port if that is taken"; an explicit port is honoured exactly or refused.
    `database_url` (e.g. `postgresql+asyncpg://user@127.0.0.1:5432/db`)
    replaces the SQLite file under `state_dir`.

    Keyword-only extras exist for callers with special needs and for tests:
    `ui` toggles Prefect's web UI, `extra_env` is applied last to the server's
    environment, and `notify` receives one-line messages: a progress line
    before a start (so no command is silent for the 10-30 s it takes), and
    notices about the unexpected (port switched, stale record cleaned up,
    SIGKILL needed), which are also kept in `notices`. The finished start is
    not a notice: callers see it in `last_start_seconds` and word it for
    their own output.
    """

    def __init__(
        self,
        state_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        *,
        ui: bool = True,
        extra_env: Mapping[str, str] | None = None,
        notify: Callable[[str], None] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.port = port
        self.host = host
        self.ui = ui
        self.extra_env = dict(extra_env or {})
        self.database_url = database_url
        self._notify = notify
        self.notices: list[str] = []
        # Seconds the last start by *this* object took until healthy; None when
        # it reused a running server. Lets callers (and benchmarks) report it.
        self.last_start_seconds: float | None = None
        # The Popen of a server this object started, so that stopping it from
        # the same process also reaps it instead of leaving a zombie.
        self._proc: subprocess.Popen[bytes] | None = None
        password = urllib.parse.urlsplit(database_url).password if database_url else None
        self._redactor = Redactor((password,) if password else ())

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
    def server_lock_path(self) -> Path:
        return self.state_dir / SERVER_LOCK_FILE_NAME

    @property
    def home_dir(self) -> Path:
        return self.state_dir / HOME_DIR_NAME

    @property
    def database_path(self) -> Path:
        return self.home_dir / "prefect.db"

    @property
    def url(self) -> str | None:
        """The recorded server's API URL, or None when none is recorded (no checks made)."""
        try:
            record = read_record(self.state_path)
        except StaleRecord:
            return None
        return record.url if record is not None else None

    # ------------------------------------------------------------- public API

    def ensure_running(self, timeout: float = 60) -> str:
        """Return the API URL of this project's server, starting it only if needed.

        A recorded server that is alive, ours and healthy is reused (this is
        the common, fast path); so is our server found through its database
        lock when the record is lost or garbage. Anything else recorded is
        cleaned up with a notice and a fresh server is started, waiting at
        most `timeout` seconds for it to become healthy.
        """
        with self._locked():
            running, last_port = self._find_running()
            if running is not None:
                self.last_start_seconds = None
                return running.url
            return self._start_retrying(timeout, last_port)

    def start(self, timeout: float = 60) -> str:
        """Start a fresh server and return its API URL; refuse if one is already running.

        Unlike `ensure_running`, a healthy running server is an error here,
        because the caller explicitly asked for a *new* server (e.g. after
        changing the port) and silently reusing the old one would hide that.
        """
        with self._locked():
            running, last_port = self._find_running()
            if running is not None:
                raise LocalServerError(
                    f"a Prefect server for this project is already running at "
                    f"{running.url} (pid {running.pid}); stop it first"
                )
            return self._start_retrying(timeout, last_port)

    def stop(self, timeout: float = 15) -> bool:
        """Stop this project's server and forget it; return whether a process was stopped.

        Sends SIGTERM to the server's process group (it was started in its own
        session, so the group is exactly the server and anything it spawned),
        waits up to `timeout` seconds, then SIGKILLs. A record whose pid is
        dead or belongs to an unrelated process is removed without signalling
        anything, so a reused pid is never killed. A server whose record was
        lost is found through its database lock and stopped too.
        """
        with self._locked():
            stopped = False
            record = self._load_record_or_clean()
            if record is not None:
                identity = self._identify(record)
                if decide_stop(identity):
                    self._terminate(record.pid, timeout)
                    stopped = True
                else:
                    self._note(
                        f"removed stale server record: pid {record.pid} is not this project's "
                        f"running Prefect server"
                    )
                remove_record(self.state_path)
            holder = self._running_lock_holder()
            if holder is not None:
                self._note(f"found this project's Prefect server pid {holder.pid} by its database lock")
                self._terminate(holder.pid, timeout)
                stopped = True
            return stopped

    def status(self) -> ServerStatus:
        """Report on this project's server without changing anything.

        Takes no lock: it only reads, and must answer promptly even while
        another command is in the middle of starting the server.
        """
        log_path = self.log_path
        try:
            record = read_record(self.state_path)
            problem = "no Prefect server is recorded for this project"
        except StaleRecord as exc:
            record, problem = None, str(exc)
        stale: ServerStatus | None = None
        if record is not None:
            identity = self._identify(record)
            if identity in (Identity.GONE, Identity.FOREIGN):
                problem = (
                    f"stale record: pid {record.pid} is not running"
                    if identity is Identity.GONE
                    else f"stale record: pid {record.pid} is not this project's Prefect server"
                )
                stale = ServerStatus(
                    False, record.pid, record.port, record.url, False, log_path, problem, record.started_at
                )
                record = None
        if record is not None:
            return self._status_of(record, "")
        # Lost, garbage or stale record: the server may still run, holding its
        # database lock. Only looks at who has the lock file open: probing the
        # lock itself could make a concurrent start believe a server holds it.
        holder = self._find_holder()
        if holder is not None:
            return self._status_of(holder, f" (found by its database lock; {problem})")
        return stale or ServerStatus(False, None, None, None, False, log_path, problem)

    def _status_of(self, record: ServerRecord, suffix: str) -> ServerStatus:
        """Status of a live process known to be (or possibly be) our server."""

        def make(healthy: bool, message: str) -> ServerStatus:
            return ServerStatus(
                True, record.pid, record.port, record.url, healthy, self.log_path, message + suffix,
                record.started_at,
            )

        if net.health_ok(record.url, HEALTH_TIMEOUT):
            return make(True, f"Prefect server running at {record.url}")
        return make(
            False,
            f"pid {record.pid} is running but {record.url}/health does not answer "
            f"(starting, or stuck; see {self.log_path})",
        )

    # ------------------------------------------------------ finding a server

    def _find_running(self) -> tuple[ServerRecord | None, int | None]:
        """The reusable running server (or None), and the port this project used last.

        Caller holds the command lock. Records that cannot be reused are
        cleaned up on the way; afterwards, either a reusable server was found
        or nothing holds the database lock, so a start cannot put a second
        server on the database.
        """
        record = self._load_record_or_clean()
        last_port = record.port if record is not None else None
        if record is not None and self._judge(record):
            return record, last_port
        holder = self._running_lock_holder()
        if holder is None:
            return None, last_port
        self._note(
            f"the server record was missing, stale or unreadable; found this project's Prefect "
            f"server pid {holder.pid} by its database lock"
        )
        write_record(self.state_path, holder)
        if self._judge(holder):
            return holder, holder.port
        if self._running_lock_holder() is not None:
            raise LocalServerError(
                f"this project's Prefect server pid {holder.pid} still holds {self.server_lock_path} "
                f"after being stopped; stop it and retry"
            )
        return None, holder.port

    def _judge(self, record: ServerRecord) -> bool:
        """Whether `record` is reusable; if not, refuse (raise) or clean it up per the rules."""
        identity = self._identify(record)
        healthy = identity in (Identity.OURS, Identity.UNKNOWN) and self._healthy_with_grace(record.url)
        decision = decide_recorded(
            identity=identity,
            healthy=healthy,
            pid=record.pid,
            url=record.url,
            recorded_port=record.port,
            requested_port=self.port,
            recorded_database=record.database,
            requested_database=self._database_label,
        )
        if decision.verdict is Verdict.REUSE:
            return True
        if decision.verdict is Verdict.REFUSE:
            raise LocalServerError(decision.reason)
        if decision.signal:
            self._terminate(record.pid, KILL_GRACE)
        remove_record(self.state_path)
        self._note(f"{decision.reason}; cleaned it up and starting a new one")
        return False

    def _identify(self, record: ServerRecord) -> Identity:
        return identify(process.process_facts(record.pid), record.port, process.resolved(self.home_dir))

    def _find_holder(self) -> ServerRecord | None:
        """Our server among the processes holding `server.lock`, as a record (None if none is ours)."""
        home = process.resolved(self.home_dir)
        for pid in files.lock_holders(self.server_lock_path):
            facts = process.process_facts(pid)
            port_text = argv_option(facts.argv or (), "--port")
            if port_text is None or not port_text.isdigit():
                continue
            port = int(port_text)
            if identify(facts, port, home) is not Identity.OURS:
                continue
            host = argv_option(facts.argv or (), "--host") or self.host
            database = process.process_env_value(pid, "PREFECT_API_DATABASE_CONNECTION_URL")
            return ServerRecord(
                pid=pid,
                port=port,
                url=net.api_url(host, port),
                started_at="",
                host=host,
                database=database_label(None if self._is_default_database(database) else database),
            )
        return None

    def _is_default_database(self, url: str | None) -> bool:
        """Whether a server's database URL is our own SQLite file (reached through any path)."""
        prefix = sqlite_url("")
        if url is None:
            return True
        return url.startswith(prefix) and process.resolved(url[len(prefix):]) == process.resolved(
            self.database_path
        )

    def _running_lock_holder(self) -> ServerRecord | None:
        """Our server holding the database lock, or None once nothing holds it.

        Raises when something this tool cannot identify keeps holding it: a
        second server must not start beside it, and it must not be signalled.
        A lock can also outlive its holder briefly: the kernel releases an
        exiting process's files after the pid is gone (seen here as a held
        lock with no process having the file open), so an unexplained hold is
        waited out for a few seconds before it counts as foreign.
        """
        deadline = time.monotonic() + KILL_GRACE
        while files.server_lock_held(self.server_lock_path):
            holder = self._find_holder()
            if holder is not None:
                return holder
            if time.monotonic() >= deadline:
                pids = ", ".join(map(str, files.lock_holders(self.server_lock_path))) or "unknown"
                raise LocalServerError(
                    f"a process this tool cannot identify (pid {pids}) holds {self.server_lock_path}, "
                    f"the lock of this project's Prefect database; stop it and retry"
                )
            time.sleep(POLL_INTERVAL)
        return None

    def _healthy_with_grace(self, url: str) -> bool:
        deadline = time.monotonic() + HEALTH_GRACE
        while True:
            if net.health_ok(url, HEALTH_TIMEOUT):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL)

    # --------------------------------------------------------------- starting

    @property
    def _database_label(self) -> str:
        return database_label(self.database_url)

    def _start_retrying(self, timeout: float, last_port: int | None) -> str:
        """Start; if another server grabbed the port meanwhile and the user did not ask
        for that port, try once more (the port is busy now, so a spare one is chosen)."""
        try:
            return self._start_locked(timeout, last_port)
        except PortTakenError as err:
            if self.port is not None:
                raise
            self._note(f"{err}; retrying on another port")
            return self._start_locked(timeout, last_port)

    def _choose_port(self, last_port: int | None) -> int:
        candidates = port_candidates(self.port, last_port, DEFAULT_PORT)
        busy = frozenset(p for p in candidates if not net.port_free(self.host, p))
        spare = net.spare_port(self.host, avoid=DEFAULT_PORT) if busy else 0
        choice = choose_port(
            requested=self.port, recorded=last_port, busy=busy, spare=spare, host=self.host, default=DEFAULT_PORT
        )
        if choice.port is None:
            raise LocalServerError(choice.error or "no port to start the Prefect server on")
        if choice.notice:
            self._note(choice.notice)
        return choice.port

    def _start_locked(self, timeout: float, last_port: int | None) -> str:
        """Spawn the server and wait until healthy; caller holds the command lock.

        The server lock is taken first and handed to the server, so from the
        moment the process exists the database is marked as in use. The
        record is written right after spawning, before the server is healthy,
        so that if this command is killed mid-wait the next command still
        knows about the process and can clean it up.
        """
        lock_fd = files.take_server_lock(self.server_lock_path)
        if lock_fd is None and self._running_lock_holder() is None:
            lock_fd = files.take_server_lock(self.server_lock_path)
        if lock_fd is None:
            raise LocalServerError(
                f"another process holds {self.server_lock_path}, the lock of this project's "
                f"Prefect database; not starting a second server on it"
            )
        try:
            port = self._choose_port(last_port)
            url = net.api_url(self.host, port)
            ensure_private_dir(self.home_dir)
            started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self._progress(
                f"starting the embedded Prefect server under {self._shown_dir()} on port {port} ..."
            )
            log_fd = files.open_private(self.log_path, os.O_WRONLY | os.O_APPEND)
            with os.fdopen(log_fd, "ab") as log:
                log.write(f"\n--- {started_at} flowportal: starting Prefect server for {url} ---\n".encode())
                log.flush()
                log_offset = log.tell()
                began = time.monotonic()
                proc = process.spawn(
                    process.server_command(self.host, port),
                    env=self._server_env(port),
                    cwd=self.state_dir,
                    log=log,
                    keep_fd=lock_fd,
                )
        finally:
            # The server holds the lock through its inherited copy from now on.
            os.close(lock_fd)
        self._proc = proc
        record = ServerRecord(
            pid=proc.pid, port=port, url=url, started_at=started_at, host=self.host,
            database=self._database_label,
        )
        try:
            write_record(self.state_path, record)
            self._wait_until_healthy(proc, record, timeout, log_offset)
        except BaseException:
            # Includes Ctrl-C: never leave a half-started server behind.
            self._terminate(proc.pid, KILL_GRACE)
            remove_record(self.state_path)
            raise
        self.last_start_seconds = time.monotonic() - began
        return url

    def _server_env(self, port: int) -> dict[str, str]:
        """The server's whole environment (see `rules.server_environment` for why so little)."""
        settings = {
            "PREFECT_HOME": str(self.home_dir),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.database_url or sqlite_url(str(self.database_path)),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "true" if self.ui else "false",
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(port),
            # So the log tail we show on failure is complete and current.
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        return server_environment(os.environ, settings)

    def _wait_until_healthy(
        self, proc: subprocess.Popen[bytes], record: ServerRecord, timeout: float, log_offset: int
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                tail = self._redactor.text(files.log_tail(self.log_path, log_offset, LOG_TAIL_LINES))
                raise LocalServerError(
                    f"Prefect server exited with code {code} while starting; "
                    f"last lines of {self.log_path}: {tail or '(empty)'}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if net.health_ok(record.url, min(HEALTH_TIMEOUT, remaining)):
                home = net.served_home(record.url, HEALTH_TIMEOUT)
                if home is None or process.resolved(home) == process.resolved(self.home_dir):
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

    # ---------------------------------------------------------------- helpers

    def _terminate(self, pid: int, timeout: float) -> None:
        proc = self._proc if self._proc is not None and self._proc.pid == pid else None
        process.terminate(pid, timeout, KILL_GRACE, proc, self._note)
        if proc is not None and proc.poll() is not None:
            self._proc = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the command lock, with the state directory private before anything else happens."""
        files.make_private(self.state_dir)
        files.ensure_gitignore(self.state_dir)
        with files.command_lock(self.lock_path, LOCK_WAIT):
            yield

    def _load_record_or_clean(self) -> ServerRecord | None:
        try:
            return read_record(self.state_path)
        except StaleRecord as exc:
            remove_record(self.state_path)
            self._note(f"{exc}; removed it")
            return None

    def _shown_dir(self) -> str:
        """The state directory as the user would type it: relative to where they stand, if inside."""
        try:
            return str(self.state_dir.relative_to(Path.cwd()))
        except ValueError:
            return str(self.state_dir)

    def _progress(self, message: str) -> None:
        if self._notify is not None:
            self._notify(message)

    def _note(self, message: str) -> None:
        self.notices.append(message)
        if self._notify is not None:
            self._notify(message)
