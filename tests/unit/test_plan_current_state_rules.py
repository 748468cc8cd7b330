"""Which deployed state a plan compares against, and what it keeps from it."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import deployment_specs

from portal_core.deployments import DeploymentSpec, Schedule
from portal_core.plan import Action, Change, make_plan, plan_change, state_after

SCHEDULES = st.lists(
    st.builds(Schedule, cron=st.sampled_from(["0 12 * * 1-5", "*/5 * * * *", "30 6 * * *"]),
              timezone=st.sampled_from(["UTC", "Europe/London"])),
    min_size=1, max_size=3, unique_by=lambda s: (s.cron, s.timezone),
)


@given(spec=deployment_specs(), schedules=SCHEDULES, data=st.data())
def test_a_schedule_switched_off_in_the_ui_stays_off(
    spec: DeploymentSpec, schedules: list[Schedule], data: st.DataObject
) -> None:
    spec = attrs.evolve(spec, schedules=tuple(schedules))
    deployed = state_after(plan_change(spec, None), "id-1", "flow-1")
    off = data.draw(st.sets(st.sampled_from(range(len(schedules))), min_size=1))
    in_ui = attrs.evolve(deployed, schedules=tuple(
        attrs.evolve(s, active=i not in off) for i, s in enumerate(deployed.schedules)))

    change = plan_change(spec, in_ui)
    assert change.action is Action.UNCHANGED
    assert [s.active for s in change.spec.schedules] == [i not in off for i in range(len(schedules))]


@given(spec=deployment_specs(), schedules=SCHEDULES)
def test_a_changed_schedule_is_active_again(spec: DeploymentSpec, schedules: list[Schedule]) -> None:
    spec = attrs.evolve(spec, schedules=tuple(schedules))
    deployed = state_after(plan_change(spec, None), "id-1", "flow-1")
    in_ui = attrs.evolve(deployed, schedules=tuple(
        attrs.evolve(s, active=False, cron="1 1 1 1 1") for s in deployed.schedules))
    change = plan_change(spec, in_ui)
    assert change.action is Action.UPDATE
    assert all(s.active for s in change.spec.schedules)


@given(spec=deployment_specs(), other_flow=st.text(min_size=1, max_size=8))
def test_same_name_under_another_flow_is_not_what_an_upsert_replaces(
    spec: DeploymentSpec, other_flow: str
) -> None:
    deployed = state_after(Change(spec.flow_key, spec.name, Action.CREATE, spec), "id-1", "f-1")
    elsewhere = attrs.evolve(deployed, flow_name=spec.flow_name + other_flow)

    plan = make_plan("dev", [spec], [elsewhere])
    assert [c.action for c in plan.changes] == [Action.CREATE]
    assert any(spec.name in w and "also exists" in w for w in plan.warnings)

    both = make_plan("dev", [spec], [elsewhere, deployed])
    assert both.changes[0].current == deployed
