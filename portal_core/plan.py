"""Plans: the pure decision of what to create, update or leave alone.

A plan is a value: it prints, serializes to JSON and is compared in tests;
applying it is the shell's job. Secret values never enter a plan's rendered
forms: a secret env var shows as changed, never with its value.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.automations import (
    AutomationWrite,
    OwnedAutomation,
    SeenAutomation,
    automation_writes,
    owned_after,
    owned_by,
)
from portal_core.deployments import DeployedState, DeploymentSpec
from portal_core.errors import PlanError
from portal_core.json_values import json_like
from portal_core.parameter_schema import describe_schema_changes

REDACTED = "<secret>"
DEFAULT_WORK_QUEUE = "default"


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@attrs.frozen
class FieldChange:
    """One field that differs; `before`/`after` are display values (secrets redacted).

    `note` replaces `before -> after` where the values are too big to show (a parameter
    schema): one short line saying what changed.
    """

    field: str
    before: Any
    after: Any
    note: str | None = None

    def render(self) -> str:
        if self.note is not None:
            return f"{self.field}: {self.note}"
        if self.before is None:
            return f"{self.field}: + {_show(self.after)}"
        if self.after is None:
            return f"{self.field}: - {_show(self.before)}"
        return f"{self.field}: {_show(self.before)} -> {_show(self.after)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return repr(value) if not isinstance(value, (list, dict, tuple)) else _compact(value)


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


@attrs.frozen
class Change:
    flow_key: str
    name: str
    action: Action
    spec: DeploymentSpec
    current: DeployedState | None = None
    fields: tuple[FieldChange, ...] = ()
    #: The deployment is taken over where it is, under this (other) flow name: one made
    #: by the seed SDK (underscore flow names) or by hand with --adopt.
    adopted_flow: str | None = None
    #: Requests that make the automations it owns match its triggers (after the upsert).
    automation_writes: tuple[AutomationWrite, ...] = ()

    @property
    def pending(self) -> bool:
        return self.action is not Action.UNCHANGED

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow_key,
            "name": self.name,
            "action": self.action.value,
            "version": self.spec.version,
            "adopted_flow": self.adopted_flow,
            "automations": [{"action": w.action, "name": w.name} for w in self.automation_writes],
            "fields": [
                {"field": f.field, "before": f.before, "after": f.after,
                 **({"note": f.note} if f.note is not None else {})}
                for f in self.fields
            ],
        }


@attrs.frozen
class Plan:
    """What a deploy or promote will do, for one target environment."""

    env: str
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()
    source_env: str | None = None

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.pending)

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    def summary(self) -> str:
        return (
            f"{self.count(Action.CREATE)} to create, {self.count(Action.UPDATE)} to update, "
            f"{self.count(Action.UNCHANGED)} unchanged"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "source_env": self.source_env,
            "changes": [c.to_json() for c in self.changes],
            "warnings": list(self.warnings),
            "summary": {a.value: self.count(a) for a in Action},
        }


# --------------------------------------------------------------------------- former secrets

_NOT_A_VALUE = (None, REDACTED, "<set>")


def shown_env_values(plan: Plan) -> dict[str, frozenset[str]]:
    """Per deployment, the env variables whose value on the server the plan would show.

    A variable that is not a secret now may have been one when it was last
    applied (moved from `secrets:` to `env:`): the server then holds a secret's
    value, and the diff's "before" must not print it. Only the history knows,
    so this says which variables need asking about (usually none).
    """
    found: dict[str, frozenset[str]] = {}
    for change in plan.changes:
        names = frozenset(f.field.removeprefix("env.") for f in change.fields
                          if f.field.startswith("env.") and f.before not in _NOT_A_VALUE
                          and f.field.removeprefix("env.") not in change.spec.secret_names)
        if names:
            found[change.name] = names
    return found


def without_former_secrets(plan: Plan, secrets: Mapping[str, Collection[str]]) -> Plan:
    """The plan with the server's value of each variable in `secrets` (per deployment)
    shown as a secret: what was applied as a secret stays one in every output."""
    def masked(change: Change) -> Change:
        names = secrets.get(change.name) or ()
        if not names:
            return change
        fields = tuple(attrs.evolve(f, before=REDACTED)
                       if f.field.startswith("env.") and f.field.removeprefix("env.") in names
                       and f.before not in _NOT_A_VALUE else f
                       for f in change.fields)
        return attrs.evolve(change, fields=fields)

    return attrs.evolve(plan, changes=tuple(masked(c) for c in plan.changes))


# --------------------------------------------------------------------------- diff


def _norm_queue(value: str | None) -> str:
    return value or DEFAULT_WORK_QUEUE


def _env_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], secrets: frozenset[str]
) -> list[FieldChange]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        secret = key in secrets
        shown_old = None if key not in before else ("<removed>" if key not in after else old)
        if secret and key in before:
            shown_old = REDACTED
        shown_new = None if key not in after else (REDACTED if secret else new)
        if key not in after:
            shown_old = REDACTED if secret else "<set>"
        changes.append(FieldChange(f"env.{key}", shown_old, shown_new))
    return changes


def _mapping_changes(
    prefix: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[FieldChange]:
    return [
        FieldChange(f"{prefix}.{key}", before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON; plain equality first, since it is what nearly every compare finds
    (a no-op re-deploy compares every field of every deployment)."""
    return bool(before == after) or json_like(before) == json_like(after)


