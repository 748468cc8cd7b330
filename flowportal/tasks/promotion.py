"""`invoke promote` and `invoke diff`.

Declared without invoke (see `flowportal.tasks.declared`), like `deploy`: a
plain command line of the console script runs them without importing invoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowportal.tasks.common import (
    CliReporter,
    check_via,
    exit_code,
    fail_on_history,
    one_line_errors,
    report_outcome,
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
    from flowportal.bootstrap import bootstrap

    if via == "github":
        from flowportal.usecases.github_dispatch import DispatchRequest, WorkflowPromote, dispatch
        from portal_core.github import parse_input_names

        action = WorkflowPromote(tuple(flow), src, dst, branch or None, force)
        request_run = DispatchRequest(action, ref=ref or None, watch=watch, repo=repo or None,
                                      input_names=parse_input_names(inputs))
        with CliReporter() as reporter:
            started = dispatch(workspace_here().root, request_run, bootstrap(), reporter)
        raise exit_code(started.exit_code)
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
        "ref": "with --via github: the git ref the workflow runs on",
        "watch": "with --via github: follow the run until it ends",
        "adopt": "take over same-named deployments in dst not made by flowportal or acme-portal-sdk",
        "inputs": "with --via github: the workflow's input names: 'flowportal' (default), 'sdk' "
                  "(flows-to-deploy comma list, env-label, source-env, target-env) or value=input pairs",
        "repo": "with --via github: OWNER/NAME (default: the origin remote)",
        "strict-history": "fail (exit 1) if the change could not be recorded in the history",
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
