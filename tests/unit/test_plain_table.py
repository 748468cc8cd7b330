"""The plain-text table is byte for byte what rich prints without colour.

`flowportal.plain_table` lays out the `list-flows` table itself when rich
would print no colour (so the command need not import rich). The law: for
any table and width, it either declines (None: rich prints) or produces
exactly rich's output for the same table, built as `flowportal.render` builds it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from support.examples import examples

from flowportal import plain_table


def rich_text(title: str, headers: list[str], rows: list[list[str]], width: int,
              yellow: list[bool] | None = None, colour_system: str | None = None,
              leads: list[list[tuple[str, int]]] | None = None) -> str:
    """rich's table as `flowportal.render` builds it; `colour_system`: on a terminal;
    `leads`: each cell's first characters in a colour (`[red]failed[/]: why`)."""
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True, width=width,
                      force_terminal=colour_system is not None, color_system=colour_system)  # type: ignore[arg-type]
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(escape(header), overflow="fold")
    for index, (row, mark) in enumerate(zip(rows, yellow or [False] * len(rows), strict=True)):
        cells = [escape(cell) for cell in row]
        if mark:
            cells[0] = f"[yellow]{cells[0]}[/]"
        for column, (colour, length) in enumerate(leads[index] if leads else []):
            if colour:
                text = row[column]
                cells[column] = f"[{colour}]{escape(text[:length])}[/]{escape(text[length:])}"
        table.add_row(*cells)
    console.print(table)
    return out.getvalue()


#: Words, runs of spaces, path-like text, markup-like brackets, long unbroken words.
CELL = st.text(alphabet=st.sampled_from("ab  xyz/_.:[]-09"), max_size=40) | st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=90)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[bool]]:
    n = draw(st.integers(1, 5))
    headers = draw(st.lists(CELL.filter(bool), min_size=n, max_size=n))
    rows = draw(st.lists(st.lists(CELL, min_size=n, max_size=n), max_size=8))
    yellow = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    return headers, rows, yellow


@settings(max_examples=150, deadline=None)
@given(tables(), st.integers(1, 220), st.sampled_from([None, "standard", "256", "truecolor"]))
def test_the_table_is_rich_s_table_or_declines(table: tuple[list[str], list[list[str]], list[bool]],
                                               width: int, colour_system: str | None) -> None:
    headers, rows, yellow = table
    leads = [[("yellow", len(row[0]))] if mark else [] for row, mark in zip(rows, yellow, strict=True)]
    ours = plain_table.render("7 flows", headers, rows, width, colour_system is not None, leads)
    if ours is not None:
        assert ours == rich_text("7 flows", headers, rows, width, yellow, colour_system)


#: Cells of a results table: a word or two in colour, then the rest (`failed: why`).
LEAD_CELL = st.tuples(st.sampled_from(["", "green", "red", "yellow"]), st.from_regex(r"[a-z]{1,8}( [a-z]{1,3})?", fullmatch=True), CELL)


@examples(2)
@given(st.lists(st.lists(LEAD_CELL, min_size=3, max_size=3), min_size=1, max_size=6), st.integers(1, 120),
       st.sampled_from(["standard", "256", "truecolor"]))
def test_cells_that_start_in_colour_are_rich_s_cells(rows: list[list[tuple[str, str, str]]], width: int,
                                                    colour_system: str) -> None:
    cells = [[lead + rest for _, lead, rest in row] for row in rows]
    leads = [[(colour, len(lead)) for colour, lead, _ in row] for row in rows]
    headers = ["deployment", "result", "url"]
    ours = plain_table.render("applied", headers, cells, width, True, leads=leads)
    if ours is not None:
        assert ours == rich_text("applied", headers, cells, width, colour_system=colour_system, leads=leads)
    if width >= 60 and all(plain_table.renderable(c) for row in cells for c in row):
        assert ours is not None  # the property is not satisfied by declining


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[a-z_]{1,30}", fullmatch=True),
                          st.from_regex(r"[a-z_/]{1,40}\.py:[0-9]{1,3}", fullmatch=True),
                          st.from_regex(r"([a-z]{1,8}(/[a-z]{1,8}){0,2})?", fullmatch=True),
                          st.from_regex(r"([A-Za-z',.]{1,12}( [A-Za-z',.]{1,12}){0,15})?", fullmatch=True)),
                max_size=12),
       st.integers(plain_table.MIN_WIDTH, 250))
def test_list_flows_tables_are_laid_out_without_rich(rows: list[tuple[str, str, str, str]],
                                                      width: int) -> None:
    # The everyday case never falls back: the property above is not satisfied by declining.
    headers = ["key", "location", "group", "description"]
    ours = plain_table.render(f"{len(rows)} flows", headers, rows, width)
    assert ours is not None
    assert ours == rich_text(f"{len(rows)} flows", headers, [list(r) for r in rows], width)


