"""The laws of plans: idempotence, completeness of the diff, secrecy, paused, counts.

A plan decides what deploy and promote write. If applying a plan and planning
again were not "nothing to do", every run would rewrite every deployment; if a
changed field went unreported, a deploy would silently not happen; if a secret
value reached a rendered form, it would be printed or committed in CI logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.examples import examples
from support.memory_gateway import InMemoryGateway
from support.strategies import (
    deployed_states,
    deployment_specs,
    env_keys,
    secret_values,
)

from flowportal.usecases.applying import Outcome
from portal_core.deployments import ApplyResult, DeployedState, DeploymentFields, DeploymentSpec, Schedule
from portal_core.plan import (
    REDACTED,
    Action,
    Change,
    FieldChange,
    Plan,
    diff,
    index_by_name,
    make_plan,
    plan_change,
    resolve_paused,
    shown_env_values,
    state_after,
    without_former_secrets,
)

unique_names = st.text(min_size=1, max_size=20)


def spec_from_state(state: DeployedState, **changes: Any) -> DeploymentSpec:
    """A spec carrying exactly the state's writable fields (then `changes`)."""
    fields = {a.name: getattr(state, a.name) for a in attrs.fields(DeploymentFields)}
    return DeploymentSpec(**{**fields, **changes}, flow_key="some_flow")


# --------------------------------------------------------------------------- idempotence


@given(deployment_specs())
def test_planning_against_the_state_a_create_produces_is_unchanged(spec: DeploymentSpec) -> None:
    change = plan_change(spec, None)
    assert change.action is Action.CREATE
    assert change.spec.paused is not None  # resolved before anything is written

    state = state_after(change, deployment_id="dep-1", flow_id="flow-1")

    assert diff(change.spec, state) == ()
    again = plan_change(spec, state)
    assert again.action is Action.UNCHANGED
    assert again.fields == ()
    assert again.current is state


@given(deployment_specs(), deployed_states())
def test_planning_after_applying_an_update_is_unchanged(
    spec: DeploymentSpec, before: DeployedState
) -> None:
    before = attrs.evolve(before, name=spec.name)
    change = plan_change(spec, before)
    after = state_after(change)

    assert after.id == before.id  # an update keeps the deployment's identity
    assert plan_change(spec, after).action is Action.UNCHANGED


@given(st.lists(deployment_specs(name=unique_names), unique_by=lambda s: s.name, max_size=4))
def test_apply_through_a_gateway_then_plan_again_writes_nothing(specs: list[DeploymentSpec]) -> None:
    gateway = InMemoryGateway()
    first = make_plan("dev", specs, gateway.read_deployments())
    assert first.count(Action.CREATE) == len(specs)

    results = gateway.apply([c.spec for c in first.pending])
    assert all(r.ok for r in results)
    assert sorted(gateway.writes) == sorted(s.name for s in specs)

    second = make_plan("dev", specs, gateway.read_deployments(names=[s.name for s in specs]))
    assert second.pending == ()
    assert second.count(Action.UNCHANGED) == len(specs)


# --------------------------------------------------------------------------- diff completeness


@given(deployed_states())
def test_a_spec_with_the_states_own_fields_has_no_diff(state: DeployedState) -> None:
    assert diff(spec_from_state(state), state) == ()


def _fresh(taken: Any, stem: str) -> str:
    """A value like `stem` that is not in `taken`."""
    n = 0
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


# Each mutation changes exactly one field, of the spec or of the state, and names
# the one FieldChange the diff must report.
Mutation = Callable[[DeployedState, DeploymentSpec], tuple[DeployedState, DeploymentSpec, str]]


