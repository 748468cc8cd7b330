"""Output for people: rich tables and plans. Colours switch off when not a TTY.

Only the CLI uses this module; use cases and the facade return values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from portal_core.flows import FlowRecord
from portal_core.plan import Action, Change, Plan

_SYMBOLS = {Action.CREATE: ("+", "green"), Action.UPDATE: ("~", "yellow"), Action.UNCHANGED: ("=", "dim")}


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def error_line(message: str) -> None:
    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")


def warning_line(message: str) -> None:
    console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}")


def escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def flows_table(flows: Sequence[FlowRecord], errors: Sequence[str] = ()) -> None:
    from rich.table import Table

    table = Table(title=f"{len(flows)} flows", title_justify="left")
    for column in ("key", "location", "group", "description"):
        table.add_column(column, overflow="fold")
    for flow in flows:
        table.add_row(flow.key, flow.location, "/".join(flow.grouping), flow.description)
    out = console()
    out.print(table)
    for error in errors:
        warning_line(f"skipped {error}")


def _change_lines(change: Change) -> list[str]:
    symbol, colour = _SYMBOLS[change.action]
    head = f"[{colour}]{symbol} {change.action.value:<9}[/] {escape(change.name)}"
    if change.action is Action.CREATE:
        head += f"  [dim]version {escape(change.spec.version)}[/]"
    lines = [head]
    lines += [f"      {escape(field.render())}" for field in change.fields]
    return lines


def plan_text(plan: Plan) -> None:
    out = console()
    source = f" from {plan.source_env}" if plan.source_env else ""
    out.print(f"[bold]Plan for {plan.env}{source}[/]")
    for change in plan.changes:
        for line in _change_lines(change):
            out.print("  " + line)
    out.print(f"[bold]{plan.summary()}[/]")


def results_table(outcome: Any) -> None:
    from rich.table import Table

    if not outcome.results:
        return
    table = Table(title="applied", title_justify="left")
    for column in ("deployment", "result", "url"):
        table.add_column(column, overflow="fold")
    for result in outcome.results:
        status = "[green]ok[/]" if result.ok else f"[red]failed[/]: {escape(result.error or '')}"
        table.add_row(result.name, status, outcome.urls.get(result.name, ""))
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
