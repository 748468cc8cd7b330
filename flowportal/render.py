"""Output for people: tables, plans, progress, warning and error lines. Colours
switch off when not a TTY.

Everything is printed as rich prints it; where rich would print nothing else
(a file, a pipe or a colour terminal, plain text), `flowportal.plain_table`
and `flowportal.plain_lines` write the same bytes without importing rich,
which would cost a no-op deploy more than its plan takes to compute.

Only the CLI uses this module; use cases and the facade return values. Every
byte it writes goes through the run's `Redactor` (secret values of the
configured environments, API keys, tokens, URL passwords), so no table, plan,
JSON document, warning or error line can show a secret, whatever text a server
or an exception put into it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from portal_core.redaction import Redactor

if TYPE_CHECKING:  # for types only: `list-flows` and `--list` must not pay for the plan model
    from flowportal.plain_lines import Line, Span
    from portal_core.discovery import Discovery
    from portal_core.plan import Change, Plan

# By `Action` value: a plan's changes carry the enum, which is a `str`.
_SYMBOLS = {"create": ("+", "green"), "update": ("~", "yellow"), "unchanged": ("=", "dim")}


_redactor = Redactor()


def use_redactor(redactor: Redactor) -> None:
    """Set the secrets this run must never show (the CLI does this once it knows them)."""
    global _redactor
    _redactor = redactor


def redact(text: str) -> str:
    return _redactor.text(text)


class _RedactingStream:
    """A text stream that redacts everything written through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return int(self._stream.write(redact(text)) or 0)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return int(self._stream.fileno())

    @property
    def encoding(self) -> str:
        return str(getattr(self._stream, "encoding", "utf-8"))


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = _RedactingStream(sys.stderr if stderr else sys.stdout)
    return Console(file=stream, highlight=False, soft_wrap=True)  # type: ignore[arg-type]


def print_json(value: Any) -> None:
    text = json.dumps(_redactor.data(value), indent=2, sort_keys=False, default=str)
    _RedactingStream(sys.stdout).write(text + "\n")


def print_lines(lines: Sequence[Line], stderr: bool = False) -> None:
    """Print lines of styled spans in one redacted write.

    Where `flowportal.plain_lines` can (a file, a pipe, a colour terminal; plain
    printable text) it writes them byte for byte as rich would, without importing
    rich; otherwise rich prints the same spans as markup. Either way the whole
    text goes through the redactor at once, as rich's single write did.
    """
    from flowportal import plain_lines

    stream = _RedactingStream(sys.stderr if stderr else sys.stdout)
    colour = plain_lines.output_colour(stream)
    text = None if colour is None else plain_lines.render(lines, colour)
    if text is None:
        console(stderr).print(markup(lines))
    else:
        _write_whole(text, stderr)


def markup(lines: Sequence[Line]) -> str:
    """The lines as rich markup, for rich to print what `plain_lines` declines.

    Neighbouring unstyled spans are escaped as one text: escaped apart, `[` and
    `a]` would meet as the tag `[a]`.
    """
    out = []
    for line in lines:
        parts: list[str] = []
        plain = ""
        for style, text in line:
            if not style:
                plain += text
                continue
            parts.append(_escaped(plain, True) + f"[{style}]{_escaped(text, True)}[/]")
            plain = ""
        out.append("".join(parts) + _escaped(plain, False))
    return "\n".join(out)


def _escaped(text: str, tag_follows: bool) -> str:
    """`text` as markup. rich reads the backslashes right before a tag in pairs (one
    shown for two), so ahead of a tag trailing backslashes are doubled; elsewhere
    (a line's end) they are shown as written, and stay single."""
    body = text.rstrip("\\")
    return escape(body) + "\\" * ((len(text) - len(body)) * (2 if tag_follows else 1))


def error_line(message: str) -> None:
    # Masked before printing: the escaping or styling could split a secret.
    print_lines([[("bold red", "error:"), ("", " " + redact(message))]], stderr=True)


def warning_line(message: str) -> None:
    print_lines([[("yellow", "warning:"), ("", " " + redact(message))]], stderr=True)