def test_text_rich_would_change_or_style_is_left_to_rich() -> None:
    headers = ["key", "description"]
    for cell in ("tab\there", "line\nbreak", "caf\u00e9", "wide \u4e2d", "a:rocket:b", "ends with \\"):
        assert plain_table.render("1 flows", headers, [["k", cell]], 80) is None, cell
    assert plain_table.render("1 flows", headers, [["k", "time: 10:30 [draft]"]], 80) is not None


class _Stream:
    def __init__(self, tty: bool, encoding: str = "utf-8") -> None:
        self.tty, self.encoding = tty, encoding

    def isatty(self) -> bool:
        return self.tty


def test_output_mode_follows_rich_and_declines_whenever_rich_may_print_otherwise() -> None:
    mode = plain_table.output_mode
    assert mode(_Stream(False), {"COLUMNS": "132"}) == (132, False)
    assert mode(_Stream(True), {"COLUMNS": "132", "TERM": "xterm-256color"}) == (132, True)
    assert mode(_Stream(True), {"COLUMNS": "132", "TERM": "dumb"}) is None  # rich: no colour, 80 columns
    assert mode(_Stream(True), {"COLUMNS": "132", "NO_COLOR": "1"}) is None  # rich: styles, no colours
    assert mode(_Stream(False), {"COLUMNS": "132", "NO_COLOR": "1"}) == (132, False)  # nothing to colour
    assert mode(_Stream(False), {"COLUMNS": "132", "FORCE_COLOR": "1"}) is None
    assert mode(_Stream(False), {"COLUMNS": "132", "TTY_COMPATIBLE": "1"}) is None
    assert mode(_Stream(False, "ascii"), {"COLUMNS": "132"}) is None  # rich draws an ASCII box
    assert mode(_Stream(False), {"COLUMNS": "5"}) is None  # too narrow
    assert mode(_Stream(False), {"COLUMNS": "abc"}) is not None  # ignored, as rich does


SOURCES = [
    ("flows/a.py", 'from prefect import flow\n\n@flow\ndef report() -> None:\n    """Send [the] daily report to everyone who asked for it, twice."""\n'),
    ("flows/team/b.py", "from prefect import flow\n\n@flow(name='report')\ndef other() -> None:\n    pass\n"),
    ("flows/c.py", "from prefect import flow\n\n@flow\ndef c_flow_with_a_rather_long_name_indeed() -> None:\n    pass\n"),
]


class _Terminal(io.StringIO):
    """Captured output that says it is a terminal, in UTF-8."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("columns", ["30", "52", "80", "200"])
@pytest.mark.parametrize("stdout", ["pipe", "stringio", "terminal"])
def test_the_list_flows_table_prints_as_rich_prints_it(columns: str, stdout: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    from flowportal import render
    from portal_core.discovery import discover

    discovery = discover(SOURCES, "flows")
    assert discovery.collisions  # the `!` mark, its colour and the warning are part of it
    printed = printed_both_ways(lambda: render.flows_table(discovery), columns, stdout, monkeypatch, capfd)
    assert printed[0] == printed[1]
    assert printed[0].count("!") == 2  # both flows of the shared key are marked
    assert ("\x1b[33m!" in printed[0]) == (stdout == "terminal")


def printed_both_ways(print_it: Callable[[], None], columns: str, stdout: str,
                      monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> list[str]:
    """What `print_it` writes to `stdout` ("pipe", "terminal" or "ascii", a StringIO),
    first as this module lays it out, then with settings it leaves to rich."""
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    printed = []
    for by_rich in (False, True):
        if by_rich:  # settings this module leaves to rich, which prints the same
            monkeypatch.setenv(*(("TTY_COMPATIBLE", "1") if stdout == "terminal" else ("FORCE_COLOR", "")))
        if stdout == "pipe":
            print_it()
            printed.append(capfd.readouterr().out)
        else:  # a StringIO has no encoding: rich draws an ASCII box, and so must we
            with contextlib.redirect_stdout(_Terminal() if stdout == "terminal" else io.StringIO()) as out:
                print_it()
            printed.append(out.getvalue())
    return printed


@pytest.mark.parametrize("columns", ["30", "80"])
@pytest.mark.parametrize("stdout", ["pipe", "terminal"])
def test_the_results_table_prints_as_rich_prints_it(columns: str, stdout: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    from flowportal import render
    from flowportal.usecases.applying import Outcome
    from portal_core.deployments import ApplyResult
    from portal_core.plan import Plan

    results = (ApplyResult("report-dev", "report", ok=True),
               ApplyResult("[nightly] sync-dev", "sync", ok=False, error="HTTP 422: [field] schedule is invalid"),
               ApplyResult("c-dev", "c", ok=False))
    outcome = Outcome(Plan("dev", ()), results, applied=True,
                      urls={"report-dev": "http://127.0.0.1:4242/deployments/deployment/1234"})
    printed = printed_both_ways(lambda: render.results_table(outcome), columns, stdout, monkeypatch, capfd)
    assert printed[0] == printed[1]
    if columns == "80":  # names are shown as they are, not read as markup
        assert "[nightly] sync-dev" in printed[0] and "[field]" in printed[0]
    assert ("\x1b[31mfailed\x1b[0m" in printed[0]) == (stdout == "terminal")
