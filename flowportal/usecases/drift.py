"""`drift`: edits made outside flowportal, apart from changes merely pending in config."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowportal.usecases.history import history_for
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.config import ProjectConfig
from portal_core.deployments import DeploymentFields
from portal_core.drift import DriftReport, assess
from portal_core.environment import Environment, EnvValues
from portal_core.errors import PlanError
from portal_core.history import ChangeRecord, in_scope, latest_records, place_for, state_from_applied
from portal_core.names import DeploymentName, normalize_flow_key
from portal_core.plan import resolve_paused, resolve_schedules
from portal_core.promotion import promoted_spec
from portal_core.tags import PROJECT_NAME, make_tag

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies

DRIFT_CACHE = "cache/drift.json"


@attrs.frozen
class DriftOutcome:
    report: DriftReport
    requests: int = 0  # to the history store (the deployment reads are not counted here)

    @property
    def exit_code(self) -> int:
        return self.report.exit_code

    def to_json(self) -> dict[str, Any]:
        return self.report.to_json()


def config_spec(record: ChangeRecord, config: ProjectConfig, env: Environment,
                values: EnvValues) -> DeploymentFields | None:
    """What today's config would apply to this deployment, keeping its recorded code version
    (so "pending" means settings not deployed yet, in any environment and for any branch)."""
    if record.applied is None or record.after is None or not record.after.branch:
        return None
    applied = state_from_applied(record.applied)
    parsed = DeploymentName.parse(record.deployment)
    if parsed is None:
        return None
    try:
        spec = promoted_spec(applied, parsed.flow_key, config, record.after.branch, env, values)
    except PlanError:
        return None
    spec = resolve_schedules(resolve_paused(spec, applied), applied)
    # A secret not set in this shell is unknown here, not removed.
    env_vars = dict(spec.env_vars)
    for name in spec.secret_names:
        if name not in env_vars and name in applied.env_vars:
            env_vars[name] = "<unknown>"
    return attrs.evolve(spec, job_variables={**spec.job_variables, "env": env_vars})


def drift(
    workspace: Workspace,
    env: str,
    flow: str | None,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> DriftOutcome:
    """Compare each managed deployment of `env` with the spec flowportal last applied."""
    reporter = reporter or SilentReporter()
    config = workspace.config
    environment = config.environment(env)
    flow_key = normalize_flow_key(flow) if flow else None
    _target, gw, store = history_for(workspace, environment, deps, reporter)
    states = gw.read_deployments(tags_all=[make_tag(PROJECT_NAME, config.project)])
    place = place_for(config.project, env)

    def ours(name: str) -> bool:
        return in_scope(name, *place, flow_key)

    states = [s for s in states if ours(s.name)]
    # The history is read until it has the newest record of every deployment its
    # manifest names: those with records, whether on the server, deleted since or
    # with their tags removed. One on the server that the manifest does not name has
    # no record to find (made before history was kept, or its record failed): it must
    # not make drift read the whole history. (Two applies racing to record can leave
    # a name out of the manifest: that deployment shows no record until it is applied
    # again, which names it again.)
    latest = latest_records(store.scan(place), ours, set(store.known(place)))
    # Someone may have removed our tags in the UI: that is drift (of `tags`), not a deletion.
    found = {s.name for s in states}
    untagged = sorted(n for n, r in latest.items() if n not in found and r.applied is not None)
    if untagged:
        states += [s for s in gw.read_deployments(names=untagged) if ours(s.name)]
    values = workspace.env_values(environment)
    specs = {}
    for name, record in latest.items():
        spec = config_spec(record, config, environment, values)
        if spec is not None:
            specs[name] = spec
    report = assess(env, states, latest, specs)
    _remember(workspace.state_dir, report)
    return DriftOutcome(report, store.requests)


def _remember(state_dir: Path, report: DriftReport) -> None:
    """Keep which deployments drifted, keyed by id and the `updated` time they were judged at:
    the environment matrix marks them until the deployment changes again."""
    from portal_io.json_files import read_json, write_json_atomic

    path = state_dir / DRIFT_CACHE
    known = read_json(path)
    known = known if isinstance(known, dict) else {}
    for item in report.deployments:
        if item.deployment_id is None:
            continue
        if item.drifted:
            known[item.deployment_id] = {"updated": item.updated,
                                         "fields": [f.field for f in item.drift]}
        else:
            known.pop(item.deployment_id, None)
    with contextlib.suppress(OSError):  # only a display hint
        write_json_atomic(path, known)


def known_drift(state_dir: Path) -> Mapping[str, str | None]:
    """Deployment id -> the `updated` time at which it was found drifted."""
    from portal_io.json_files import read_json

    known = read_json(state_dir / DRIFT_CACHE)
    if not isinstance(known, dict):
        return {}
    return {k: v.get("updated") for k, v in known.items() if isinstance(v, dict)}
