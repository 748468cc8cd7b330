"""`history`, `rollback`, `drift` and `prune`: the deployment lifecycle after deploy/promote.

Exit codes as everywhere: 0 done or nothing, 1 error, 2 dry-run changes pending
or drift found.
"""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from flowportal.tasks.common import (
    CliReporter,
    fail_on_history,
    one_line_errors,
    report_outcome,
    workspace_here,
)


def _require(value: str, flag: str) -> None:
    if not value:
        raise Exit(f"error: {flag} is required", code=1)


@task(help={
    "env": "environment whose history to show",
    "flow": "only this flow",
    "limit": "at most this many records (default 20)",
    "json": "print the records as JSON",
})
@one_line_errors
def history(c: Context, env: str = "", flow: str = "", limit: int = 20, json: bool = False) -> None:
    """Changes flowportal made in an environment, newest first (stored on the Prefect server)."""
    _require(env, "--env")
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.history import history as run

    with CliReporter(quiet=json) as reporter:
        listing = run(workspace_here(), env, flow or None, limit, bootstrap(), reporter)
    if json:
        render.print_json(listing.to_json())
        return
    from rich.table import Table

    table = Table(title=f"history of {env}" + (f" / {listing.flow}" if listing.flow else ""),
                  title_justify="left")
    for column in ("when", "who", "verb", "deployment", "version"):
        table.add_column(column, overflow="fold")
    for record in listing.records:
        verb = record.verb + (f" from {record.source_env}" if record.source_env else "")
        before = record.before.label() if record.before else "-"
        after = record.after.label() if record.after else "(deleted)"
        who = record.who + (f" ({record.ci_url})" if record.ci_url else "")
        table.add_row(record.when[:19].replace("T", " "), render.escape(who), verb,
                      render.escape(record.deployment), render.escape(f"{before} -> {after}"))
    render.console().print(table)
    if not listing.records:
        render.console().print("[dim]no recorded changes[/]")


@task(help={
    "env": "environment to roll back in",
    "flow": "the flow to roll back",
    "to": "the commit (or its prefix) to go back to",
    "steps": "go back this many code versions (default 1)",
    "branch": "the branch's deployment, when several branches have one in env",
    "dry-run": "show the plan and stop; exit 2 if changes are pending",
    "json": "print the plan and results as JSON",
    "strict-history": "fail (exit 1) if the change could not be recorded",
})
@one_line_errors
def rollback(c: Context, env: str = "", flow: str = "", to: str = "", steps: int = 1,
             branch: str = "", dry_run: bool = False, json: bool = False,
             strict_history: bool = False) -> None:
    """Re-apply an earlier recorded code version of one flow, with the env's own settings."""
    _require(env, "--env")
    _require(flow, "--flow")
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.rollback import RollbackRequest
    from flowportal.usecases.rollback import rollback as run

    request = RollbackRequest(env=env, flow=flow, to_commit=to or None, steps=steps,
                              branch=branch or None, dry_run=dry_run)
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, bootstrap(), reporter)
    report_outcome(outcome, json)
    fail_on_history(outcome, strict_history)


@task(help={
    "env": "environment to check",
    "flow": "only this flow",
    "json": "print the report as JSON",
})
@one_line_errors
def drift(c: Context, env: str = "", flow: str = "", json: bool = False) -> None:
    """Edits made outside flowportal since it last applied (exit 2 if any), and pending config."""
    _require(env, "--env")
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.drift import drift as run

    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), env, flow or None, bootstrap(), reporter)
    report = outcome.report
    if json:
        render.print_json(outcome.to_json())
    else:
        out = render.console()
        out.print(f"[bold]Drift in {render.escape(env)}[/]")
        for item in report.deployments:
            if item.status == "unrecorded":
                out.print(f"  [dim]? {render.escape(item.name)}: no recorded change "
                          f"(deploy or promote it once to start its history)[/]")
                continue
            if item.status == "deleted":
                out.print(f"  [red]! {render.escape(item.name)}: deleted outside flowportal[/]")
            elif item.drift:
                out.print(f"  [red]! {render.escape(item.name)}: drift[/]")
            elif not item.pending:
                out.print(f"  [dim]= {render.escape(item.name)}[/]")
            for change in item.drift:
                out.print(f"      drift   {render.escape(change.render())}")
            if item.pending:
                if not item.drift and item.status != "deleted":
                    out.print(f"  [yellow]~ {render.escape(item.name)}: pending[/]")
                for change in item.pending:
                    out.print(f"      pending {render.escape(change.render())}")
        pending = sum(1 for d in report.deployments if d.pending)
        out.print(f"[bold]{len(report.drifted)} drifted, {pending} with pending config "
                  f"changes, {len(report.deployments)} checked[/]")
    if report.exit_code:
        raise Exit(code=report.exit_code)


@task(help={
    "env": "environment to prune",
    "branch": "prune this branch's deployments (even if the branch still exists)",
    "dry-run": "show what would be deleted and stop; exit 2 if anything would be",
    "json": "print the plan and results as JSON",
    "strict-history": "fail (exit 1) if the prune could not be recorded",
})
@one_line_errors
def prune(c: Context, env: str = "", branch: str = "", dry_run: bool = False, json: bool = False,
          strict_history: bool = False) -> None:
    """Delete owned deployments of gone branches or gone flows (never protected branches)."""
    _require(env, "--env")
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.prune import PruneRequest
    from flowportal.usecases.prune import prune as run

    request = PruneRequest(env=env, branch=branch or None, dry_run=dry_run)
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, bootstrap(), reporter)
    if json:
        render.print_json(outcome.to_json())
    else:
        out = render.console()
        plan = outcome.plan
        out.print(f"[bold]Prune plan for {render.escape(env)}[/] "
                  f"[dim](protected: {render.escape(', '.join(plan.protected))})[/]")
        for candidate in plan.candidates:
            out.print(f"  [red]- delete[/]    {render.escape(candidate.state.name)}  "
                      f"[dim]{render.escape(candidate.reason)}: {render.escape(candidate.branch)}[/]")
        out.print(f"[bold]{len(plan.candidates)} to delete, {plan.kept} kept[/]")
        if outcome.applied and outcome.deleted:
            out.print(f"deleted {len(outcome.deleted)}")
    for problem in outcome.problems:
        render.error_line(problem)
    if outcome.exit_code:
        raise Exit(code=outcome.exit_code)
    fail_on_history(outcome, strict_history)
