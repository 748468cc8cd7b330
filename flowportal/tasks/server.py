"""`invoke server.start|stop|status`: manage the project's embedded Prefect server.

Other commands start the server on demand, so these exist for people: to warm
it up ahead of time, to see where it is (and its log), and to stop it when
done. They are thin: all behaviour lives in `portal_io.local_server`, so the
commands and the on-demand path cannot drift apart.

Exit codes: 0 on success; 1 on any error (one line on stderr). `status` also
exits 1 when no healthy server is running, so scripts can test it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from flowportal.project import find_project_root

if TYPE_CHECKING:
    from portal_io.local_server import LocalServer

# Imported when a task runs, not when the collection is built: `--list` and
# every other command stay free of rich and of the server code.


def _out(stderr: bool = False) -> Any:
    from flowportal import render

    return render.console(stderr=stderr)


def _escape(text: str) -> str:
    from flowportal import render

    return str(render.escape(text))


def server_state_dir(start: Path | None = None) -> Path:
    """Where the project's server keeps its database, log and pid record."""
    return find_project_root(start or Path.cwd()) / ".portal" / "server"


def _server(port: int | None = None) -> LocalServer:
    from portal_io.local_server import LocalServer

    return LocalServer(
        server_state_dir(),
        port=port,
        notify=lambda message: _out(stderr=True).print(f"[yellow]{_escape(message)}[/]"),
    )


def _parse_port(port: str | None) -> int | None:
    # invoke passes an option without a typed default as a string.
    if port is None:
        return None
    try:
        value = int(port)
    except ValueError:
        raise Exit(f"--port must be a number, not {port!r}", code=1) from None
    if not 1 <= value <= 65535:
        raise Exit(f"--port must be between 1 and 65535, not {value}", code=1)
    return value


@task(
    help={
        "port": "Port to listen on (default: the port used last, else 4200, else a free port).",
        "timeout": "Seconds to wait for the server to become healthy.",
    }
)
def start(c: Context, port: str | None = None, timeout: float = 60.0) -> None:
    """Start this project's local Prefect server, or report the one already running."""
    from portal_io.local_server import LocalServerError

    server = _server(_parse_port(port))
    try:
        url = server.ensure_running(timeout=timeout)
    except LocalServerError as exc:
        raise Exit(str(exc), code=1) from None
    pid = server.status().pid
    if server.last_start_seconds is None:
        _out().print(f"Prefect server already running at {url} (pid {pid})")
    else:
        _out().print(
            f"[green]Prefect server started[/] at {url} "
            f"(pid {pid}, {server.last_start_seconds:.1f} s; log {_escape(str(server.log_path))})"
        )


@task(help={"timeout": "Seconds to wait after SIGTERM before SIGKILL."})
def stop(c: Context, timeout: float = 15.0) -> None:
    """Stop this project's local Prefect server (its data stays for next time)."""
    from portal_io.local_server import LocalServerError

    server = _server()
    try:
        stopped = server.stop(timeout=timeout)
    except LocalServerError as exc:
        raise Exit(str(exc), code=1) from None
    if stopped:
        _out().print("Prefect server stopped")
    else:
        _out().print("No Prefect server was running for this project")


@task(help={"json": "Print the status as a JSON object (for programs)."})
def status(c: Context, json_: bool = False) -> None:
    """Show whether this project's local Prefect server is running and healthy."""
    state = _server().status()
    if json_:
        print(json.dumps(state.to_dict(), sort_keys=True))
        if not state.healthy:
            raise Exit(code=1)
        return
    if not state.healthy:
        raise Exit(state.message, code=1)
    _out().print(
        f"[green]running[/] {state.url} (pid {state.pid}, since {state.started_at}; "
        f"log {_escape(str(state.log_path))})"
    )


ns = Collection("server", start, stop, status)
