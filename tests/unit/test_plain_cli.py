"""The console script's invoke-free path reads only what invoke reads the same way.

`flowportal list-flows ...` runs without importing invoke when the command
line is plain (see `flowportal.tasks.declared`). The law: every command line
the plain reader accepts, invoke's own parser (the console script's `Program`)
turns into the same single task call with the same arguments; everything
else is handed to invoke.
"""

from __future__ import annotations

import contextlib
import dis
import inspect
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invoke.program import Program

from flowportal import cli
from flowportal.tasks import namespace
from flowportal.tasks.declared import DeclaredTask
from flowportal.tasks.flows import LIST_FLOWS, WITHOUT_INVOKE


class _Recording(Program):
    """invoke's Program that records what it would run instead of running it."""

    calls: list[tuple[str, dict[str, Any]]]

    def execute(self) -> None:
        self.calls = [(context.name, {name: arg.value for name, arg in context.args.items()})
                      for context in self.tasks]


def invoke_reads(argv: list[str]) -> list[tuple[str, dict[str, Any]]] | None:
    """The task calls invoke parses `argv` into; None if it refuses it (or only prints help)."""
    program = _Recording(namespace=namespace, name="flowportal", binary="flowportal")
    program.calls = []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            program.run(["flowportal", *argv], exit=False)
        except SystemExit:
            return None
    return program.calls or None


TOKENS = st.sampled_from([
    "list-flows", "deploy", "--root", "--root=x", "--root=", "--root=-x", "--root=a=b", "--json",
    "--json=1", "--strict", "--no-json", "-r", "-j", "-s", "-rx", "--help", "-h", "--debug", "--",
    "-", "", "x", "dir with spaces", "list_flows", "--ro", "--list",
]) | st.text(max_size=6)


@settings(deadline=None, max_examples=300)
@given(st.lists(TOKENS, max_size=5))
def test_every_plain_command_line_means_to_invoke_what_it_means_here(rest: list[str]) -> None:
    for argv in (["list-flows", *rest], rest):
        call = cli.plain_call(argv)
        if call is not None:
            task, kwargs = call
            assert invoke_reads(argv) == [(task.name, kwargs)]


@pytest.mark.parametrize("argv", [
    ["list-flows"], ["list-flows", "--json"], ["list-flows", "--strict", "--json"],
    ["list-flows", "--root", "flows"], ["list-flows", "--root=some dir", "--strict"],
])
def test_the_everyday_forms_are_plain(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOKE_RUN_ECHO", raising=False)
    call = cli.plain_call(argv)
    assert call is not None and call[0] is LIST_FLOWS
    assert invoke_reads(argv) == [("list-flows", call[1])]


@pytest.mark.parametrize("argv", [
    [], ["--list"], ["--help"], ["list-flows", "--help"], ["list-flows", "-j"], ["list-flows", "--root"],
    ["list-flows", "--root", "--json"], ["list-flows", "--json", "--json"], ["list-flows", "extra"],
    ["--debug", "list-flows"], ["deploy", "--flow", "a"], ["list-flows", "--root", ""],
])
def test_anything_else_goes_to_invoke(argv: list[str]) -> None:
    assert cli.plain_call(argv) is None


def test_invoke_config_sends_every_command_to_invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An INVOKE_ variable or a user config file can change how invoke runs a command line.
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.plain_call(["list-flows"]) is not None
    monkeypatch.setenv("INVOKE_RUN_ECHO", "1")
    assert cli.plain_call(["list-flows"]) is None
    monkeypatch.delenv("INVOKE_RUN_ECHO")
    (tmp_path / ".invoke.yaml").write_text("run: {echo: true}\n")
    assert cli.plain_call(["list-flows"]) is None


def test_the_collection_runs_the_declared_functions_with_the_declared_flags() -> None:
    for declared in WITHOUT_INVOKE:
        task = namespace[declared.name]
        assert task.body is declared.body
        flags = {f"--{arg.name}": arg.kind for arg in task.get_arguments()}
        assert flags == {**dict.fromkeys(declared.switches, bool), **dict.fromkeys(declared.valued, str)}


def test_a_declaration_invoke_would_read_differently_is_refused() -> None:
    def counted(c: object, times: int = 1) -> None:  # invoke would convert to int
        pass

    def helped(c: object, name: str = "") -> None:
        pass

    with pytest.raises(TypeError, match="bool, str or None"):
        DeclaredTask(counted, help={})
    with pytest.raises(TypeError, match="unknown parameters"):
        DeclaredTask(helped, help={"nmae": "typo"})


def test_tasks_run_without_invoke_never_touch_the_context() -> None:
    # They are handed None for it: a body that used it would fail only on that path.
    for declared in WITHOUT_INVOKE:
        body = inspect.unwrap(declared.body)
        context = body.__code__.co_varnames[0]
        uses = [i for i in dis.get_instructions(body) if i.opname.startswith("LOAD_") and i.argval == context]
        assert uses == [], declared.name

    def uses_it(c: Any) -> None:  # the check could fail
        c.run("true")

    assert [i for i in dis.get_instructions(uses_it) if i.opname.startswith("LOAD_") and i.argval == "c"]
