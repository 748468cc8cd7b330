"""Roll one flow in one environment back to a code version recorded in its history.

The code version (entrypoint, version, tags, image, pull steps, parameter
schema) comes from the chosen record's applied spec, exactly as a promotion
takes it from a source deployment; the environment's own settings come from
today's config. The earlier version must still be readable: its commit in this
clone and its entrypoint a flow in that commit's source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from flowportal.usecases.applying import Outcome, check_automations, check_pools, finish
from flowportal.usecases.history import history_for
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deployments import DeployedState
from portal_core.discovery import parse_flows
from portal_core.environment import missing_secret_problems
from portal_core.errors import PlanError
from portal_core.history import (
    ChangeRecord,
    place_for,
    records_of,
    rollback_target,
    state_from_applied,
)
from portal_core.names import DeploymentName, normalize_flow_key, slugify
from portal_core.plan import make_plan, with_automations
from portal_core.promotion import promoted_spec
from portal_core.tags import PROJECT_NAME, make_tag

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class RollbackRequest:
    env: str
    flow: str
    to_commit: str | None = None
    steps: int = 1
    branch: str | None = None
    dry_run: bool = False


def entrypoint_problem(workspace: Workspace, record: ChangeRecord) -> str | None:
    """Why the record's code version cannot be re-applied from this clone, if it cannot."""
    from portal_io.git import file_at

    after = record.after
    entrypoint = (record.applied or {}).get("entrypoint") or ""
    path, _, function = entrypoint.rpartition(":")
    if not after or not after.commit or not path or not function:
        return f"the record of {record.deployment} at {record.when} has no commit or entrypoint"
    text = file_at(workspace.root, after.commit, path)
    if text is None:
        return (f"{path} at commit {after.commit} is not in this clone (git fetch, or the file "
                f"was never committed); refusing to roll back to code that cannot be read")
    if not any(f.function_name == function for f in parse_flows(path, text).flows):
        return f"{entrypoint} is not a flow at commit {after.commit}; refusing to roll back"
    return None


def _current_name(states: list[DeployedState], project: str, env: str, flow_key: str,
                  branch: str | None) -> str:
    """The one deployment of `flow_key` in `env` (of `branch` when given)."""
    wanted = (slugify(project, "project"), slugify(env, "environment"))
    names = sorted({s.name for s in states
                    if (p := DeploymentName.parse(s.name)) is not None
                    and (p.project, p.env) == wanted and p.flow_key == flow_key
                    and (branch is None or p.branch == slugify(branch, "branch"))})
    if len(names) == 1:
        return names[0]
    if names:
        raise PlanError([f"flow {flow_key!r} has deployments of several branches in {env!r} "
                         f"({', '.join(names)}); pass --branch"])
    if branch:  # deleted meanwhile: its history still names it
        return DeploymentName.build(project, branch, flow_key, env).format()
    raise PlanError([f"flow {flow_key!r} has no deployment in {env!r}; pass --branch to roll "
                     f"back one that was deleted"])


def rollback(
    workspace: Workspace,
    request: RollbackRequest,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> Outcome:
    reporter = reporter or SilentReporter()
    config = workspace.config
    environment = config.environment(request.env)
    flow_key = normalize_flow_key(request.flow)
    if not flow_key:
        raise PlanError(["--flow is required"])
    target, gw, store = history_for(workspace, environment, deps, reporter)
    states = gw.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    name = _current_name(states, config.project, request.env, flow_key, request.branch)
    chosen = rollback_target(records_of(store.scan(place_for(config.project, request.env))), name,
                             request.to_commit, request.steps)
    if (problem := entrypoint_problem(workspace, chosen)) is not None:
        raise PlanError([problem])
    assert chosen.applied is not None and chosen.after is not None
    source = state_from_applied(chosen.applied)
    values = workspace.env_values(environment)
    if problems := missing_secret_problems(environment, values):
        raise PlanError(problems)
    spec = promoted_spec(source, flow_key, config, chosen.after.branch or "", environment, values)
    current = with_automations([s for s in states if s.name == name], gw.read_automations())
    note = (f"rolling {name} back to {chosen.after.label()} "
            f"(applied {chosen.when} by {chosen.who})")
    plan = make_plan(request.env, [spec], current, warnings=[note])
    pools = check_pools(plan, gw, environment) if not request.dry_run else []
    check_automations(plan, target)
    reporter.step(note)
    return finish(plan, gw, target, reporter, pools, request.dry_run, verb="rollback", history=store)
