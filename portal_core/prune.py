"""Prune: which deployments of gone branches or gone flows to delete.

Every branch deploy leaves deployments behind (`proj--feature-x--flow--dev`);
nothing removes them when the branch is merged or the flow deleted. The
selection is deliberately narrow, because a wrong delete is not undoable:

* only deployments flowportal owns: `MANAGED_BY=flowportal`, this project's
  `PROJECT_NAME` tag, a name of our shape for this project and environment,
  and a `BRANCH_NAME` tag (the exact branch; names are lossy);
* never a protected branch (configured, default main/master, plus every
  branch that has reached a later environment on the promotion path);
* the branch is gone (neither a local nor a remote branch), or the branch
  exists and its tip no longer defines the flow. When a branch's source could
  not be read, its flows are kept: unknown is never "gone".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from portal_core.deployments import DeployedState
from portal_core.names import DeploymentName, slugify
from portal_core.tags import PROJECT_NAME, is_managed, tag_value

DEFAULT_PROTECTED = ("main", "master")
BRANCH_GONE = "branch gone"
FLOW_GONE = "flow gone"
NAMED = "branch named for pruning"


@attrs.frozen
class PruneCandidate:
    state: DeployedState
    branch: str
    flow_key: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.state.name, "id": self.state.id, "branch": self.branch,
                "flow": self.flow_key, "reason": self.reason,
                "version": self.state.version}


@attrs.frozen
class PrunePlan:
    env: str
    candidates: tuple[PruneCandidate, ...]
    kept: int  # owned deployments that stay
    protected: tuple[str, ...]

    @property
    def has_changes(self) -> bool:
        return bool(self.candidates)

    def to_json(self) -> dict[str, Any]:
        return {"env": self.env, "delete": [c.to_json() for c in self.candidates],
                "kept": self.kept, "protected": list(self.protected)}


def owned_branch(state: DeployedState, project: str, env: str) -> tuple[str, str] | None:
    """(branch, flow key) when flowportal owns `state` for this project and env, else None."""
    if not is_managed(state.tags) or tag_value(state.tags, PROJECT_NAME) != project:
        return None
    name = DeploymentName.parse(state.name)
    if name is None or name.project != slugify(project, "project"):
        return None
    if name.env != slugify(env, "environment"):
        return None
    version = state.version_tags
    if version is None or slugify(version.branch, "branch") != name.branch:
        return None  # tags and name disagree: not something to delete on our word
    return version.branch, name.flow_key


def select_prunable(
    states: Iterable[DeployedState],
    project: str,
    env: str,
    protected: Iterable[str],
    existing_branches: Iterable[str],
    flows_by_branch: Mapping[str, frozenset[str] | None],
    only_branch: str | None = None,
) -> PrunePlan:
    """The deployments to delete and why; see the module docstring for the rules.

    `flows_by_branch` maps an existing branch to the flow keys its tip defines
    (None: the source could not be read, so nothing of it is pruned for a gone
    flow). `only_branch` selects that one branch's deployments, whether or not it
    still exists (protected branches stay protected).
    """
    protected_set = frozenset(protected)
    existing = frozenset(existing_branches)
    candidates, kept = [], 0
    for state in sorted(states, key=lambda s: s.name):
        owned = owned_branch(state, project, env)
        if owned is None:
            continue
        branch, flow_key = owned
        reason = None
        if branch in protected_set or (only_branch is not None and branch != only_branch):
            reason = None
        elif only_branch is not None:
            reason = NAMED
        elif branch not in existing:
            reason = BRANCH_GONE
        else:
            flows = flows_by_branch.get(branch)
            if flows is not None and flow_key not in flows:
                reason = FLOW_GONE
        if reason is None:
            kept += 1
        else:
            candidates.append(PruneCandidate(state, branch, flow_key, reason))
    return PrunePlan(env, tuple(candidates), kept, tuple(sorted(protected_set)))


def promoted_branches(states: Iterable[DeployedState], project: str,
                      later_envs: Iterable[str]) -> frozenset[str]:
    """Branches with an owned deployment in a later environment of the promotion path:
    their code is what runs downstream, so their dev deployments are never pruned."""
    found = set()
    for env in later_envs:
        for state in states:
            owned = owned_branch(state, project, env)
            if owned is not None:
                found.add(owned[0])
    return frozenset(found)


def batches(ids: Iterable[str], size: int) -> list[list[str]]:
    items = list(ids)
    return [items[i:i + size] for i in range(0, len(items), max(1, size))]
