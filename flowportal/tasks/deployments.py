"""`invoke deploy` and `invoke list-deployments`.

Declared without invoke (see `flowportal.tasks.declared`): the console script
runs a plain `flowportal deploy --flow all --env dev` without importing
invoke, a tenth of an unchanged re-deploy's time; the collection makes
invoke's tasks from the same declarations.
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
def deploy(
    c: Context | None,
    flow: list[str],
    env: str = "",
    branch: str = "",
    commit: str = "",
    package_version: str = "",
    image: str = "",
    dry_run: bool = False,
    json: bool = False,
    via: str = "prefect",
    ref: str = "",
    watch: bool = False,
    adopt: bool = False,
    inputs: str = "",
    repo: str = "",
    strict_history: bool = False,
) -> None:
    """Deploy flows to an environment: plan, then apply."""

    if not env:
        raise exit_code(1, "error: --env is required")
    check_via(via, dry_run, json)
    if via == "github":
        from flowportal.usecases.github_dispatch import WorkflowDeploy

        raise run_workflow(WorkflowDeploy(tuple(flow), env), ref, watch, repo, inputs)
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.deploy import DeployRequest
    from flowportal.usecases.deploy import deploy as run

    request = DeployRequest(
        flows=tuple(flow), env=env, branch=branch or None, commit=commit or None,
        package_version=package_version or None, image=image or None, dry_run=dry_run,
        adopt=adopt,
    )
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, bootstrap(), reporter)
    report_outcome(outcome, json)
    fail_on_history(outcome, strict_history)


DEPLOY = DeclaredTask(
    deploy,
    iterable=["flow"],
    help={
        "flow": "flow key to deploy (repeatable), or 'all'",
        "env": "target environment (see config/environments.yaml)",
        "branch": "branch name (default: the checkout's); CI passes it",
        "commit": "commit hash (default: the checkout's short HEAD)",
        "package-version": "package version (default: pyproject's)",
        "image": "container image (default: the config's image_template)",
        "dry-run": "show the plan and stop; exit 2 if changes are pending",
        "json": "print the plan and results as JSON",
        "via": "'prefect' (default): write directly; 'github': run the deploy workflow",
        "adopt": "take over same-named deployments not made by flowportal or acme-portal-sdk",
        **GITHUB_HELP,
    },
)


@one_line_errors
def list_deployments(c: Context | None, env: list[str], json: bool = False, all: bool = False) -> None:
    """Show which code version runs in each environment."""
    from flowportal import render
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.list_deployments import list_deployments as run

    with CliReporter(quiet=json) as reporter:
        listing = run(workspace_here(), list(env) or None, bootstrap(), reporter)
    if json:
        render.print_json(listing.records(include_others=all))
    else:
        render.matrix_table(listing, show_others=all)


LIST_DEPLOYMENTS = DeclaredTask(
    list_deployments,
    iterable=["env"],
    help={
        "env": "only these environments (repeatable; default: the promotion path)",
        "json": "print deployment records (seed SDK field names)",
        "all": "also show deployments not managed by flowportal for this project",
    },
)
