"""Deploy chosen flows to one environment from the current checkout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from flowportal.usecases.applying import Outcome, check_automations, check_pools, finish
from flowportal.usecases.ports import CheckoutReader
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.arguments import as_flow_names, optional_name, required_name
from portal_core.deploy import (
    DeployContext,
    deployment_names,
    dirty_commit,
    plan_deploy,
    select_flows,
    uncommitted_paths,
)
from portal_core.naming_style import flow_name_for
from portal_core.plan import with_automations

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class DeployRequest:
    """What to deploy; checked when built, so every entry point refuses bad input alike."""

    flows: tuple[str, ...] = attrs.field(converter=as_flow_names)
    env: str = attrs.field(validator=required_name)
    branch: str | None = attrs.field(default=None, validator=optional_name)
    commit: str | None = attrs.field(default=None, validator=optional_name)
    package_version: str | None = attrs.field(default=None, validator=optional_name)
    image: str | None = attrs.field(default=None, validator=optional_name)
    dry_run: bool = False
    adopt: bool = False  # take over same-named deployments of unknown origin


def resolve_context(
    workspace: Workspace, request: DeployRequest, checkout: CheckoutReader, reporter: Reporter
) -> DeployContext:
    """Flags win (CI passes them); otherwise ask git and pyproject.

    A checkout with uncommitted changes to what it deploys is recorded as
    `<commit>-dirty`, so "the exact tested version" never names a commit that
    does not hold the code that ran.
    """
    root = workspace.root
    commit = request.commit
    if commit is None:
        commit = checkout.commit(root)
        changed = uncommitted_paths(checkout.status(root), workspace.config.flows_root)
        if changed:
            commit = dirty_commit(commit)
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            reporter.warning(f"uncommitted changes ({shown}): deploying as commit {commit}; "
                             "commit them to deploy an exact, promotable version")
    return DeployContext(
        branch=request.branch or checkout.branch(root),
        commit=commit,
        package_version=request.package_version or checkout.package_version(root) or "0.0.0",
        project_root=str(root),
        image=request.image,
    )


def deploy(
    workspace: Workspace,
    request: DeployRequest,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> Outcome:
    reporter = reporter or SilentReporter()
    config = workspace.config
    environment = config.environment(request.env)  # unknown env fails before anything else
    discovery = workspace.discover()
    for error in discovery.errors:
        reporter.warning(f"skipped {error}")
    flows = select_flows(discovery, request.flows)
    context = resolve_context(workspace, request, deps.checkout, reporter)
    values = workspace.env_values(environment)
    target, gateway = deps.prefect(workspace, environment, reporter.step)

    names = deployment_names(flows, config.project, context.branch, environment)
    states, automations = gateway.read_for_plan(
        names, flow_names=[flow_name_for(config.flow_name_style, f) for f in flows])
    current = with_automations(states, automations)
    read = deps.schemas(workspace.root, [f.entrypoint for f in flows])  # from source, never run
    for result in read.values():
        for warning in result.warnings:
            reporter.warning(warning)
    schemas = {entrypoint: result.schema for entrypoint, result in read.items()}
    plan = plan_deploy(flows, config, environment, context, values, schemas, current, request.adopt)
    pools = check_pools(plan, gateway, environment)
    check_automations(plan, target)
    for warning in plan.warnings:
        reporter.warning(warning)
    history = deps.history(gateway, target, config.writes_at_once(target.embedded))
    return finish(plan, gateway, target, reporter, pools, request.dry_run, history=history)
