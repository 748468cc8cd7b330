"""Which deployed state a plan compares against, and what it keeps from it."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import deployment_specs

from portal_core.deployments import DeploymentSpec, Schedule
from portal_core.errors import PlanError
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


SDK_TAGS = ("PROJECT_NAME=acme", "BRANCH_NAME=main", "COMMIT_HASH=abc1234", "PACKAGE_VERSION=1.0")


@given(spec=deployment_specs(), other_flow=st.text(min_size=1, max_size=8))
def test_a_same_named_deployment_with_version_tags_is_adopted_in_place(
    spec: DeploymentSpec, other_flow: str
) -> None:
    """Never two deployments with one name: one the seed SDK made (another flow name,
    its version tags) is updated where it is, keeping its id and flow."""
    deployed = state_after(Change(spec.flow_key, spec.name, Action.CREATE, spec), "id-1", "f-1")
    sdk_made = attrs.evolve(deployed, flow_name=spec.flow_name + other_flow, tags=SDK_TAGS)

    (change,) = make_plan("dev", [spec], [sdk_made]).changes

    assert change.adopted_flow == sdk_made.flow_name
    assert change.current == sdk_made
    assert change.spec.flow_name == sdk_made.flow_name
    assert change.action is not Action.CREATE


@given(spec=deployment_specs(), other_flow=st.text(min_size=1, max_size=8))
def test_a_same_named_deployment_of_unknown_origin_stops_the_plan_unless_adopted(
    spec: DeploymentSpec, other_flow: str
) -> None:
    deployed = state_after(Change(spec.flow_key, spec.name, Action.CREATE, spec), "id-1", "f-1")
    by_hand = attrs.evolve(deployed, flow_name=spec.flow_name + other_flow, tags=("team=x",))

    with pytest.raises(PlanError) as refused:
        make_plan("dev", [spec], [by_hand])
    (problem,) = refused.value.problems
    assert spec.name in problem and "--adopt" in problem

    (change,) = make_plan("dev", [spec], [by_hand], adopt=True).changes
    assert change.adopted_flow == by_hand.flow_name and change.current == by_hand


@given(spec=deployment_specs(), other_flow=st.text(min_size=1, max_size=8))
def test_two_deployments_of_one_name_always_stop_the_plan(spec: DeploymentSpec, other_flow: str) -> None:
    deployed = state_after(Change(spec.flow_key, spec.name, Action.CREATE, spec), "id-1", "f-1")
    twin = attrs.evolve(deployed, id="id-2", flow_name=spec.flow_name + other_flow, tags=SDK_TAGS)

    for adopt in (False, True):
        with pytest.raises(PlanError) as refused:
            make_plan("dev", [spec], [twin, deployed], adopt=adopt)
        assert "2 deployments are named" in refused.value.problems[0]