def step_line(message: str) -> None:
    """A step of a use case's progress, dim, on stderr."""
    print_lines([[("dim", message)]], stderr=True)


def applied_line(name: str, ok: bool) -> None:
    """One write's result on stderr (where no progress bar shows them)."""
    print_lines([[("", "  "), ("green", "ok") if ok else ("red", "failed"), ("", f" {name}")]], stderr=True)


def stderr_is_terminal() -> bool:
    """Whether rich treats stderr as a terminal; asks rich only when it may differ
    from the stream's own answer (forced colour or terminal, IDLE, Jupyter...)."""
    from flowportal import plain_lines

    colour = plain_lines.output_colour(_RedactingStream(sys.stderr))
    return colour if colour is not None else bool(console(stderr=True).is_terminal)


def escape(text: str) -> str:
    """`text` as rich markup that prints it as it is. Only `[` and a trailing
    backslash need escaping, so other text is returned without importing rich."""
    if "[" not in text and not text.endswith("\\"):
        return text
    from rich.markup import escape

    return escape(text)


#: The columns of the `list-flows` table.
FLOW_COLUMNS = ("key", "location", "group", "description")


def flows_table(discovery: Discovery, errors: Sequence[str] = ()) -> None:
    """Colliding keys are marked `!` in the table and explained below it.

    Where `flowportal.plain_table` can (a file, a pipe, a colour terminal;
    plain printable text) it lays the table out byte for byte as rich would,
    without importing rich (a third of the command's start-up); otherwise rich
    prints it.
    """
    flows = discovery.flows
    title = f"{len(flows)} flows"
    # Masked before the layout: a secret wrapped over two lines would escape the
    # masking of the printed text.
    marked = [discovery.collision_of(flow.key) is not None for flow in flows]  # `!`, yellow
    cells = [(("!" if mark else "") + redact(flow.key), redact(flow.location),
              redact("/".join(flow.grouping)), redact(flow.description))
             for flow, mark in zip(flows, marked, strict=True)]
    leads = [[("yellow", len(cell[0]))] if mark else [] for cell, mark in zip(cells, marked, strict=True)]
    if not _plain_table(title, FLOW_COLUMNS, cells, leads):
        _rich_flows_table(discovery, title, cells)
    for problem in discovery.collision_problems(discovery.keys):
        warning_line(f"{problem} (deploying this key is refused until then)")
    for error in errors:
        warning_line(f"skipped {error}")


def _plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                 leads: Sequence[Sequence[tuple[str, int]]]) -> bool:
    """Print the table with `flowportal.plain_table` where it lays it out as rich would
    on stdout; False: it declined, and the caller prints it with rich."""
    from flowportal import plain_table

    mode = plain_table.output_mode(_RedactingStream(sys.stdout))  # the stream rich would be given
    text = None if mode is None else plain_table.render(title, columns, rows, *mode, leads=leads)
    if text is not None:
        _write_whole(text)
    return text is not None


def _write_whole(text: str, stderr: bool = False) -> None:
    """Write `text` to stdout (or stderr) in one redacted write, then flush, ending a
    closed pipe as rich does (quietly, exit status 1, stdout sent to the null device)."""
    stream = _RedactingStream(sys.stderr if stderr else sys.stdout)
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None


