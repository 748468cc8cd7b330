"""`invoke list-flows`: the flows in the source tree, found without importing them."""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

from flowportal.tasks.common import one_line_errors


@task(help={"root": "directory to scan (default: the project's flows_root)",
            "json": "print JSON records (seed SDK field names) instead of a table",
            "strict": "exit 1 when two flows share a key (default: list them, marked, exit 0)"})
@one_line_errors
def list_flows(c: Context, root: str | None = None, json: bool = False, strict: bool = False) -> None:
    """List the Prefect flows in the source tree."""
    from flowportal import render
    from flowportal.usecases.list_flows import list_flows as run

    listing = run(Path(root) if root else None, Path.cwd())
    if json:
        render.print_json(listing.records())
    else:
        render.flows_table(listing.discovery, [str(e) for e in listing.discovery.errors])
    if strict:
        listing.discovery.raise_for_collisions()
