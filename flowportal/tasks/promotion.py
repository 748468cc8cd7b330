"""`invoke promote` and `invoke diff`.

Declared without invoke (see `flowportal.tasks.declared`), like `deploy`: a
plain command line of the console script runs them without importing invoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowportal.tasks.common import (
    GITHUB_HELP,
    CliReporter,
    check_via,
    exit_code,
    fail_on_history,
    one_line_errors,
    report_outcome,
    run_workflow,
    workspace_here,
)
from flowportal.tasks.declared import DeclaredTask

if TYPE_CHECKING:
    from invoke.context import Context


@one_line_errors
def promote(
    c: Context | None,
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
    adopt: bool = False,
    inputs: str = "",
    repo: str = "",
    strict_history: bool = False,
) -> None:
    """Promote the code version running in src to dst: plan, then apply."""
    if not src or not dst:
        raise exit_code(1, "error: --src and --dst are required")
    check_via(via, dry_run, json)
    if via == "github":
        from flowportal.usecases.github_dispatch import WorkflowPromote

        raise run_workflow(WorkflowPromote(tuple(flow), src, dst, branch or None, force), ref, watch, repo, inputs)
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.promote import PromoteRequest
    from flowportal.usecases.promote import promote as run

    request = PromoteRequest(src=src, dst=dst, flows=tuple(flow), branch=branch or None,
                             force=force, dry_run=dry_run, adopt=adopt)
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, bootstrap(), reporter)
    report_outcome(outcome, json)
    fail_on_history(outcome, strict_history)


@one_line_errors
def diff(c: Context | None, flow: list[str], src: str = "", dst: str = "", branch: str = "",
         json: bool = False) -> None:
    """What promoting src to dst would change. Exit 0 if they agree, 2 if they differ."""
    if not src or not dst:
        raise exit_code(1, "error: --src and --dst are required")
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.promote import PromoteRequest
    from flowportal.usecases.promote import diff as run

    request = PromoteRequest(src=src, dst=dst, flows=tuple(flow), branch=branch or None)
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, bootstrap(), reporter)  # shows the plan
    if json:
        render.print_json(outcome.plan.to_json())
    raise exit_code(2 if outcome.plan.has_changes else 0)


PROMOTE = DeclaredTask(
    promote,
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
        "adopt": "take over same-named deployments in dst not made by flowportal or acme-portal-sdk",
        **GITHUB_HELP,
    },
)


DIFF = DeclaredTask(
    diff,
    iterable=["flow"],
    help={
        "src": "environment to compare from",
        "dst": "environment to compare to",
        "flow": "flow key (repeatable; default: every flow deployed in src)",
        "branch": "branch (default: the checkout's)",
        "json": "print the plan as JSON",
    },
)
