"""Promote the code version deployed in one environment to the next (and `diff`)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from flowportal.targets import connect
from flowportal.usecases.applying import Outcome, check_pools, finish
from flowportal.usecases.ports import DeploymentGateway
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.promotion import plan_promotion, target_names
from portal_core.tags import PROJECT_NAME, make_tag


@attrs.frozen
class PromoteRequest:
    src: str
    dst: str
    flows: tuple[str, ...] = ()
    branch: str | None = None
    force: bool = False
    dry_run: bool = False


def promote(
    workspace: Workspace,
    request: PromoteRequest,
    source_gateway: DeploymentGateway | None = None,
    target_gateway: DeploymentGateway | None = None,
    reporter: Reporter | None = None,
) -> Outcome:
    """Validate all, plan, show, apply. Nothing is written unless the whole plan is valid."""
    from portal_io import git

    reporter = reporter or SilentReporter()
    config = workspace.config
    config.environment(request.src)
    config.environment(request.dst)
    branch = request.branch or git.current_branch(workspace.root)

    _, source = connect(workspace, request.src, source_gateway, reporter.step)
    target, destination = connect(workspace, request.dst, target_gateway, reporter.step)
    source_states = source.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    values = workspace.env_values(request.dst)
    wanted_names = target_names(source_states, request.dst)
    target_states = destination.read_deployments(names=wanted_names) if wanted_names else []
    plan = plan_promotion(config, request.src, request.dst, branch, list(request.flows),
                          source_states, target_states, values, request.force)
    pools = check_pools(plan, destination, workspace) if not request.dry_run else []
    reporter.plan(plan)
    return finish(plan, destination, target, reporter, pools, request.dry_run)


def diff(
    workspace: Workspace,
    src: str,
    dst: str,
    flows: Sequence[str] = (),
    branch: str | None = None,
    force: bool = True,
    source_gateway: DeploymentGateway | None = None,
    target_gateway: DeploymentGateway | None = None,
) -> Outcome:
    """The promotion plan without the apply (exit 0 when equal, 2 when they differ)."""
    request = PromoteRequest(src=src, dst=dst, flows=tuple(flows), branch=branch, force=force,
                             dry_run=True)
    return promote(workspace, request, source_gateway, target_gateway)