def _spec(field: str, value: Callable[[DeploymentSpec], Any], reported: str | None = None) -> Mutation:
    def mutate(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
        return state, attrs.evolve(spec, **{field: value(spec)}), reported or field

    return mutate


def _job_var(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    key = _fresh(spec.job_variables, "zz_var")
    return state, attrs.evolve(spec, job_variables={**spec.job_variables, key: "v"}), f"job_variables.{key}"


def _env_added(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    key = _fresh(spec.env_vars, "ZZ_NEW_")
    env = {**spec.env_vars, key: "value"}
    return state, attrs.evolve(spec, job_variables={**spec.job_variables, "env": env}), f"env.{key}"


def _env_removed(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    key = _fresh(state.env_vars, "ZZ_OLD_")
    env = {**state.env_vars, key: "value"}
    return attrs.evolve(state, job_variables={**state.job_variables, "env": env}), spec, f"env.{key}"


def _env_changed(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    key = _fresh(spec.env_vars, "ZZ_SAME_")
    state = attrs.evolve(state, job_variables={**state.job_variables, "env": {**state.env_vars, key: "a"}})
    spec = attrs.evolve(spec, job_variables={**spec.job_variables, "env": {**spec.env_vars, key: "b"}})
    return state, spec, f"env.{key}"


def _parameter(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    key = _fresh(spec.parameters, "zz_param")
    return state, attrs.evolve(spec, parameters={**spec.parameters, key: 1}), f"parameters.{key}"


def _timezone(state: DeployedState, spec: DeploymentSpec) -> tuple[DeployedState, DeploymentSpec, str]:
    state = attrs.evolve(state, schedules=(Schedule("0 1 * * *", "UTC"),))
    spec = attrs.evolve(spec, schedules=(Schedule("0 1 * * *", "Asia/Tokyo"),))
    return state, spec, "schedule_timezones"


MUTATIONS: dict[str, Mutation] = {
    "flow_name": _spec("flow_name", lambda s: s.flow_name + "x"),
    "entrypoint": _spec("entrypoint", lambda s: s.entrypoint + "x"),
    "version": _spec("version", lambda s: s.version + "x"),
    "description": _spec("description", lambda s: s.description + "x"),
    "tags": _spec("tags", lambda s: (*s.tags, _fresh(s.tags, "zz-tag-"))),
    "work_pool_name": _spec("work_pool_name", lambda s: s.work_pool_name + "-x"),
    "work_queue_name": _spec("work_queue_name", lambda s: (s.work_queue_name or "default") + "-x"),
    "job_variables": _job_var,
    "env_added": _env_added,
    "env_removed": _env_removed,
    "env_changed": _env_changed,
    "parameters": _parameter,
    "parameter_schema": _spec(
        "parameter_schema", lambda s: {**(s.parameter_schema or {}), "zz_marker": True}
    ),
    "schedules": _spec("schedules", lambda s: (*s.schedules, Schedule("7 7 * * *"))),
    "schedule_timezones": _timezone,
    "paused": _spec("paused", lambda s: not s.paused),
    "concurrency_limit": _spec("concurrency_limit", lambda s: (s.concurrency_limit or 0) + 1),
    "pull_steps": _spec("pull_steps", lambda s: (*s.pull_steps, {"zz.step": {}})),
    "enforce_parameter_schema": _spec(
        "enforce_parameter_schema", lambda s: not s.enforce_parameter_schema
    ),
}


@examples(2)
@given(mutation=st.sampled_from(sorted(MUTATIONS)), state=deployed_states())
def test_any_single_changed_field_is_reported_and_nothing_else(mutation: str, state: DeployedState) -> None:
    state, spec, expected = MUTATIONS[mutation](state, spec_from_state(state))

    changes = diff(spec, state)

    assert [c.field for c in changes] == [expected]
    assert plan_change(spec, state).action is Action.UPDATE


PLAIN_STATE = DeployedState(
    name="p--main--f--dev", flow_name="f", entrypoint="flows/f.py:f", version="1+abc",
    tags=("PROJECT_NAME=p", "team=data"), work_pool_name="pool", job_variables={"env": {"A": "1"}},
    parameters={"n": 1}, schedules=(Schedule("0 12 * * 1-5"),), paused=False,
)


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_is_reported_on_a_plain_deployment(mutation: str) -> None:
    """Every mutation, at least once, whatever hypothesis happened to sample above."""
    state, spec, expected = MUTATIONS[mutation](PLAIN_STATE, spec_from_state(PLAIN_STATE))

    assert [c.field for c in diff(spec, state)] == [expected]


def test_tags_are_compared_as_sets_and_show_what_was_added_and_removed() -> None:
    state = DeployedState(name="d", flow_name="f", entrypoint="a.py:f", tags=("a", "b=1"), paused=False)
    spec = spec_from_state(state, tags=("b=1", "c"), paused=False)

    assert diff(spec, state) == (FieldChange("tags", ["a"], ["c"]),)
    assert diff(spec_from_state(state, tags=("b=1", "a")), state) == ()


def test_a_missing_work_queue_means_the_default_queue() -> None:
    state = DeployedState(name="d", flow_name="f", entrypoint="a.py:f", work_queue_name="default",
                          paused=False)
    assert diff(spec_from_state(state, work_queue_name=None), state) == ()


def test_field_change_renders_additions_removals_and_changes() -> None:
    assert FieldChange("version", "1+abc", "1+def").render() == "version: 1+abc -> 1+def"
    assert FieldChange("env.X", None, "1").render() == "env.X: + 1"
    assert FieldChange("env.X", "<set>", None).render() == "env.X: - <set>"
    assert FieldChange("description", "", "hi").render() == 'description: "" -> hi'
    assert FieldChange("tags", ["a"], None).render() == 'tags: - ["a"]'


# --------------------------------------------------------------------------- secrets


def _rendered(plan: Plan, spec: DeploymentSpec) -> str:
    """Every form a plan is shown or serialized in."""
    outcome = Outcome(plan=plan, results=(ApplyResult(spec.name, spec.flow_key, True, "id-1"),),
                      applied=True)
    parts = [
        *(f.render() for c in plan.changes for f in c.fields),
        json.dumps(plan.to_json(), ensure_ascii=False, default=str),
        json.dumps(plan.to_json(), default=str),
        json.dumps(outcome.to_json(), ensure_ascii=False, default=str),
        repr(plan),
        repr(spec),
        *(repr(c) for c in plan.changes),
        *(repr(c.spec) for c in plan.changes),
        plan.summary(),
    ]
    return "\n".join(parts)


def _with_env(value: DeploymentSpec | DeployedState, env: dict[str, str]) -> Any:
    return attrs.evolve(value, job_variables={**value.job_variables, "env": env})


@given(data=st.data())
def test_secret_values_never_appear_in_any_rendered_form(data: st.DataObject) -> None:
    secrets = data.draw(st.dictionaries(env_keys, secret_values, min_size=1, max_size=3), "secrets")
    spec = data.draw(deployment_specs(secrets=st.just(secrets)), "spec")
    # a secret configured but not set in this shell is absent from the spec's env
    unset = data.draw(st.sets(st.sampled_from(sorted(secrets))), "unset")
    spec = _with_env(spec, {k: v for k, v in spec.env_vars.items() if k not in unset})
    # the deployed state may hold older values of the same secrets
    state = data.draw(st.none() | deployed_states(name=st.just(spec.name)), "state")
    if state is not None:  # the deployment an upsert replaces: same name, same flow
        state = attrs.evolve(state, flow_name=spec.flow_name)
    old = data.draw(st.dictionaries(st.sampled_from(sorted(secrets)), secret_values), "old")
    if state is not None:
        state = _with_env(state, {**state.env_vars, **old})
    hidden = {*secrets.values(), *old.values()}

    def render(mask: bool) -> str:
        def masked(env: dict[str, str]) -> dict[str, str]:
            return {k: (f"masked-{k}" if mask and v in hidden else v) for k, v in env.items()}

        s = _with_env(spec, masked(dict(spec.env_vars)))
        current = [_with_env(state, masked(dict(state.env_vars)))] if state is not None else []
        return _rendered(make_plan("dev", [s], current), s)

    control = render(mask=True)
    # a value that also occurs elsewhere by chance (a description, a name) proves nothing
    assume(not any(value in control for value in hidden))

    text = render(mask=False)

    for value in hidden:
        assert value not in text
    if state is not None and any(spec.env_vars.get(k) != state.env_vars.get(k) for k in secrets):
        assert REDACTED in text  # the change is shown, only its value is not


def test_a_changed_secret_shows_as_redacted_on_both_sides() -> None:
    state = DeployedState(name="d", flow_name="f", entrypoint="a.py:f", paused=False,
                          job_variables={"env": {"TOKEN": "old-secret-value"}})
    spec = spec_from_state(state, job_variables={"env": {"TOKEN": "new-secret-value"}},
                           secret_names=frozenset({"TOKEN"}))

    assert diff(spec, state) == (FieldChange("env.TOKEN", REDACTED, REDACTED),)


# --------------------------------------------------------------------------- paused


@given(deployment_specs(), deployed_states())
def test_paused_in_the_ui_stays_paused_when_config_does_not_say(
    spec: DeploymentSpec, state: DeployedState
) -> None:
    state = attrs.evolve(state, name=spec.name, paused=True)
    change = plan_change(attrs.evolve(spec, paused=None), state)

    assert change.spec.paused is True
    assert "paused" not in [f.field for f in change.fields]


@given(deployment_specs(), deployed_states(), st.booleans(), st.booleans())
def test_explicit_paused_in_config_wins(
    spec: DeploymentSpec, state: DeployedState, configured: bool, in_ui: bool
) -> None:
    state = attrs.evolve(state, name=spec.name, paused=in_ui)
    change = plan_change(attrs.evolve(spec, paused=configured), state)

    assert change.spec.paused is configured
    assert ("paused" in [f.field for f in change.fields]) == (configured != in_ui)


@given(deployment_specs())
def test_a_new_deployment_is_unpaused_unless_config_pauses_it(spec: DeploymentSpec) -> None:
    assert resolve_paused(attrs.evolve(spec, paused=None), None).paused is False
    assert resolve_paused(attrs.evolve(spec, paused=True), None).paused is True


# --------------------------------------------------------------------------- counts


@given(data=st.data())
def test_make_plan_keeps_spec_order_and_counts_every_action(data: st.DataObject) -> None:
    specs = data.draw(
        st.lists(deployment_specs(name=unique_names), unique_by=lambda s: s.name, max_size=4), "specs"
    )
    kinds = data.draw(
        st.lists(st.sampled_from(list(Action)), min_size=len(specs), max_size=len(specs)), "kinds"
    )
    states = []
    for spec, kind in zip(specs, kinds, strict=True):
        applied = state_after(plan_change(spec, None), deployment_id=f"id-{spec.name}")
        if kind is Action.UNCHANGED:
            states.append(applied)
        elif kind is Action.UPDATE:
            states.append(attrs.evolve(applied, version=spec.version + "-old"))
    taken = {s.name for s in specs}
    others = data.draw(st.lists(deployed_states(name=unique_names.filter(lambda n: n not in taken)),
                                max_size=2), "others")
    current = data.draw(st.permutations([*states, *others]), "order")

    plan = make_plan("uat", specs, current, warnings=["w"], source_env="dev")

    assert [c.name for c in plan.changes] == [s.name for s in specs]
    assert [c.action for c in plan.changes] == kinds
    counts = {a: kinds.count(a) for a in Action}
    assert {a: plan.count(a) for a in Action} == counts
    assert plan.summary() == (f"{counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to update, "
                              f"{counts[Action.UNCHANGED]} unchanged")
    assert len(plan.pending) == counts[Action.CREATE] + counts[Action.UPDATE]
    assert plan.has_changes == bool(plan.pending)
    as_json = plan.to_json()
    assert as_json["summary"] == {a.value: n for a, n in counts.items()}
    assert as_json["env"] == "uat" and as_json["source_env"] == "dev"
    assert as_json["warnings"] == ["w"]
    for change in plan.changes:
        if change.action is Action.UPDATE:
            assert [f.field for f in change.fields] == ["version"]


def test_index_by_name_keeps_the_first_of_two_deployments_with_one_name() -> None:
    first = DeployedState(name="d", flow_name="f1", entrypoint="a.py:f", id="1")
    second = DeployedState(name="d", flow_name="f2", entrypoint="a.py:f", id="2")

    assert index_by_name([first, second]) == {"d": first}


# --------------------------------------------------------------------------- exit codes


def _plan(*actions: Action) -> Plan:
    spec = DeploymentSpec(name="d", flow_name="f", entrypoint="a.py:f", paused=False)
    return Plan("dev", tuple(
        plan_change(attrs.evolve(spec, name=f"d{i}"), None) if a is Action.CREATE else
        attrs.evolve(plan_change(attrs.evolve(spec, name=f"d{i}"), None), action=a)
        for i, a in enumerate(actions)
    ))


def test_exit_code_is_2_for_a_dry_run_with_pending_changes() -> None:
    outcome = Outcome(plan=_plan(Action.CREATE, Action.UNCHANGED), applied=False)
    assert outcome.exit_code == 2
    assert outcome.to_json()["exit_code"] == 2


def test_exit_code_is_0_for_a_dry_run_with_nothing_to_do() -> None:
    assert Outcome(plan=_plan(Action.UNCHANGED), applied=False).exit_code == 0
    assert Outcome(plan=_plan(), applied=False).exit_code == 0


def test_exit_code_is_0_when_everything_was_applied() -> None:
    results = (ApplyResult("d0", "f", True, "id"), ApplyResult("d1", "f", True, "id2"))
    assert Outcome(plan=_plan(Action.CREATE, Action.UPDATE), results=results, applied=True).exit_code == 0


def test_exit_code_is_1_when_any_write_failed() -> None:
    results = (ApplyResult("d0", "f", True, "id"), ApplyResult("d1", "f", False, error="boom"))
    outcome = Outcome(plan=_plan(Action.CREATE, Action.UPDATE), results=results, applied=True)

    assert outcome.exit_code == 1
    assert outcome.failed == (results[1],)
    assert [r["ok"] for r in outcome.to_json()["results"]] == [True, False]
    assert outcome.to_json()["results"][1]["error"] == "boom"


# --------------------------------------------------------------------------- former secrets

_VARS = ["A", "B", "C", "D"]
_shown_before = st.one_of(st.none(), st.sampled_from(["<secret>", "<set>"]), st.text(max_size=8))


@given(deployment_specs(), st.lists(st.tuples(st.sampled_from(_VARS), _shown_before, st.text(max_size=8)),
                                    unique_by=lambda t: t[0], max_size=4),
       st.sets(st.sampled_from(_VARS)), st.sets(st.sampled_from(_VARS)))
def test_only_values_of_former_secrets_are_masked_and_only_plain_ones_are_asked_about(
    spec: DeploymentSpec, env_fields: list[tuple[str, Any, str]], secret_now: set[str],
    former: set[str],
) -> None:
    spec = attrs.evolve(spec, secret_names=frozenset(secret_now))
    fields = (FieldChange("version", "1", "2"),
              *(FieldChange(f"env.{var}", before, after) for var, before, after in env_fields))
    plan = Plan("dev", (Change("k", spec.name, Action.UPDATE, spec, fields=fields),))
    values = {var for var, before, _ in env_fields if before not in (None, "<secret>", "<set>")}
    assert shown_env_values(plan).get(spec.name, frozenset()) == values - secret_now
    masked = without_former_secrets(plan, {spec.name: former})
    (change,) = masked.changes
    assert change.fields[0] == fields[0]  # not an env variable: untouched
    for before_f, after_f in zip(fields[1:], change.fields[1:], strict=True):
        var = before_f.field.removeprefix("env.")
        assert after_f.after == before_f.after and after_f.field == before_f.field
        if var in former and var in values:
            assert after_f.before == "<secret>"
        else:
            assert after_f.before == before_f.before
    assert without_former_secrets(plan, {}) == plan
