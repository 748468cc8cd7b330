"""A deploy never runs the code of the flows it deploys.

The flow module below would, if imported, write a marker file, connect to a
socket the test listens on, print, and load a Prefect block. A cold first
deploy to a real local Prefect server must do none of that, start no process,
and still store the parameter schema Prefect itself would compute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowportal.bootstrap import bootstrap
from flowportal.usecases.deploy import DeployRequest, deploy
from flowportal.workspace import load_workspace
from portal_core.plan import Action
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import make_project

pytestmark = pytest.mark.integration

FLOW_DEF = '''\
@flow
def nightly(
    day: datetime.date,
    retries: int = 3,
    mode: Literal["full", "delta"] = "delta",
    tags: list[str] | None = None,
    *,
    dry: bool = False,
) -> None:
    """Load one day of data.

    Args:
        day: the day to load
        retries (int): how often to retry
            before giving up
    """
'''

SAFE_HEADER = '''\
import datetime
from typing import Literal

from prefect import flow
'''

HOSTILE_HEADER = '''\
import datetime
import pathlib
import socket
from typing import Literal

from prefect import flow
from prefect.blocks.system import Secret

pathlib.Path({marker!r}).write_text("user code ran")
print("USER CODE RAN")
socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
Secret.load("flowportal-test-never-loaded")
'''


class Recorder:
    """Everything the use case reports, kept as values."""

    def __init__(self) -> None:
        self.plans: list[Any] = []
        self.steps: list[str] = []
        self.results: list[Any] = []
        self.warnings: list[str] = []

    def plan(self, plan: Any) -> None:
        self.plans.append(plan)

    def step(self, message: str) -> None:
        self.steps.append(message)

    def applied(self, result: Any) -> None:
        self.results.append(result)

    def warning(self, message: str) -> None:
        self.warnings.append(message)



def children() -> set[int]:
    """PIDs of this process's children, from /proc (by thread: a thread that has ended
    meanwhile is skipped; its children, if any, went to a thread still listed)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            with open(task / "children", encoding="ascii") as handle:
                found.update(int(pid) for pid in handle.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        sock.setblocking(False)
        yield sock


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every process start attempted in this process (observed, then allowed through)."""
    calls: list[Any] = []
    original_init = subprocess.Popen.__init__

    def recording_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        calls.append(args)
        original_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            original = getattr(os, name)

            def recording(*args: Any, _original: Any = original, _name: str = name) -> Any:
                calls.append((_name, args))
                return _original(*args)

            monkeypatch.setattr(os, name, recording)
    return calls


def prefect_schema_of_the_def() -> dict[str, Any]:
    """Prefect's own answer, from the same `def` under harmless imports (test code)."""
    from prefect.utilities.callables import parameter_schema

    namespace: dict[str, Any] = {}
    source = SAFE_HEADER + "\n\n" + FLOW_DEF + "    pass\n"
    exec(compile(source, "safe_copy.py", "exec", dont_inherit=True), namespace)  # test code
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parameter_schema(namespace["nightly"].fn).model_dump_for_openapi()


def test_cold_deploy_runs_no_user_code_and_stores_prefects_schema(
    tmp_path: Path, prefect_api_url: str, listener: socket.socket, spawned: list[Any],
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Who deployed comes from CI's actor here, so the change record needs no `git config`:
    # then any process the deploy starts would be the flow module's doing.
    monkeypatch.setenv("GITHUB_ACTOR", "ci-bot")
    root = tmp_path / "project"
    marker = tmp_path / "marker"
    project = make_project(root, prefect_api_url, [])
    hostile = HOSTILE_HEADER.format(marker=str(marker), port=listener.getsockname()[1])
    (root / "flows" / "nightly.py").write_text(hostile + "\n\n" + FLOW_DEF + "    pass\n")
    assert not (root / ".portal" / "cache").exists()  # cold: nothing cached
    workspace = load_workspace(root)
    before = children()
    spawned.clear()  # the project's own git set-up is not the deploy's doing
    capfd.readouterr()

    recorder = Recorder()
    outcome = deploy(workspace, DeployRequest(flows=("nightly",), env="dev", branch="main",
                                              commit="abc1234", package_version="1.0.0"),
                     bootstrap(), recorder)

    out, err = capfd.readouterr()
    assert not marker.exists()
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert spawned == []
    assert children() == before
    assert (out, err) == ("", "")
    assert recorder.warnings == []
    assert [[c.action for c in p.changes] for p in recorder.plans] == [[Action.CREATE]]
    assert outcome.exit_code == 0 and all(r.ok for r in outcome.results)

    name = f"{project}--main--nightly--dev"
    (state,) = PrefectGateway(prefect_api_url).read_deployments(names=[name])
    stored = json.dumps(state.parameter_schema, sort_keys=True)
    assert stored == json.dumps(prefect_schema_of_the_def(), sort_keys=True)
    assert state.parameter_schema["required"] == ["day"]  # type: ignore[index]
    assert state.parameter_schema["properties"]["retries"]["description"] == (  # type: ignore[index]
        "how often to retry\nbefore giving up")


def test_the_hostile_module_really_is_hostile(tmp_path: Path, listener: socket.socket) -> None:
    """The check above means something only if importing the module does all of it."""
    marker = tmp_path / "marker"
    hostile = HOSTILE_HEADER.format(marker=str(marker), port=listener.getsockname()[1])
    module = tmp_path / "hostile.py"
    module.write_text(hostile + "\n\n" + FLOW_DEF + "    pass\n")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import runpy, sys
            sys.path.insert(0, {str(tmp_path)!r})
            runpy.run_path({str(module)!r})
            """)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
    )
    assert marker.read_text() == "user code ran"
    assert "USER CODE RAN" in done.stdout
    connection, _ = listener.accept()
    connection.close()
    assert done.returncode != 0  # the block load fails: there is no such block
