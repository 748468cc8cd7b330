"""`invoke promote` and `invoke diff`."""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from flowportal.tasks.common import (
    CliReporter,
    check_via,
    one_line_errors,
    report_outcome,
    workspace_here,
)


@task(
    iterable=["flow"],
    help={
        "src": "source environment (the code version is taken from there)",
        "dst": "target environment (its own settings are kept)",
        "flow": "flow key (repeatable; default: every flow deployed in src)",
        "branch": "branch whose deployments to promote (default: the checkout's)",
        "dry-run": "show the plan and stop; exit 2 if changes are pending",
        "json": "print the plan and results as JSON",
        "force": "allow skipping or reversing the promotion path",
        "via": "'prefect' (default) or 'github' (run the promote workflow)",
        "ref": "with --via github: the git ref the workflow runs on",
        "watch": "with --via github: follow the run until it ends",
    },
)
@one_line_errors
def promote(
    c: Context,
    flow: list[str],
    src: str = "",
    dst: str = "",
    branch: str = "",
    dry_run: bool = False,
    json: bool = False,
    force: bool = False,
    via: str = "prefect",
    ref: str = "",
    watch: bool = False,
) -> None:
    """Promote the code version running in src to dst: plan, then apply."""
    if not src or not dst:
        raise Exit("error: --src and --dst are required", code=1)
    check_via(via, dry_run, json)
    if via == "github":
        from flowportal.usecases.github_dispatch import dispatch_promote

        workspace = workspace_here()
        dispatched = dispatch_promote(workspace.root, list(flow), src, dst, branch or None, force,
                                      ref or None, watch)
        raise Exit(code=dispatched.exit_code)
    from flowportal.usecases.promote import PromoteRequest
    from flowportal.usecases.promote import promote as run

    request = PromoteRequest(src=src, dst=dst, flows=tuple(flow), branch=branch or None,
                             force=force, dry_run=dry_run)
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, reporter=reporter)
    report_outcome(outcome, json)


@task(
    iterable=["flow"],
    help={
        "src": "environment to compare from",
        "dst": "environment to compare to",
        "flow": "flow key (repeatable; default: every flow deployed in src)",
        "branch": "branch (default: the checkout's)",
        "json": "print the plan as JSON",
    },
)
@one_line_errors
def diff(c: Context, flow: list[str], src: str = "", dst: str = "", branch: str = "",
         json: bool = False) -> None:
    """What promoting src to dst would change. Exit 0 if they agree, 2 if they differ."""
    if not src or not dst:
        raise Exit("error: --src and --dst are required", code=1)
    from flowportal.usecases.promote import diff as run

    outcome = run(workspace_here(), src, dst, list(flow), branch or None)
    from flowportal import render

    if json:
        render.print_json(outcome.plan.to_json())
    else:
        render.plan_text(outcome.plan)
    raise Exit(code=2 if outcome.plan.has_changes else 0)
