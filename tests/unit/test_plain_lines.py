"""Styled lines without rich are byte for byte what rich prints.

`flowportal.plain_lines` writes the plan, error, warning and progress lines
itself when rich would write nothing else (so a deploy need not import rich).
The laws: for any lines and colour system it either declines (None: rich
prints) or produces exactly what rich prints for the markup `flowportal.render`
gives rich for the same spans; the markup shows every span's text as it is; and
a whole plan prints the same whichever way it goes.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape
from support.examples import examples
from support.strategies import deployed_states, deployment_specs

from flowportal import plain_lines, render
from portal_core.automations import AutomationWrite
from portal_core.deployments import DeploymentSpec
from portal_core.plan import Action, Change, FieldChange, Plan, make_plan

ROOT = Path(__file__).resolve().parents[2]

COLOUR_SYSTEMS = [None, "standard", "256", "truecolor"]


def rich_prints(markup: str, colour_system: str | None) -> str:
    """What `render.console()` prints for `markup`; `colour_system`: on a terminal."""
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True, force_terminal=colour_system is not None,
                      color_system=colour_system)  # type: ignore[arg-type]
    console.print(markup)
    return out.getvalue()


#: Words, runs of spaces, brackets that look like markup, colons that look like emoji
#: codes, backslashes, and any printable ASCII.
TEXT = st.text(alphabet=st.sampled_from("ab  xy/_.:[]-09\\"), max_size=16) | st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
STYLES = st.sampled_from(sorted(plain_lines.SGR))
LINES = st.lists(st.lists(st.tuples(STYLES, TEXT), max_size=6), max_size=6)


@examples(4)
@given(LINES, st.sampled_from(COLOUR_SYSTEMS))
def test_lines_are_rich_s_lines_or_decline(lines: list[list[tuple[str, str]]],
                                          colour_system: str | None) -> None:
    ours = plain_lines.render(lines, colour_system is not None)
    if ours is not None:
        assert ours == rich_prints(render.markup(lines), colour_system)


#: Text as plans and messages hold it: names, versions, paths, JSON-ish values.
WORDS = st.from_regex(r"[A-Za-z0-9_.,'\"{}()<>=+/ -]{0,24}", fullmatch=True)


@examples(2)
@given(st.lists(st.lists(st.tuples(STYLES, WORDS), max_size=6), max_size=8),
       st.sampled_from(COLOUR_SYSTEMS))
def test_everyday_lines_are_written_without_rich(lines: list[list[tuple[str, str]]],
                                                 colour_system: str | None) -> None:
    # The property above is not satisfied by declining: everyday text never does.
    ours = plain_lines.render(lines, colour_system is not None)
    assert ours is not None
    assert ours == rich_prints(render.markup(lines), colour_system)


def test_the_styles_codes_are_rich_s() -> None:
    lines = [[("bold", "Plan"), ("", " "), ("bold red", "error:"), ("dim", ""), ("green", " ")]]
    expected = "\x1b[1mPlan\x1b[0m \x1b[1;31merror:\x1b[0m\x1b[32m \x1b[0m\n"
    assert plain_lines.render(lines, colour=True) == expected
    assert plain_lines.render(lines, colour=False) == "Plan error: \n"
    assert plain_lines.render([], colour=True) == rich_prints("", "standard") == "\n"


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "caf\u00e9", "wide \u4e2d", "a:rocket:b",
                                  "ends with \\", "back\\slash", "bell\x07", "cr\r"])
def test_text_rich_would_change_is_left_to_rich(text: str) -> None:
    for style in ("", "bold"):
        assert plain_lines.render([[("", "ok"), (style, text)]], colour=False) is None, text
        assert plain_lines.render([[("", "ok")], [(style, text)]], colour=True) is None, text


def test_emoji_codes_across_spans_and_unknown_styles_are_left_to_rich() -> None:
    # One text to rich's emoji replacement: `:smi` then `le:` would print a smiling face.
    assert plain_lines.render([[("", ":smi"), ("", "le:")]], colour=False) is None
    assert plain_lines.render([[("blink", "x")]], colour=False) is None
    assert plain_lines.render([[("", "time: 10:30 [draft]")]], colour=False) == "time: 10:30 [draft]\n"


#: Text rich shows as it is, once escaped (no control characters, tabs or emoji codes;
#: no backslash before a `[` that opens no tag, which rich's escaping leaves for its
#: markup to drop).
SHOWN = st.text(alphabet=st.sampled_from("ab []/#@=-\u00e9\u2603"), max_size=12)


@examples(2)
@given(st.lists(st.lists(st.tuples(STYLES, SHOWN), max_size=5), min_size=1, max_size=4))
def test_the_fallback_markup_shows_every_text_as_it_is(lines: list[list[tuple[str, str]]]) -> None:
    expected = "".join("".join(text for _, text in line) + "\n" for line in lines)
    assert rich_prints(render.markup(lines), None) == expected


@given(st.text(alphabet=st.sampled_from("ab []/\\#@=:"), max_size=12) | st.text(max_size=12))
def test_escaping_is_rich_s_escaping_even_when_it_skips_rich(text: str) -> None:
    assert render.escape(text) == escape(text)


@pytest.mark.parametrize("backslashes", [1, 2, 3])
def test_trailing_backslashes_show_as_written_before_a_tag_and_at_a_line_s_end(backslashes: int) -> None:
    text = "C:" + "\\" * backslashes
    lines = [[("", text), ("bold", text)], [("red", text), ("", text)], [("", "[b]" + text)]]
    expected = f"{text}{text}\n{text}{text}\n[b]{text}\n"
    assert rich_prints(render.markup(lines), None) == expected


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty, self.encoding = tty, "utf-8"

    def isatty(self) -> bool:
        return self.tty


def test_colour_is_decided_as_rich_decides_it_at_any_width() -> None:
    colour = plain_lines.output_colour
    assert colour(_Stream(False), {"COLUMNS": "132"}) is False
    assert colour(_Stream(True), {"COLUMNS": "132", "TERM": "xterm"}) is True
    assert colour(_Stream(True), {"COLUMNS": "5", "TERM": "xterm"}) is True  # no wrapping: any width
    assert colour(_Stream(True), {"TERM": "dumb"}) is None
    assert colour(_Stream(True), {"TERM": "xterm", "NO_COLOR": "1"}) is None
    assert colour(_Stream(False), {"FORCE_COLOR": ""}) is None
    assert colour(_Stream(True), {"TERM": "xterm", "TTY_COMPATIBLE": "0"}) is None


def test_idle_which_claims_a_terminal_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    idle_input = type("PseudoInputFile", (), {"__module__": "idlelib.run"})()
    monkeypatch.setattr(sys, "stdin", idle_input)
    assert plain_lines.output_colour(_Stream(True), {"TERM": "xterm"}) is None
    assert not Console(file=_Stream(True)).is_terminal  # type: ignore[arg-type]  # rich: no escape codes


# --------------------------------------------------------------------------- whole plans

NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.+-]{0,20}", fullmatch=True)
#: Field values; one colon at most (`image: registry/acme:main-abc`): two could be an emoji code.
VALUES = (st.none() | st.from_regex(r"[A-Za-z0-9_./ -]{0,20}(:[A-Za-z0-9_.-]{1,10})?", fullmatch=True)
          | st.lists(NAMES, max_size=2))


def _spec(version: str) -> DeploymentSpec:
    return DeploymentSpec(name="n", flow_name="f", entrypoint="flows/f.py:f", version=version)


def plans(names: st.SearchStrategy[str], values: st.SearchStrategy[object]) -> st.SearchStrategy[Plan]:
    change = st.builds(
        Change,
        flow_key=names,
        name=names,
        action=st.sampled_from(Action),
        spec=st.builds(_spec, names),
        fields=st.lists(st.builds(FieldChange, names, values, values, st.none() | names), max_size=3).map(tuple),
        adopted_flow=st.none() | names,
        automation_writes=st.lists(st.builds(AutomationWrite, st.sampled_from(["create", "update", "delete"]),
                                             names), max_size=2).map(tuple),
    )
    return st.builds(Plan, env=names, changes=st.lists(change, max_size=6).map(tuple),
                     source_env=st.none() | names)


@st.composite
def generated_plans(draw: st.DrawFn) -> Plan:
    """A plan as the core makes one, from generated specs and states (hostile text)."""
    specs = draw(st.lists(deployment_specs(), max_size=3, unique_by=lambda s: s.name))
    current = [draw(deployed_states(name=st.just(s.name))) for s in specs if draw(st.booleans())]
    return make_plan(draw(st.sampled_from(["dev", "uat"])), specs, current, adopt=True)


class _Output(io.StringIO):
    """Captured output in UTF-8: a terminal or a pipe."""

    encoding = "utf-8"

    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@contextlib.contextmanager
def _environment(term: str, by_rich: bool, terminal: bool) -> Iterator[None]:
    """The terminal type; `by_rich`: a setting this module leaves to rich, which prints the same."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLORTERM", "TERM")}
    env.update(COLUMNS="80", TERM=term)
    if term == "xterm-truecolor":
        env.update(TERM="xterm", COLORTERM="truecolor")
    if by_rich:
        env.update({"TTY_COMPATIBLE": "1"} if terminal else {"FORCE_COLOR": ""})
    with mock.patch.dict(os.environ, env, clear=True):
        yield


