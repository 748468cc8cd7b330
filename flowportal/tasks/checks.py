"""`invoke check-config`: everything a deploy needs, checked without writing."""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from flowportal.tasks.common import CliReporter, one_line_errors, workspace_here


@task(iterable=["env"], help={"env": "only these environments (default: all)",
                              "offline": "skip the Prefect server checks"})
@one_line_errors
def check_config(c: Context, env: list[str], offline: bool = False) -> None:
    """Validate config, find flows, reach each environment's server and pools."""
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.check import check

    with CliReporter() as reporter:
        report = check(workspace_here(), list(env) or None, bootstrap(), offline, reporter)
    out = render.console()
    for line in report.ok:
        out.print(f"[green]ok[/] {render.escape(line)}")
    for line in report.problems:
        render.error_line(line)
    if report.problems:
        raise Exit(code=1)
