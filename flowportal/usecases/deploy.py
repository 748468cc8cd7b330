"""Deploy chosen flows to one environment from the current checkout."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from flowportal.targets import ApiTarget, gateway_for, resolve_api
from flowportal.usecases.ports import DeploymentGateway
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deploy import DeployContext, deployment_names, plan_deploy, select_flows
from portal_core.environment import pools_to_create
from portal_core.errors import PlanError
from portal_core.plan import Plan
from portal_core.urls import deployment_url
from portal_io.prefect_gateway import ApplyResult

SchemaReader = Callable[[Path, Sequence[str]], Mapping[str, Any]]


@attrs.frozen
class DeployRequest:
    flows: tuple[str, ...]
    env: str
    branch: str | None = None
    commit: str | None = None
    package_version: str | None = None
    image: str | None = None
    dry_run: bool = False


@attrs.frozen
class Outcome:
    """A plan and what applying it did (nothing, for a dry run)."""

    plan: Plan
    results: tuple[ApplyResult, ...] = ()
    applied: bool = False
    urls: Mapping[str, str] = attrs.Factory(dict)

    @property
    def failed(self) -> tuple[ApplyResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def exit_code(self) -> int:
        """0 done / nothing to do, 1 a write failed, 2 dry run with changes pending."""
        if self.failed:
            return 1
        if not self.applied and self.plan.has_changes:
            return 2
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "applied": self.applied,
            "results": [
                {
                    "name": r.name,
                    "flow": r.flow_key,
                    "ok": r.ok,
                    "id": r.deployment_id,
                    "url": self.urls.get(r.name),
                    "error": r.error,
                }
                for r in self.results
            ],
            "exit_code": self.exit_code,
        }


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


def _default_schemas(root: Path, entrypoints: Sequence[str]) -> Mapping[str, Any]:
    from portal_io.prefect_gateway import parameter_schemas

    return parameter_schemas(root, entrypoints)


def apply_plan(
    plan: Plan,
    gateway: DeploymentGateway,
    target: ApiTarget,
    reporter: Reporter,
    pools: list[tuple[str, str]],
) -> Outcome:
    for name, pool_type in pools:
        reporter.step(f"creating work pool {name!r} ({pool_type})")
        gateway.create_work_pool(name, pool_type)
    results = gateway.apply([c.spec for c in plan.pending], on_done=reporter.applied)
    urls = {
        r.name: deployment_url(target.url, r.deployment_id, target.ui_url)
        for r in results
        if r.ok and r.deployment_id
    }
    for change in plan.changes:
        if not change.pending and change.current is not None:
            urls[change.name] = deployment_url(target.url, change.current.id, target.ui_url)
    return Outcome(plan=plan, results=tuple(results), applied=True, urls=urls)


def check_pools(
    plan: Plan, gateway: DeploymentGateway, workspace: Workspace
) -> list[tuple[str, str]]:
    """Pools the plan needs: missing ones are created if allowed, else the plan fails."""
    needed = {c.spec.work_pool_name for c in plan.pending}
    if not needed:
        return []
    env = workspace.config.environment(plan.env)
    create, problems = pools_to_create(plan.env, env, gateway.missing_work_pools(needed))
    if problems:
        raise PlanError(problems)
    return create


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
    target = ApiTarget(gateway.api_url) if gateway is not None else resolve_api(workspace, request.env)
    gateway = gateway or gateway_for(workspace, target)

    names = deployment_names(flows, config.project, context.branch, request.env)
    current = gateway.read_deployments(names=names)
    schemas = schema_reader(workspace.root, [f.entrypoint for f in flows])
    plan = plan_deploy(flows, config, request.env, context, values, schemas, current)
    pools = check_pools(plan, gateway, workspace)
    for warning in plan.warnings:
        reporter.warning(warning)
    reporter.plan(plan)
    if request.dry_run or not plan.has_changes:
        urls = {c.name: deployment_url(target.url, c.current.id, target.ui_url)
                for c in plan.changes if c.current is not None}
        return Outcome(plan=plan, applied=not request.dry_run, urls=urls)
    return apply_plan(plan, gateway, target, reporter, pools)
