"""`prune`: delete the deployments of branches (or flows) that no longer exist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from flowportal.usecases.history import current_actor, history_for, now_utc
from flowportal.usecases.ports import ApiTarget
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deployments import DeployedState
from portal_core.discovery import discover
from portal_core.errors import PlanError
from portal_core.history import prune_record
from portal_core.prune import PrunePlan, owned_branch, promoted_branches, select_prunable
from portal_core.tags import PROJECT_NAME, make_tag

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class PruneRequest:
    env: str
    branch: str | None = None  # prune this branch's deployments (it may still exist)
    dry_run: bool = False


@attrs.frozen
class PruneOutcome:
    plan: PrunePlan
    deleted: tuple[str, ...] = ()  # names
    problems: tuple[str, ...] = ()
    applied: bool = False
    history_error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 1
        if not self.applied and self.plan.has_changes:
            return 2
        return 0

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "applied": self.applied,
                "deleted": list(self.deleted), "problems": list(self.problems),
                "exit_code": self.exit_code}


def existing_branches(workspace: Workspace) -> dict[str, str]:
    """Branch -> the ref to read its tip from ("" when only the remote has it).

    Local branches plus every remote's branches as the remote reports them now;
    a remote that cannot be read stops the prune rather than making its
    branches look deleted.
    """
    from portal_io import git

    branches = dict(git.local_branches(workspace.root))
    for remote in git.remotes(workspace.root):
        try:
            for name, ref in git.remote_branches(workspace.root, remote).items():
                branches.setdefault(name, ref)
        except git.GitReadError as err:
            raise PlanError([f"cannot read the branches of git remote {remote!r} ({err}); "
                             f"prune refuses to guess which branches are gone"]) from None
    return branches


def flows_at(workspace: Workspace, ref: str) -> frozenset[str] | None:
    """Flow keys defined at a branch tip, by reading its files from git (never importing)."""
    from portal_io import git

    if not ref:
        return None
    root = workspace.config.flows_root
    prefix = root.strip("/").removeprefix("./") if root not in (".", "", "./") else ""
    try:
        files = git.python_files_at(workspace.root, ref, prefix)
    except git.GitReadError:
        return None
    return frozenset(discover(files, prefix).keys)


def _later_states(workspace: Workspace, env: str, target: ApiTarget, states: list[DeployedState],
                  deps: Dependencies, reporter: Reporter) -> tuple[list[str], list[DeployedState]]:
    """Deployments of the environments after `env` on the promotion path."""
    config = workspace.config
    path = list(config.promotion_path)
    later = path[path.index(env) + 1:] if env in path else []
    found = list(states)
    seen = {target.url}
    for other in later:
        other_target, other_gateway = deps.prefect(workspace, config.environment(other), reporter.step)
        if other_target.url in seen:
            continue
        seen.add(other_target.url)
        found += other_gateway.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    return later, found


def prune(
    workspace: Workspace,
    request: PruneRequest,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> PruneOutcome:
    reporter = reporter or SilentReporter()
    config = workspace.config
    env = request.env
    target, gw, store = history_for(workspace, config.environment(env), deps, reporter)
    states = gw.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    later, everywhere = _later_states(workspace, env, target, states, deps, reporter)
    protected = set(config.protected_branches) | promoted_branches(everywhere, config.project,
                                                                   later)
    if request.branch is not None:
        if request.branch in protected:
            raise PlanError([f"branch {request.branch!r} is protected (protected_branches in "
                             f"config/environments.yaml, or promoted beyond {env!r})"])
        existing: dict[str, str] = {}
        flows: dict[str, frozenset[str] | None] = {}
    else:
        existing = existing_branches(workspace)
        from portal_io.git import current_branch

        try:
            checkout = current_branch(workspace.root)
        except Exception:
            checkout = None
        owned = (owned_branch(s, config.project, env) for s in states)
        deployed = {o[0] for o in owned if o is not None}
        flows = {}
        for branch in deployed & set(existing):
            if branch == checkout:
                flows[branch] = frozenset(workspace.discover().keys)
            else:
                flows[branch] = flows_at(workspace, existing[branch])
    plan = select_prunable(states, config.project, env, protected, existing, flows,
                           only_branch=request.branch)
    if request.dry_run or not plan.has_changes:
        return PruneOutcome(plan, applied=not request.dry_run)
    for candidate in plan.candidates:
        reporter.step(f"deleting {candidate.state.name} ({candidate.reason}: {candidate.branch})")
    by_id = {c.state.id: c.state for c in plan.candidates}
    deleted_ids, problems = store.delete_deployments(list(by_id))
    deleted = [by_id[i] for i in deleted_ids if i in by_id]
    actor, when = current_actor(workspace.root), now_utc()
    history_problems = store.write([prune_record(s, when, actor) for s in deleted])
    history_error = None
    if history_problems:
        history_error = (f"the change history was not recorded for {len(history_problems)} "
                         f"pruned deployment(s): {history_problems[0]}")
        reporter.warning(history_error)
    return PruneOutcome(plan, tuple(sorted(s.name for s in deleted)), tuple(problems), True,
                        history_error)
