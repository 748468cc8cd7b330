"""Spawning, describing and stopping the server process.

POSIX only: process groups, signals, /proc (with `ps` as a fallback for the
command line where there is no /proc).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from portal_io.local_server.errors import LocalServerError
from portal_io.local_server.files import SERVER_UMASK
from portal_io.local_server.rules import ProcessFacts


def server_command(host: str, port: int) -> list[str]:
    """`python -m prefect server start` with the running interpreter.

    So the server is the prefect this tool was installed with, regardless of
    what `prefect` comes first on PATH (which the server's PATH still holds).
    """
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def spawn(
    command: list[str], *, env: Mapping[str, str], cwd: Path, log: IO[bytes], keep_fd: int
) -> subprocess.Popen[bytes]:
    """Start the server in its own session, private umask, `keep_fd` inherited.

    Its own session: stopping it signals the whole group (the server and
    anything it spawned) and a Ctrl-C in the caller's terminal does not reach
    it. cwd is the state directory so a project's prefect.toml or .env is not
    picked up. `keep_fd` is the server lock, which must live as long as the
    server does; every other descriptor of ours is closed in the child.
    """
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            pass_fds=(keep_fd,),
            umask=SERVER_UMASK,
        )
    except OSError as exc:
        raise LocalServerError(f"cannot start the Prefect server: {exc}") from exc


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live (non-zombie) process.

    If the process is our own child (started by this Python process), it is
    reaped here; otherwise a dead child would look alive as a zombie.
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


def process_argv(pid: int) -> tuple[str, ...] | None:
    """The command line of `pid`, or None if this platform cannot tell us."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        if Path("/proc/self/cmdline").exists():
            return ()  # Linux, and the process is gone.
    except OSError:
        return None
    else:
        return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)
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
    return tuple(result.stdout.split())


def process_env_value(pid: int, name: str) -> str | None:
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


def resolved(path: str | Path) -> str:
    """`path` with symlinks resolved: the same project reached two ways is the same."""
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(path)


def process_facts(pid: int) -> ProcessFacts:
    """What the identity rule needs to know about `pid`."""
    if not pid_alive(pid):
        return ProcessFacts(alive=False)
    home = process_env_value(pid, "PREFECT_HOME")
    return ProcessFacts(
        alive=True,
        argv=process_argv(pid),
        prefect_home=resolved(home) if home is not None else None,
    )


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by `pid`, or just `pid` if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_gone(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait up to `timeout` for `pid` to exit (reaping it if it is our child `proc`)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            if proc.poll() is not None:
                return True
        elif not pid_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def terminate(
    pid: int,
    timeout: float,
    kill_grace: float,
    proc: subprocess.Popen[bytes] | None = None,
    note: Callable[[str], None] | None = None,
) -> None:
    """SIGTERM the process group, wait up to `timeout`, then SIGKILL it.

    Callers only pass a pid the identity rule proved to be ours.
    """
    signal_group(pid, signal.SIGTERM)
    # A stopped (SIGSTOP/Ctrl-Z) server would never act on SIGTERM.
    signal_group(pid, signal.SIGCONT)
    if wait_gone(pid, timeout, proc):
        return
    if note is not None:
        note(f"Prefect server pid {pid} ignored SIGTERM for {timeout:g} s; killing it")
    signal_group(pid, signal.SIGKILL)
    wait_gone(pid, kill_grace, proc)
