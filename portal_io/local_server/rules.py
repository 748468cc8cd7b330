"""The decisions of the embedded server's lifecycle, as pure functions of plain values.

Everything here takes facts that the effectful code gathered (a process's
command line and PREFECT_HOME, whether a port is free, whether /health
answered) and returns what to do. No files, sockets, clock, signals or
environment lookups happen here, so each rule can be checked exhaustively by
unit and property tests instead of by starting servers.

The central rule: a process is only ever signalled when it is proven to be
the server this state directory started (its command line says `prefect
server start --port <recorded port>` and its PREFECT_HOME, where readable, is
ours). A recycled pid, a copied project's record, or a process this platform
cannot describe is forgotten, never killed.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping

import attrs

from portal_core.redaction import mask_url_credentials

#: Prefect's own default port: shared by every `prefect server start` on the machine.
DEFAULT_PORT = 4200

#: Variables of the caller's environment the server process may see. Everything
#: else (tokens, passwords, cloud credentials, a PREFECT_API_URL for Cloud) stays
#: out: the server writes its environment into nothing, but its log, its crash
#: reports and anything it spawns would otherwise carry them.
PASSED_ENV_NAMES = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR"})
PASSED_ENV_PREFIXES = ("LC_",)


class Identity(enum.Enum):
    """Who a recorded pid turned out to be."""

    GONE = "gone"  # no such (live) process
    OURS = "ours"  # the server this state directory started
    FOREIGN = "foreign"  # alive, but provably something else
    UNKNOWN = "unknown"  # alive, and this platform cannot describe it


@attrs.frozen
class ProcessFacts:
    """What the operating system says about one pid.

    `argv` and `prefect_home` are None when the platform cannot tell (no
    /proc, no ps, another user's process); `argv` is empty for a process that
    vanished while being looked at.
    """

    alive: bool
    argv: tuple[str, ...] | None = None
    prefect_home: str | None = None


def is_server_command(argv: Iterable[str], port: int) -> bool:
    """Whether `argv` is `... prefect server start ... --port <port>`.

    Both `python -m prefect server start` (how we start it) and a `prefect`
    console script count; the port must match the record so that another
    project's server on the same machine is not mistaken for ours.
    """
    args = list(argv)
    has_prefect = any(a == "prefect" or a.rsplit("/", 1)[-1] == "prefect" for a in args)
    pairs = set(itertools.pairwise(args))
    return has_prefect and ("server", "start") in pairs and ("--port", str(port)) in pairs


def argv_option(argv: Iterable[str], option: str) -> str | None:
    """The value after `option` in a command line (`--port 4242` -> "4242")."""
    for flag, value in itertools.pairwise(argv):
        if flag == option:
            return value
    return None


def identify(facts: ProcessFacts, recorded_port: int, home_dir: str) -> Identity:
    """Whether the process behind a record is the server this state directory started.

    `home_dir` is compared as given: the caller resolves both paths first, so
    a project reached through a symlink is still the same project. A matching
    command line with another PREFECT_HOME is a copied project's record
    pointing at the original's server: reusing it would deploy into the other
    database, killing it would break the other project.
    """
    if not facts.alive:
        return Identity.GONE
    if facts.argv is None:
        return Identity.UNKNOWN
    if not is_server_command(facts.argv, recorded_port):
        return Identity.FOREIGN
    if facts.prefect_home is not None and facts.prefect_home != home_dir:
        return Identity.FOREIGN
    return Identity.OURS


def may_signal(identity: Identity) -> bool:
    """Only a process proven to be ours is ever sent a signal."""
    return identity is Identity.OURS


class Verdict(enum.Enum):
    """What `ensure_running` does with a readable record."""

    REUSE = "reuse"  # hand out its URL; nothing is started
    REFUSE = "refuse"  # it runs, but not as asked (port, database): the user must choose
    REPLACE = "replace"  # forget it (stopping it first if `signal`) and start anew


@attrs.frozen
class RecordDecision:
    verdict: Verdict
    signal: bool = False
    reason: str = ""


def decide_recorded(
    *,
    identity: Identity,
    healthy: bool,
    pid: int,
    url: str,
    recorded_port: int,
    requested_port: int | None,
    recorded_database: str,
    requested_database: str,
) -> RecordDecision:
    """Reuse, refuse or replace the recorded server.

    `healthy` is only meaningful for OURS and UNKNOWN (the caller does not ask
    /health of a foreign process). An UNKNOWN process that answers /health is
    reused, as before identity could be checked on this platform; one that
    does not is forgotten but not signalled. The database lock guarantees
    that forgetting a process that was in fact ours cannot lead to a second
    server on the same database.
    """
    if identity is Identity.GONE:
        return RecordDecision(Verdict.REPLACE, reason=f"recorded Prefect server pid {pid} is not running")
    if identity is Identity.FOREIGN:
        return RecordDecision(
            Verdict.REPLACE, reason=f"recorded pid {pid} is not this project's Prefect server"
        )
    if not healthy:
        return RecordDecision(
            Verdict.REPLACE,
            signal=may_signal(identity),
            reason=f"recorded Prefect server pid {pid} does not answer {url}/health",
        )
    if requested_port is not None and requested_port != recorded_port:
        return RecordDecision(
            Verdict.REFUSE,
            reason=(
                f"this project's Prefect server is already running on port {recorded_port}, "
                f"not {requested_port}; stop it first to move it"
            ),
        )
    if requested_database != recorded_database:
        return RecordDecision(
            Verdict.REFUSE,
            reason=(
                f"this project's Prefect server is already running with database "
                f"{recorded_database}, not {requested_database}; stop it first to switch"
            ),
        )
    return RecordDecision(Verdict.REUSE)


def decide_stop(identity: Identity) -> bool:
    """Whether `stop` signals the recorded process (otherwise it only forgets the record)."""
    return may_signal(identity)


@attrs.frozen
class PortChoice:
    """The port to start on, or why there is none; `notice` tells the user about a switch."""

    port: int | None
    notice: str | None = None
    error: str | None = None


def port_candidates(requested: int | None, recorded: int | None, default: int = DEFAULT_PORT) -> tuple[int, ...]:
    """The ports whose freedom `choose_port` needs to know, in order of preference."""
    if requested is not None:
        return (requested,)
    if recorded is not None:
        return (recorded,)
    return (default,)


def choose_port(
    *,
    requested: int | None,
    recorded: int | None,
    busy: frozenset[int],
    spare: int,
    host: str,
    default: int = DEFAULT_PORT,
) -> PortChoice:
    """Which port a new server listens on.

    - A port the user asked for is used exactly, or refused when busy.
    - Otherwise the port this project used last, so URLs people copied keep
      working; if something else holds it now, a `spare` port (one the OS
      just handed out, never the default) — not the default. The default is
      Prefect's shared port: taking it because our old port is busy would
      grab the port a user's own `prefect server start` or any client with
      no PREFECT_API_URL expects, and would look like that server.
    - A project with no history starts on the default if it is free, else
      on `spare`.

    `spare` must be free and differ from `default`; `busy` lists the
    candidates found taken.
    """
    if requested is not None:
        if requested in busy:
            return PortChoice(
                None,
                error=f"port {requested} on {host} is in use by another process; pass --port or stop it",
            )
        return PortChoice(requested)
    wanted = recorded if recorded is not None else default
    if wanted not in busy:
        return PortChoice(wanted)
    return PortChoice(
        spare, notice=f"port {wanted} on {host} is in use by another process; using port {spare} instead"
    )


def server_environment(caller: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The server process's whole environment: a few of the caller's variables, then `settings`.

    The caller's environment is an allow-list, not a deny-list: a shell holds
    secrets under names nobody can predict (`WAREHOUSE_PASSWORD`, cloud
    keys), and Prefect settings from the shell (PREFECT_API_URL for Cloud, a
    PREFECT_PROFILE that does not exist in our fresh home, another database)
    would make the embedded server behave differently per shell. Only what a
    Python process needs to find itself, its home, its locale and its temp
    directory passes; `settings` (ours) are applied last.
    """
    env = {
        name: value
        for name, value in caller.items()
        if name in PASSED_ENV_NAMES or name.startswith(PASSED_ENV_PREFIXES)
    }
    env.update(settings)
    return env


def sqlite_url(database_path: str) -> str:
    return f"sqlite+aiosqlite:///{database_path}"


def database_label(database_url: str | None) -> str:
    """How the record names the server's database: without credentials, yet comparable.

    The record is a file tools print and people paste into bug reports; it
    must say which database the server uses (so a request for another one is
    refused rather than silently served from the wrong one) without its password.
    """
    if database_url is None:
        return "sqlite"
    return mask_url_credentials(database_url)