def diff(spec: DeploymentSpec, state: DeployedState) -> tuple[FieldChange, ...]:
    """Every difference between a resolved spec (`paused` not None) and a state."""
    changes: list[FieldChange] = []

    def compare(field: str, before: Any, after: Any) -> None:
        if not _same(before, after):
            changes.append(FieldChange(field, json_like(before), json_like(after)))

    compare("flow_name", state.flow_name, spec.flow_name)
    compare("entrypoint", state.entrypoint, spec.entrypoint)
    compare("version", state.version, spec.version)
    compare("description", state.description, spec.description)
    old_tags, new_tags = set(state.tags), set(spec.tags)
    if old_tags != new_tags:
        changes.append(
            FieldChange("tags", sorted(old_tags - new_tags) or None, sorted(new_tags - old_tags) or None)
        )
    compare("work_pool_name", state.work_pool_name, spec.work_pool_name)
    compare("work_queue_name", _norm_queue(state.work_queue_name), _norm_queue(spec.work_queue_name))
    old_jv = {k: v for k, v in state.job_variables.items() if k != "env"}
    new_jv = {k: v for k, v in spec.job_variables.items() if k != "env"}
    if not _same(old_jv, new_jv):
        changes.extend(_mapping_changes("job_variables", json_like(old_jv), json_like(new_jv)))
    changes.extend(_env_changes(state.env_vars, spec.env_vars, spec.secret_names))
    if not _same(state.parameters, spec.parameters):
        changes.extend(_mapping_changes("parameters", json_like(state.parameters), json_like(spec.parameters)))
    if not _same(state.parameter_schema or {}, spec.parameter_schema or {}):
        changes.extend(
            FieldChange("parameter_schema", "<changed>", "<changed>", note=line)
            for line in describe_schema_changes(state.parameter_schema, spec.parameter_schema)
        )
    old_crons, new_crons = [s.cron for s in state.schedules], [s.cron for s in spec.schedules]
    compare("schedules", old_crons, new_crons)
    if old_crons == new_crons:
        compare("schedule_timezones", [s.timezone for s in state.schedules],
                [s.timezone for s in spec.schedules])
        compare("schedule_active", [s.active for s in state.schedules],
                [s.active for s in spec.schedules])
    compare("paused", state.paused, spec.paused)
    compare("concurrency_limit", state.concurrency_limit, spec.concurrency_limit)
    compare("pull_steps", list(state.pull_steps), list(spec.pull_steps))
    compare("enforce_parameter_schema", state.enforce_parameter_schema, spec.enforce_parameter_schema)
    return tuple(changes)


def resolve_paused(spec: DeploymentSpec, current: DeployedState | None) -> DeploymentSpec:
    """A deployment paused in the UI stays paused unless config says otherwise."""
    if spec.paused is not None:
        return spec
    return attrs.evolve(spec, paused=bool(current.paused) if current else False)


def resolve_schedules(spec: DeploymentSpec, current: DeployedState | None) -> DeploymentSpec:
    """A schedule switched off in the UI stays off while its cron and timezone are unchanged
    (config has no per-schedule switch, so the UI's choice is the only one there is)."""
    if current is None:
        return spec
    inactive = {(s.cron, s.timezone) for s in current.schedules if not s.active}
    if not inactive:
        return spec
    schedules = tuple(
        attrs.evolve(s, active=False) if (s.cron, s.timezone) in inactive else s
        for s in spec.schedules
    )
    return attrs.evolve(spec, schedules=schedules)


def plan_change(spec: DeploymentSpec, current: DeployedState | None) -> Change:
    resolved = resolve_schedules(resolve_paused(spec, current), current)
    writes = planned_automation_writes(resolved, current)
    if current is None:
        return Change(resolved.flow_key, resolved.name, Action.CREATE, resolved, automation_writes=writes)
    fields = (*diff(resolved, current), *(FieldChange("automations", None, None, note=w.describe())
                                          for w in writes))
    action = Action.UPDATE if fields else Action.UNCHANGED
    return Change(resolved.flow_key, resolved.name, action, resolved, current, fields, automation_writes=writes)


