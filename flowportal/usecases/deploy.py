"""Deploy chosen flows to one environment from the current checkout."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from flowportal.targets import connect
from flowportal.usecases.applying import Outcome, check_pools, finish
from flowportal.usecases.ports import DeploymentGateway
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deploy import DeployContext, deployment_names, plan_deploy, select_flows
from portal_core.parameter_schema import SchemaResult

#: Entrypoints -> their parameter schema results (schema and warnings).
SchemaReader = Callable[[Path, Sequence[str]], Mapping[str, SchemaResult]]


@attrs.frozen
class DeployRequest:
    flows: tuple[str, ...]
    env: str
    branch: str | None = None
    commit: str | None = None
    package_version: str | None = None
    image: str | None = None
    dry_run: bool = False


def resolve_context(workspace: Workspace, request_branch: str | None, commit: str | None,
                    package_version: str | None, image: str | None) -> DeployContext:
    """Flags win (CI passes them); otherwise ask git and pyproject."""
    from portal_io import git
    from portal_io.project_files import read_pyproject

    branch = request_branch or git.current_branch(workspace.root)
    commit = commit or git.short_commit(workspace.root)
    version = package_version or read_pyproject(workspace.root).version or "0.0.0"
    return DeployContext(branch=branch, commit=commit, package_version=version,
                         project_root=str(workspace.root), image=image)


def _default_schemas(root: Path, entrypoints: Sequence[str]) -> Mapping[str, SchemaResult]:
    """Schemas read from each flow's source text: the flow's module is never imported or run."""
    from portal_io.flow_sources import read_parameter_schemas

    return read_parameter_schemas(root, entrypoints)


def deploy(
    workspace: Workspace,
    request: DeployRequest,
    gateway: DeploymentGateway | None = None,
    reporter: Reporter | None = None,
    schema_reader: SchemaReader = _default_schemas,
) -> Outcome:
    reporter = reporter or SilentReporter()
    config = workspace.config
    config.environment(request.env)  # unknown env fails before anything else
    discovery = workspace.discover()
    discovery.raise_for_collisions()
    for error in discovery.errors:
        reporter.warning(f"skipped {error}")
    flows = select_flows(discovery.flows, request.flows)
    context = resolve_context(workspace, request.branch, request.commit,
                              request.package_version, request.image)
    values = workspace.env_values(request.env)
    target, gateway = connect(workspace, request.env, gateway, reporter.step)

    names = deployment_names(flows, config.project, context.branch, request.env)
    current = gateway.read_deployments(names=names)
    read = schema_reader(workspace.root, [f.entrypoint for f in flows])
    for result in read.values():
        for warning in result.warnings:
            reporter.warning(warning)
    schemas = {entrypoint: result.schema for entrypoint, result in read.items()}
    plan = plan_deploy(flows, config, request.env, context, values, schemas, current)
    pools = check_pools(plan, gateway, workspace)
    for warning in plan.warnings:
        reporter.warning(warning)
    reporter.plan(plan)
    return finish(plan, gateway, target, reporter, pools, request.dry_run)