def printed(plan: Plan, terminal: bool, term: str, by_rich: bool) -> str:
    with _environment(term, by_rich, terminal), contextlib.redirect_stdout(_Output(terminal)) as out:
        render.plan_text(plan)
    return out.getvalue()


#: Terminal types for rich's three colour systems ("xterm-truecolor" stands for
#: TERM=xterm with COLORTERM=truecolor, see `_environment`).
TERMS = ["xterm", "xterm-256color", "xterm-truecolor"]


@examples(2)
@given(plans(NAMES, VALUES), st.booleans(), st.sampled_from(TERMS))
def test_a_plan_prints_as_rich_prints_it(plan: Plan, terminal: bool, term: str) -> None:
    assert plain_lines.render(render.plan_lines(plan), terminal) is not None  # not by declining
    ours = printed(plan, terminal, term, by_rich=False)
    assert ours == printed(plan, terminal, term, by_rich=True)
    assert ("\x1b[1mPlan for " in ours) == terminal


@given(st.one_of(plans(TEXT, st.none() | TEXT), generated_plans()), st.booleans(), st.sampled_from(TERMS))
def test_any_plan_prints_the_same_either_way(plan: Plan, terminal: bool, term: str) -> None:
    assert printed(plan, terminal, term, by_rich=False) == printed(plan, terminal, term, by_rich=True)


