"""Promote the code version deployed in one environment to the next (and `diff`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from flowportal.usecases.applying import Outcome, check_automations, check_pools, finish
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.arguments import as_flow_names, optional_name, required_name
from portal_core.plan import with_automations
from portal_core.promotion import plan_promotion, target_names
from portal_core.tags import PROJECT_NAME, make_tag

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class PromoteRequest:
    """What to promote; checked when built, so every entry point refuses bad input alike."""

    src: str = attrs.field(validator=required_name)
    dst: str = attrs.field(validator=required_name)
    flows: tuple[str, ...] = attrs.field(default=(), converter=as_flow_names)
    branch: str | None = attrs.field(default=None, validator=optional_name)
    force: bool = False
    dry_run: bool = False
    adopt: bool = False  # take over same-named deployments of unknown origin in dst


def promote(
    workspace: Workspace,
    request: PromoteRequest,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> Outcome:
    """Validate all, plan, show, apply. Nothing is written unless the whole plan is valid."""
    reporter = reporter or SilentReporter()
    config = workspace.config
    source_env = config.environment(request.src)
    target_env = config.environment(request.dst)
    branch = request.branch or deps.checkout.branch(workspace.root)

    _, source = deps.prefect(workspace, source_env, reporter.step)
    target, destination = deps.prefect(workspace, target_env, reporter.step)
    source_states = source.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    values = workspace.env_values(target_env)
    wanted_names = target_names(source_states, request.dst)
    target_states = (with_automations(*destination.read_for_plan(
        wanted_names, flow_names=sorted({s.flow_name for s in source_states}))) if wanted_names else [])
    plan = plan_promotion(config, request.src, request.dst, branch, list(request.flows),
                          source_states, target_states, values, request.force, request.adopt)
    pools = check_pools(plan, destination, target_env) if not request.dry_run else []
    check_automations(plan, target)
    history = deps.history(destination, target, config.writes_at_once(target.embedded))
    return finish(plan, destination, target, reporter, pools, request.dry_run, history=history)


def diff(
    workspace: Workspace,
    request: PromoteRequest,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> Outcome:
    """The promotion plan without the apply (exit 0 when equal, 2 when they differ).

    Comparing is allowed across any two environments, on or off the path.
    """
    return promote(workspace, attrs.evolve(request, force=True, dry_run=True), deps, reporter)
