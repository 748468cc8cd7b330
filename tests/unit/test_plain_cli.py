"""The console script's invoke-free path reads only what invoke reads the same way.

`flowportal list-flows ...`, `flowportal deploy ...` and the other tasks of
`flowportal.tasks.without_invoke` run without importing invoke when the
command line is plain (see `flowportal.tasks.declared`). The law: every command line
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
from flowportal.tasks.deployments import DEPLOY
from flowportal.tasks.flows import LIST_FLOWS
from flowportal.tasks.without_invoke import NAMES, all_declared, declared_task


class _Recording(Program):
    """invoke's Program that records what it would run instead of running it."""

    calls: list[tuple[str, dict[str, Any]]]

    def execute(self) -> None:
        self.calls = [(context.name, {arg.attr_name or arg.name: arg.value for arg in context.args.values()})
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
    # deploy, promote, diff, list-deployments: repeatable flags, valued flags, switches
    "--flow", "--flow=all", "-f", "all", "--env", "--env=dev", "-e", "dev", "--dry-run", "--dry_run",
    "--src", "--dst=uat", "--package-version", "--via", "github", "--watch", "--adopt", "--all",
    "--strict-history", "-d", "--flows", "promote", "list-deployments",
]) | st.text(max_size=6)


@settings(deadline=None, max_examples=400)
@given(st.sampled_from(sorted(NAMES)), st.lists(TOKENS, max_size=6))
def test_every_plain_command_line_means_to_invoke_what_it_means_here(name: str, rest: list[str]) -> None:
    for argv in ([name, *rest], rest):
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
    ["deploy", "--flow", "all", "--env", "dev"], ["deploy", "--flow=a", "--flow", "b", "--env=dev", "--dry-run"],
    ["deploy", "--env", "dev", "--flow", "all", "--json", "--strict-history"],
    ["promote", "--src", "dev", "--dst", "uat", "--flow", "a"], ["diff", "--src=dev", "--dst=uat"],
    ["list-deployments", "--env", "dev", "--env", "uat", "--json"],
])
def test_the_everyday_verbs_are_plain(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOKE_RUN_ECHO", raising=False)
    call = cli.plain_call(argv)
    assert call is not None and call[0] is declared_task(argv[0])
    assert invoke_reads(argv) == [(argv[0], call[1])]


def test_a_repeatable_flag_collects_its_values_in_order() -> None:
    call = cli.plain_call(["deploy", "--flow", "b", "--env", "dev", "--flow=a"])
    assert call is not None and call[0] is DEPLOY
    assert call[1]["flow"] == ["b", "a"] and call[1]["env"] == "dev" and call[1]["dry_run"] is False
    assert cli.plain_call(["deploy", "--env", "dev", "--env", "uat"]) is None  # not repeatable


@pytest.mark.parametrize("argv", [
    [], ["--list"], ["--help"], ["list-flows", "--help"], ["list-flows", "-j"], ["list-flows", "--root"],
    ["list-flows", "--root", "--json"], ["list-flows", "--json", "--json"], ["list-flows", "extra"],
    ["--debug", "list-flows"], ["deploy", "-f", "a"], ["list-flows", "--root", ""], ["deploy", "--flow"],
    ["deploy", "--flow", "--env"], ["deploy", "--help"], ["history", "--env", "dev"], ["init"],
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
    declarations = all_declared()
    assert [declared.name for declared in declarations] == list(NAMES)
    for declared in declarations:
        task = namespace[declared.name]
        assert task.body is declared.body
        context = next(context for context in namespace.to_contexts() if context.name == declared.name)
        flags = {flag: arg.kind for flag, arg in context.flags.items() if flag.startswith("--")}
        assert flags == {**dict.fromkeys(declared.switches, bool), **dict.fromkeys(declared.valued, str),
                         **dict.fromkeys(declared.repeatable, list)}


def test_a_declaration_invoke_would_read_differently_is_refused() -> None:
    def counted(c: object, times: int = 1) -> None:  # invoke would convert to int
        pass

    def helped(c: object, name: str = "") -> None:
        pass

    with pytest.raises(TypeError, match="bool, str or None"):
        DeclaredTask(counted, help={})
    with pytest.raises(TypeError, match="unknown parameters"):
        DeclaredTask(helped, help={"nmae": "typo"})
    with pytest.raises(TypeError, match="unknown parameters"):
        DeclaredTask(helped, help={}, iterable=["names"])

    def listed(c: object, names: list[str] | None = None) -> None:  # invoke passes a list, never None
        pass

    with pytest.raises(TypeError, match="takes no default"):
        DeclaredTask(listed, help={}, iterable=["names"])


def test_tasks_run_without_invoke_never_touch_the_context() -> None:
    # They are handed None for it: a body that used it would fail only on that path.
    for declared in all_declared():
        body = inspect.unwrap(declared.body)
        context = body.__code__.co_varnames[0]
        uses = [i for i in dis.get_instructions(body) if i.opname.startswith("LOAD_") and i.argval == context]
        assert uses == [], declared.name

    def uses_it(c: Any) -> None:  # the check could fail
        c.run("true")

    assert [i for i in dis.get_instructions(uses_it) if i.opname.startswith("LOAD_") and i.argval == "c"]