def test_a_plan_to_a_pipe_does_not_import_rich() -> None:
    code = textwrap.dedent("""
        import sys
        from flowportal import render
        from flowportal.tasks.common import CliReporter
        from flowportal.usecases.applying import Outcome
        from portal_core.deployments import ApplyResult, DeploymentSpec
        from portal_core.plan import Action, Change, Plan

        spec = DeploymentSpec(name="report-dev", flow_name="report", entrypoint="flows/r.py:report", version="1+abc")
        plan = Plan(env="dev", changes=(Change("report", "report-dev", Action.CREATE, spec),
                                        Change("other", "other-dev", Action.UNCHANGED, spec)))
        with CliReporter() as reporter:
            reporter.plan(plan)
            reporter.step("applying 2 changes")
            reporter.applied(ApplyResult(name="report-dev", flow_key="report", ok=True))
            reporter.warning("a warning")
        render.error_line("an error")
        render.results_table(Outcome(plan, (ApplyResult(name="report-dev", flow_key="report", ok=True),)))
        print("rich" in sys.modules, file=sys.stderr)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True, env=env)
    lines = done.stdout.splitlines()
    assert lines[:4] == ["Plan for dev", "  + create    report-dev  version 1+abc",
                         "  = unchanged other-dev", "1 to create, 0 to update, 1 unchanged"]
    assert lines[4] == "applied" and "│ report-dev │ ok     │" in lines[-2]
    assert done.stderr.splitlines() == ["applying 2 changes", "  ok report-dev", "warning: a warning",
                                        "error: an error", "False"]


SECRETS = st.from_regex(r"[A-Za-z0-9!$%^*()_=+.,-]{4,16}", fullmatch=True)


@given(SECRETS, NAMES, NAMES, st.booleans(), st.sampled_from(TERMS))
def test_secrets_are_masked_on_the_way_without_rich(secret: str, before: str, after: str, terminal: bool,
                                                    term: str) -> None:
    """The plan, progress, warning, error lines and results table, written without rich,
    pass through the run's redactor as rich's output did."""
    from flowportal.tasks.common import CliReporter
    from flowportal.usecases.applying import Outcome
    from portal_core.deployments import ApplyResult
    from portal_core.redaction import MASK, Redactor

    hidden = before + secret + after
    change = Change("k", hidden, Action.CREATE, _spec(hidden), fields=(FieldChange("env.X", None, hidden),))
    plan = Plan(env="dev", changes=(change,))
    failed = ApplyResult(hidden, "k", ok=False, error=f"server said {hidden}")
    outcome = Outcome(plan, (failed, ApplyResult("other", "o", ok=True)), applied=True, urls={"other": hidden})
    out, err = _Output(terminal), _Output(terminal)
    render.use_redactor(Redactor([secret]))
    try:
        with _environment(term, by_rich=False, terminal=terminal), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            reporter = CliReporter()  # one result pending: a line per write, no progress bar
            reporter.plan(Plan(env="dev", changes=(change, _unchanged(change))))
            reporter.step(f"applying {hidden}")
            reporter.applied(failed)
            reporter.warning(hidden)
            render.error_line(hidden)
            render.results_table(outcome)
    finally:
        render.use_redactor(Redactor())
    assert plain_lines.render(render.plan_lines(plan), terminal) is not None  # printed without rich
    for printed in (out.getvalue(), err.getvalue()):
        assert MASK in printed
        assert not any(secret in piece for piece in printed.split(MASK))


def _unchanged(change: Change) -> Change:
    """Another deployment of the same spec, already as it should be."""
    return Change(change.flow_key, change.name + "-2", Action.UNCHANGED, change.spec)
