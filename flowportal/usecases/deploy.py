"""Deploy chosen flows to one environment from the current checkout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from flowportal.usecases.applying import Outcome, check_pools, finish
from flowportal.usecases.ports import CheckoutReader
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deploy import DeployContext, deployment_names, plan_deploy, select_flows

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class DeployRequest:
    flows: tuple[str, ...]
    env: str
    branch: str | None = None
    commit: str | None = None
    package_version: str | None = None
    image: str | None = None
    dry_run: bool = False


def resolve_context(workspace: Workspace, request: DeployRequest, checkout: CheckoutReader) -> DeployContext:
    """Flags win (CI passes them); otherwise ask git and pyproject."""
    root = workspace.root
    return DeployContext(
        branch=request.branch or checkout.branch(root),
        commit=request.commit or checkout.commit(root),
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
    discovery.raise_for_collisions()
    for error in discovery.errors:
        reporter.warning(f"skipped {error}")
    flows = select_flows(discovery.flows, request.flows)
    context = resolve_context(workspace, request, deps.checkout)
    values = workspace.env_values(environment)
    target, gateway = deps.prefect(workspace, environment, reporter.step)

    names = deployment_names(flows, config.project, context.branch, environment)
    current = gateway.read_deployments(names=names)
    schemas = deps.schemas(workspace.root, [f.entrypoint for f in flows])
    plan = plan_deploy(flows, config, environment, context, values, schemas, current)
    pools = check_pools(plan, gateway, environment)
    for warning in plan.warnings:
        reporter.warning(warning)
    reporter.plan(plan)
    return finish(plan, gateway, target, reporter, pools, request.dry_run)
