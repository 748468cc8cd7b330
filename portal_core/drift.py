"""Drift: edits made to a deployment outside flowportal since it last applied it.

Three states of a deployment are in play: what flowportal last applied (from
the change record), what the server has now, and what today's config would
apply. *Drift* is the server differing from the last applied spec (someone
paused it in the UI, changed an env var through the API...); *pending* is
today's config differing from the last applied spec (a change not deployed
yet). They are reported apart because they call for opposite actions: drift
is undone or adopted, pending is deployed.

Fields are compared one by one on an "observable" view, so an edit to one env
var or one schedule's active flag names exactly that field. Secret env values
are never compared or shown (records keep them masked): only whether a secret
is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from portal_core.deployments import DeployedState, DeploymentFields
from portal_core.history import ChangeRecord, applied_spec
from portal_core.names import DeploymentName
from portal_core.plan import DEFAULT_WORK_QUEUE, REDACTED, FieldChange

PRESENT = "<set>"

#: Fields compared as a whole; env vars, job variables, parameters and schedules
#: are compared per entry (see `observable`).
WHOLE_FIELDS = ("description", "entrypoint", "version", "work_pool_name", "work_queue_name",
                "paused", "concurrency_limit", "pull_steps")


def observable(applied: Mapping[str, Any], secret_names: Iterable[str] = ()) -> dict[str, Any]:
    """An applied-spec JSON (see `history.applied_spec`) as `field -> comparable value`."""
    secrets = frozenset(secret_names) | frozenset(applied.get("secret_names") or ())
    view: dict[str, Any] = {}
    for field in WHOLE_FIELDS:
        view[field] = applied.get(field)
    view["work_queue_name"] = view["work_queue_name"] or DEFAULT_WORK_QUEUE
    view["paused"] = bool(view["paused"])
    view["description"] = view["description"] or ""
    view["pull_steps"] = list(view["pull_steps"] or [])
    view["tags"] = sorted(set(applied.get("tags") or ()))
    job_variables = dict(applied.get("job_variables") or {})
    env = job_variables.pop("env", None) or {}
    for key, value in job_variables.items():
        view[f"job_variables.{key}"] = value
    for key, value in (env.items() if isinstance(env, Mapping) else ()):
        view[f"env.{key}"] = PRESENT if key in secrets else value
    for key, value in (applied.get("parameters") or {}).items():
        view[f"parameters.{key}"] = value
    for index, schedule in enumerate(applied.get("schedules") or ()):
        view[f"schedules[{index}]"] = f"{schedule.get('cron')} ({schedule.get('timezone') or 'UTC'})"
        view[f"schedules[{index}].active"] = bool(schedule.get("active", True))
    return view


def _shown(field: str, value: Any, secrets: frozenset[str]) -> Any:
    if field.startswith("env.") and field[4:] in secrets and value is not None:
        return REDACTED
    return value


def compare(applied: Mapping[str, Any], other: DeploymentFields | Mapping[str, Any],
            secret_names: Iterable[str] = ()) -> tuple[FieldChange, ...]:
    """Every observable field where `other` differs from `applied` (before = applied)."""
    secrets = frozenset(secret_names) | frozenset(applied.get("secret_names") or ())
    other_json = other if isinstance(other, Mapping) else applied_spec(other, secrets)
    old, new = observable(applied, secrets), observable(other_json, secrets)
    changes = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) != new.get(field):
            changes.append(FieldChange(field, _shown(field, old.get(field), secrets),
                                       _shown(field, new.get(field), secrets)))
    return tuple(changes)


@attrs.frozen
class DeploymentDrift:
    """One managed deployment: drift (server vs last applied) and pending (config vs it)."""

    name: str
    flow_key: str
    status: str  # "ok", "drift", "deleted" (gone from the server), "unrecorded"
    drift: tuple[FieldChange, ...] = ()
    pending: tuple[FieldChange, ...] = ()
    last_change: str | None = None  # when flowportal last applied it
    deployment_id: str | None = None
    updated: str | None = None

    @property
    def drifted(self) -> bool:
        return self.status in ("drift", "deleted")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flow": self.flow_key,
            "status": self.status,
            "drift": [{"field": f.field, "applied": f.before, "now": f.after} for f in self.drift],
            "pending": [{"field": f.field, "applied": f.before, "config": f.after}
                        for f in self.pending],
            "last_change": self.last_change,
            "id": self.deployment_id,
        }


@attrs.frozen
class DriftReport:
    env: str
    deployments: tuple[DeploymentDrift, ...]

    @property
    def drifted(self) -> tuple[DeploymentDrift, ...]:
        return tuple(d for d in self.deployments if d.drifted)

    @property
    def exit_code(self) -> int:
        """0 no drift (pending changes alone are not drift), 2 drift found."""
        return 2 if self.drifted else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "deployments": [d.to_json() for d in self.deployments],
            "drifted": len(self.drifted),
            "pending": sum(1 for d in self.deployments if d.pending),
            "exit_code": self.exit_code,
        }


def assess(
    env: str,
    states: Iterable[DeployedState],
    latest: Mapping[str, ChangeRecord],
    config_specs: Mapping[str, DeploymentFields] | None = None,
) -> DriftReport:
    """Judge each deployment against its latest record.

    `states` are the managed deployments now on the server; `latest` the newest
    record per deployment name; `config_specs` what today's config would apply
    per name (for the pending column). A deployment whose newest record is an
    applied change but which is gone from the server was deleted outside
    flowportal; one without records is "unrecorded" (not judged).
    """
    config_specs = config_specs or {}
    found = []
    by_name = {s.name: s for s in states}
    for name in sorted(set(by_name) | set(latest)):
        state, record = by_name.get(name), latest.get(name)
        parsed = DeploymentName.parse(name)
        flow_key = parsed.flow_key if parsed else ""
        if record is None or record.applied is None:
            if state is None:
                continue  # pruned by flowportal: nothing to judge
            found.append(DeploymentDrift(name, flow_key, "unrecorded", deployment_id=state.id,
                                         updated=state.updated))
            continue
        spec = config_specs.get(name)
        pending = compare(record.applied, spec) if spec is not None else ()
        if state is None:
            found.append(DeploymentDrift(name, flow_key, "deleted", pending=pending,
                                         last_change=record.when))
            continue
        drift = compare(record.applied, state)
        found.append(DeploymentDrift(name, flow_key, "drift" if drift else "ok", drift, pending,
                                     record.when, state.id, state.updated))
    return DriftReport(env, tuple(found))
