"""`invoke deploy` and `invoke list-deployments`."""

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
        "flow": "flow key to deploy (repeatable), or 'all'",
        "env": "target environment (see config/environments.yaml)",
        "branch": "branch name (default: the checkout's); CI passes it",
        "commit": "commit hash (default: the checkout's short HEAD)",
        "package-version": "package version (default: pyproject's)",
        "image": "container image (default: the config's image_template)",
        "dry-run": "show the plan and stop; exit 2 if changes are pending",
        "json": "print the plan and results as JSON",
        "via": "'prefect' (default): write directly; 'github': run the deploy workflow",
        "ref": "with --via github: the git ref the workflow runs on",
        "watch": "with --via github: follow the run until it ends",
    },
)
@one_line_errors
def deploy(
    c: Context,
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
) -> None:
    """Deploy flows to an environment: plan, then apply."""

    if not env:
        raise Exit("error: --env is required", code=1)
    check_via(via, dry_run, json)
    if via == "github":
        from flowportal.usecases.github_dispatch import dispatch_deploy

        workspace = workspace_here()
        dispatched = dispatch_deploy(workspace.root, list(flow), env, ref or None, watch)
        raise Exit(code=dispatched.exit_code)
    from flowportal.usecases.deploy import DeployRequest
    from flowportal.usecases.deploy import deploy as run

    request = DeployRequest(
        flows=tuple(flow), env=env, branch=branch or None, commit=commit or None,
        package_version=package_version or None, image=image or None, dry_run=dry_run,
    )
    with CliReporter(quiet=json) as reporter:
        outcome = run(workspace_here(), request, reporter=reporter)
    report_outcome(outcome, json)


@task(
    iterable=["env"],
    help={
        "env": "only these environments (repeatable; default: the promotion path)",
        "json": "print deployment records (seed SDK field names)",
        "all": "also show deployments not managed by flowportal for this project",
    },
)
@one_line_errors
def list_deployments(c: Context, env: list[str], json: bool = False, all: bool = False) -> None:
    """Show which code version runs in each environment."""
    from flowportal import render
    from flowportal.usecases.list_deployments import list_deployments as run

    listing = run(workspace_here(), list(env) or None)
    if json:
        render.print_json(listing.records(include_others=all))
    else:
        render.matrix_table(listing, show_others=all)
