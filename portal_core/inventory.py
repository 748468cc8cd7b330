"""What is deployed: sorting deployments into ours and others, and the environment matrix."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.deployments import DeployedState
from portal_core.names import DeploymentName, slugify
from portal_core.tags import VersionTags


@attrs.frozen
class ManagedDeployment:
    name: DeploymentName
    state: DeployedState
    version: VersionTags | None  # None: our name shape but no version tags

    @property
    def commit(self) -> str | None:
        return self.version.commit if self.version else None

    @property
    def package_version(self) -> str | None:
        return self.version.package_version if self.version else None


@attrs.frozen
class Inventory:
    """All deployments read, split so that none is silently dropped."""

    managed: tuple[ManagedDeployment, ...]
    others: tuple[DeployedState, ...]  # other shapes or other projects: counted, shown with --all


def classify(states: Iterable[DeployedState], project: str) -> Inventory:
    project_slug = slugify(project, "project")
    managed, others = [], []
    for state in states:
        name = DeploymentName.parse(state.name)
        if name is None or name.project != project_slug:
            others.append(state)
        else:
            managed.append(ManagedDeployment(name, state, VersionTags.from_tags(state.tags)))
    managed.sort(key=lambda m: (m.name.flow, m.name.branch, m.name.env))
    return Inventory(tuple(managed), tuple(sorted(others, key=lambda s: s.name)))


def _instant(text: str) -> datetime.datetime | None:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def age_label(updated: str | None, now: str | None) -> str | None:
    """How long ago a deployment last changed, coarsely (`5m`, `3h`, `2d`); None if unknown."""
    if not updated or not now:
        return None
    then, current = _instant(updated), _instant(now)
    if then is None or current is None:
        return None
    seconds = max(0.0, (current - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "<1m"


@attrs.frozen
class Cell:
    deployment: ManagedDeployment
    differs: bool  # from the previous environment on the path that has this flow
    age: str | None = None  # since the deployment's last change (its `updated`)
    drifted: bool = False  # found edited outside flowportal, and unchanged since

    @property
    def label(self) -> str:
        d = self.deployment
        if d.version is None:
            return "(no version tags)"
        return f"{d.commit} / {d.package_version}"


@attrs.frozen
class MatrixRow:
    flow_key: str
    branch: str
    cells: tuple[Cell | None, ...]


@attrs.frozen
class Matrix:
    envs: tuple[str, ...]
    rows: tuple[MatrixRow, ...]
    others: int


def build_matrix(inventory: Inventory, path: Sequence[str], now: str | None = None,
                 drift_known: Mapping[str, str | None] | None = None) -> Matrix:
    """Rows = (flow, branch); columns = environments in promotion order, then any others.

    `now` (ISO time) gives each cell its age; `drift_known` maps deployment ids found
    drifted to their `updated` time then: the mark holds while the deployment is unchanged.
    """
    drift_known = drift_known or {}
    path_slugs = [slugify(env, "environment") for env in path]
    extra = sorted({m.name.env for m in inventory.managed} - set(path_slugs))
    columns = [*path_slugs, *extra]
    grouped: dict[tuple[str, str], dict[str, ManagedDeployment]] = {}
    for m in inventory.managed:
        grouped.setdefault((m.name.flow_key, m.name.branch), {})[m.name.env] = m
    rows = []
    for (flow_key, branch), by_env in sorted(grouped.items()):
        cells: list[Cell | None] = []
        previous: ManagedDeployment | None = None
        for env in columns:
            deployed = by_env.get(env)
            if deployed is None:
                cells.append(None)
                continue
            differs = previous is not None and (
                previous.commit, previous.package_version
            ) != (deployed.commit, deployed.package_version)
            state = deployed.state
            drifted = state.id in drift_known and drift_known[state.id] == state.updated
            cells.append(Cell(deployed, differs, age_label(state.updated, now), drifted))
            previous = deployed
        rows.append(MatrixRow(flow_key, branch, tuple(cells)))
    return Matrix(envs=tuple(columns), rows=tuple(rows), others=len(inventory.others))


def deployment_record(
    deployment: ManagedDeployment | DeployedState, url: Callable[[str], str]
) -> dict[str, Any]:
    """A deployment in the seed SDK's JSON shape (read by the acme-portal VSCode extension)."""
    if isinstance(deployment, ManagedDeployment):
        state, name, version = deployment.state, deployment.name, deployment.version
        identity: dict[str, Any] = {
            "project_name": version.project if version else name.project,
            "branch": version.branch if version else name.branch,
            "flow_name": name.flow_key,
            "env": name.env,
            "commit_hash": version.commit if version else None,
            "package_version": version.package_version if version else None,
        }
        managed = True
    else:
        state, managed = deployment, False
        identity = dict.fromkeys(
            ("project_name", "branch", "flow_name", "env", "commit_hash", "package_version")
        )
    return {
        "name": state.name,
        **identity,
        "tags": list(state.tags),
        "id": state.id,
        "created_at": state.created,
        "updated_at": state.updated,
        "flow_id": state.flow_id,
        "url": url(state.id),
        "child_attributes": {
            "managed": managed,
            "prefect_flow_name": state.flow_name,
            "entrypoint": state.entrypoint,
            "version": state.version,
            "work_pool_name": state.work_pool_name,
            "paused": state.paused,
            "image": state.image,
        },
    }