def planned_automation_writes(spec: DeploymentSpec, current: DeployedState | None) -> tuple[AutomationWrite, ...]:
    """A new deployment gets its automations; an existing one is compared with what it
    owns, when that was read (a verb that did not read them says nothing of them)."""
    if current is None:
        return automation_writes(spec.automations, ())
    if current.automations is None:
        return ()
    return automation_writes(spec.automations, current.automations)


def with_automations(states: Iterable[DeployedState], seen: Iterable[SeenAutomation]) -> list[DeployedState]:
    """States that say which automations each owns (every one: none is "not read" any more)."""
    by_target: dict[str, list[SeenAutomation]] = {}
    for automation in seen:
        for deployment_id in set(automation.runs):
            by_target.setdefault(deployment_id, []).append(automation)
    return [attrs.evolve(state, automations=owned_by(state.id, state.name, by_target.get(state.id, ())))
            for state in states]


def index_by_name(states: Iterable[DeployedState]) -> dict[str, DeployedState]:
    """Exact-name index. The Prefect filter is a prefix/wildcard match, so this is the
    exact filter; two deployments with one name under different flows keep the first."""
    index: dict[str, DeployedState] = {}
    for state in states:
        index.setdefault(state.name, state)
    return index


def group_by_name(states: Iterable[DeployedState]) -> dict[str, list[DeployedState]]:
    """Every deployment of each exact name (Prefect keys deployments by flow *and* name)."""
    groups: dict[str, list[DeployedState]] = {}
    for state in states:
        group = groups.setdefault(state.name, [])
        if all(other.id != state.id or not state.id for other in group):
            group.append(state)
    return groups


def _same_name_problem(name: str, group: Sequence[DeployedState]) -> str:
    flows = ", ".join(sorted(repr(s.flow_name) for s in group))
    return (f"{len(group)} deployments are named {name} (flows {flows}); delete all but one "
            f"(e.g. prefect deployment delete '<flow>/{name}') so exactly one remains")


def _unknown_origin_problem(name: str, existing: DeployedState) -> str:
    return (f"{name} already exists under flow {existing.flow_name!r} and carries no version tags "
            f"(not made by flowportal or acme-portal-sdk); pass --adopt to take it over in place, "
            f"or delete it")


def make_plan(
    env: str,
    specs: Sequence[DeploymentSpec],
    current: Iterable[DeployedState],
    warnings: Sequence[str] = (),
    source_env: str | None = None,
    adopt: bool = False,
) -> Plan:
    """Never two deployments with one name.

    Prefect keys deployments by (flow, name), so an upsert under our flow name
    would create a second deployment beside one of the same name under another
    flow, and both would run their schedules. A same-named deployment with
    version tags (made by the seed SDK, whose flow names are the underscore
    form, or by flowportal before a flow was renamed) is adopted: updated in
    place under the flow it already has, so its id, runs and history stay. One
    of unknown origin stops the plan unless `adopt` is set; several of one name
    always stop it.
    """
    groups = group_by_name(current)
    changes, problems = [], []
    for spec in specs:
        group = groups.get(spec.name, [])
        if len(group) > 1:
            problems.append(_same_name_problem(spec.name, group))
            continue
        existing = group[0] if group else None
        if existing is None or existing.flow_name == spec.flow_name:
            changes.append(plan_change(spec, existing))
            continue
        if existing.version_tags is None and not adopt:
            problems.append(_unknown_origin_problem(spec.name, existing))
            continue
        adopted = attrs.evolve(spec, flow_name=existing.flow_name)
        changes.append(attrs.evolve(plan_change(adopted, existing), adopted_flow=existing.flow_name))
    if problems:
        raise PlanError(problems)
    return Plan(env=env, changes=tuple(changes), warnings=tuple(warnings), source_env=source_env)


def state_after(change: Change, deployment_id: str = "", flow_id: str = "") -> DeployedState:
    """The state applying `change` produces (used by tests and by in-memory gateways)."""
    spec = change.spec
    fields = {a.name: getattr(spec, a.name) for a in attrs.fields(type(spec))
              if a.name not in ("flow_key", "secret_names", "automations")}
    current = change.current
    owned: tuple[OwnedAutomation, ...] = (current.automations or ()) if current else ()
    return DeployedState(
        **fields,
        id=current.id if current else deployment_id,
        flow_id=current.flow_id if current else flow_id,
        automations=owned_after(owned, change.automation_writes, new_id=f"{deployment_id}-automation-"),
    )