def _rich_flows_table(discovery: Discovery, title: str, cells: Sequence[tuple[str, ...]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in FLOW_COLUMNS:
        table.add_column(column, overflow="fold")
    for flow, (_, location, group, description) in zip(discovery.flows, cells, strict=True):
        key = escape(redact(flow.key))
        if discovery.collision_of(flow.key) is not None:
            key = f"[yellow]!{key}[/]"  # as plain_table.render marks it
        table.add_row(key, escape(location), escape(group), escape(description))
    console().print(table)


def _change_lines(change: Change) -> list[list[Span]]:
    symbol, colour = _SYMBOLS[change.action.value]
    head: list[Span] = [(colour, f"{symbol} {change.action.value:<9}"), ("", f" {change.name}")]
    if change.action.value == "create":
        head += [("", "  "), ("dim", f"version {change.spec.version}")]
    if change.adopted_flow is not None:
        head += [("", "  "), ("cyan", "adopt"), ("", " "), ("dim", f"(kept under flow '{change.adopted_flow}')")]
    lines = [head]
    lines += [[("", f"      {field.render()}")] for field in change.fields]
    if change.action.value == "create":  # an update already lists them among its fields
        lines += [[("", f"      automations: {write.describe()}")] for write in change.automation_writes]
    return lines


def plan_lines(plan: Plan) -> list[list[Span]]:
    """The plan as lines of styled spans: a bold title, each change (its action in
    colour, then its fields) and a bold summary."""
    source = f" from {plan.source_env}" if plan.source_env else ""
    lines: list[list[Span]] = [[("bold", f"Plan for {plan.env}{source}")]]
    lines += [[("", "  "), *line] for change in plan.changes for line in _change_lines(change)]
    lines.append([("bold", plan.summary())])
    return lines


def plan_text(plan: Plan) -> None:
    """The plan as text, printed at once (a no-op re-deploy of 100 flows is mostly
    this): one write of 200 lines, without rich where `print_lines` can.

    Secrets are masked as the text is written (the plan's fields already show
    `<secret>`), so the same bytes are masked whichever way they are laid out.
    """
    print_lines(plan_lines(plan))


#: The columns of the applied-results table.
RESULT_COLUMNS = ("deployment", "result", "url")


def results_table(outcome: Any) -> None:
    """What each write did: `ok` in green, `failed` in red and why.

    Laid out by `flowportal.plain_table` where it can (as `flows_table`), else by
    rich from the same cells.
    """
    if not outcome.results:  # a no-op deploy: nothing applied, and rich not imported
        return
    # Masked before the layout: a secret wrapped over two lines would escape the
    # masking of the printed text.
    rows, leads = [], []
    for result in outcome.results:
        mark = "ok" if result.ok else "failed"
        status = mark if result.ok else f"{mark}: {redact(result.error or '')}"
        rows.append((redact(result.name), status, redact(outcome.urls.get(result.name, ""))))
        leads.append((("", 0), ("green" if result.ok else "red", len(mark)), ("", 0)))
    if _plain_table("applied", RESULT_COLUMNS, rows, leads):
        return
    from rich.table import Table

    table = Table(title="applied", title_justify="left")
    for column in RESULT_COLUMNS:
        table.add_column(column, overflow="fold")
    for row, row_leads in zip(rows, leads, strict=True):
        table.add_row(*(markup([[(colour, cell[:length]), ("", cell[length:])]])
                        for cell, (colour, length) in zip(row, row_leads, strict=True)))
    console().print(table)


def matrix_table(listing: Any, show_others: bool) -> None:
    from rich.table import Table

    matrix = listing.matrix
    table = Table(title="deployments (commit / package version, age of last change; "
                        "* differs from previous env, ! edited outside flowportal)",
                  title_justify="left")
    table.add_column("flow")
    table.add_column("branch")
    for env in matrix.envs:
        table.add_column(env)
    for row in matrix.rows:
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append("[dim]-[/]")
            else:
                text = escape(cell.label) + (f" [dim]{cell.age}[/]" if cell.age else "")
                text = f"[yellow]*{text}[/]" if cell.differs else text
                cells.append(f"[bold red]![/]{text}" if cell.drifted else text)
        table.add_row(row.flow_key, row.branch, *cells)
    out = console()
    out.print(table)
    if show_others and listing.inventory.others:
        others = Table(title="not managed by flowportal for this project", title_justify="left")
        others.add_column("deployment")
        others.add_column("flow")
        others.add_column("tags", overflow="fold")
        for state in listing.inventory.others:
            others.add_row(state.name, state.flow_name, ", ".join(state.tags))
        out.print(others)
    elif matrix.others:
        out.print(f"[dim]{matrix.others} other deployments not managed for this project "
                  f"(--all shows them)[/]")
