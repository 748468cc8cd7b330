"""Triggers -> automations: the laws of `portal_core.automations`.

The bodies are checked against Prefect's own client serialization of the same
trigger (Prefect is imported here, in the test, never by the product), the
plan's writes must converge in one apply, and config mistakes are one located line.
"""

from __future__ import annotations

import re
import textwrap
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowportal.workspace import STATIC_FLOWS_FILE
from portal_core.automations import (
    SDK_TRIGGER_CLASSES,
    AutomationSpec,
    OwnedAutomation,
    SeenAutomation,
    automation_body,
    automation_writes,
    automations_for,
    body_digest,
    duration,
    owned_after,
    owned_by,
    static_triggers,
)
from portal_core.config import build_static_flows
from portal_core.errors import ConfigError
from portal_io.yaml_files import load_yaml

DEPLOYMENT = "proj--main--alpha--dev"
DEPLOYMENT_ID = "00000000-0000-4000-8000-000000000001"

# --------------------------------------------------------------------------- strategies

labels = st.lists(st.sampled_from(["prefect.flow-run.Completed", "prefect.flow-run.Failed",
                                   "prefect.flow-run.*", "acme.file.arrived"]), max_size=3)
resource_specs = st.dictionaries(
    st.sampled_from(["prefect.resource.id", "prefect.resource.name", "prefect.resource.role"]),
    st.one_of(st.sampled_from(["prefect.flow-run.*", "x", "flow"]),
              st.lists(st.sampled_from(["a", "b", "c*"]), min_size=1, max_size=2)),
    max_size=2)
seconds = st.integers(min_value=0, max_value=86_400)


@st.composite
def event_triggers(draw: st.DrawFn, typed: bool = True) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": "event"} if typed or draw(st.booleans()) else {}
    posture = draw(st.sampled_from(["Reactive", "Proactive", None]))
    if posture is not None:
        trigger["posture"] = posture
    for key, strategy in (("expect", labels), ("after", labels), ("for_each", labels),
                          ("match", resource_specs), ("match_related", resource_specs),
                          ("threshold", st.integers(1, 5))):
        if draw(st.booleans()):
            trigger[key] = draw(strategy)
    if posture == "Proactive" or draw(st.booleans()):
        trigger["within"] = draw(st.integers(10, 3600) if posture == "Proactive" else seconds)
    return trigger


@st.composite
def deployment_triggers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["event", "metric", "compound", "sequence"]))
    if kind == "event":
        trigger = draw(event_triggers())
    elif kind == "metric":
        trigger = {"type": "metric", "metric": {
            "name": draw(st.sampled_from(["lateness", "duration", "successes"])),
            "threshold": draw(st.integers(0, 100) | st.floats(0, 100, allow_nan=False)),
            "operator": draw(st.sampled_from(["<", "<=", ">", ">="])),
            **({"range": draw(st.integers(300, 7200))} if draw(st.booleans()) else {}),
            **({"firing_for": draw(st.integers(300, 7200))} if draw(st.booleans()) else {}),
        }}
        if draw(st.booleans()):
            trigger["match"] = draw(resource_specs)
    else:
        inner = draw(st.lists(event_triggers(typed=False), min_size=1, max_size=3))
        trigger = {"type": kind, "triggers": inner}
        if draw(st.booleans()):
            trigger["within"] = draw(seconds)
        if kind == "compound":
            trigger["require"] = draw(st.sampled_from(["any", "all"]) | st.integers(1, len(inner)))
    if draw(st.booleans()):
        trigger["name"] = draw(st.sampled_from(["nightly", "on failure", "ñame"]))
    if draw(st.booleans()):
        trigger["enabled"] = draw(st.booleans())
    if draw(st.booleans()):
        trigger["description"] = draw(st.text(max_size=10))
    if draw(st.booleans()):
        trigger["parameters"] = draw(st.dictionaries(st.sampled_from("nm"), st.integers(0, 9), max_size=2))
    if draw(st.booleans()):
        trigger["schedule_after"] = draw(seconds)
    return trigger


def specs_of(triggers: list[dict[str, Any]]) -> tuple[AutomationSpec, ...]:
    return automations_for(DEPLOYMENT, static_triggers(triggers, ("alpha", "triggers")))


# --------------------------------------------------------------------------- Prefect's own body


def _sets_sorted(value: Any) -> Any:
    """Prefect keeps after/expect/for_each as sets: their order carries no meaning."""
    if isinstance(value, dict):
        return {k: sorted(v) if k in ("after", "expect", "for_each") else _sets_sorted(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_sets_sorted(v) for v in value]
    return value


@given(st.lists(deployment_triggers(), min_size=1, max_size=3))
def test_each_body_is_what_prefects_client_sends_for_the_same_trigger(triggers: list[dict[str, Any]]) -> None:
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    for index, (spec, raw) in enumerate(zip(specs_of(triggers), triggers, strict=True), start=1):
        theirs = adapter.validate_python(raw)
        theirs.name = theirs.name or f"{DEPLOYMENT}__automation_{index}"  # what Prefect's deploy does
        theirs.set_deployment_id(uuid.UUID(DEPLOYMENT_ID))
        expected = theirs.as_automation().model_dump(mode="json")
        ours = automation_body(spec, DEPLOYMENT_ID)
        assert ours.pop("tags") == ["MANAGED_BY=flowportal", f"SPEC_DIGEST={spec.digest}"]
        assert expected.pop("tags") == []
        assert _sets_sorted(ours) == _sets_sorted(expected)


@given(st.lists(deployment_triggers(), max_size=3))
def test_the_sdks_mapping_form_is_the_list_form(triggers: list[dict[str, Any]]) -> None:
    by_class = {name: kind for name, kind in SDK_TRIGGER_CLASSES.items()}
    unique = {t["type"]: t for t in triggers}  # a mapping holds one trigger per class
    mapping = {next(c for c, k in by_class.items() if k == kind): {k: v for k, v in t.items() if k != "type"}
               for kind, t in unique.items()}
    assert static_triggers(mapping, ("f", "triggers")) == static_triggers(list(unique.values()), ("f", "triggers"))


# --------------------------------------------------------------------------- plans


@st.composite
def current_automations(draw: st.DrawFn, wanted: tuple[AutomationSpec, ...]) -> list[OwnedAutomation]:
    """What a deployment may own: some wanted (same digest), some stale ours, some Prefect-made."""
    owned = []
    for index in range(draw(st.integers(0, 4))):
        source = draw(st.sampled_from(["wanted", "stale", "prefect"]) if wanted else st.sampled_from(
            ["stale", "prefect"]))
        if source == "wanted":
            spec = draw(st.sampled_from(wanted))
            owned.append(OwnedAutomation(f"id-{index}", spec.name, spec.digest))
        elif source == "stale":
            name = draw(st.sampled_from([s.name for s in wanted] + ["gone"]))
            owned.append(OwnedAutomation(f"id-{index}", name, f"stale{index:012d}"))
        else:
            owned.append(OwnedAutomation(f"id-{index}", f"{DEPLOYMENT}__automation_{index + 1}", None))
    return owned


@st.composite
def wanted_and_current(draw: st.DrawFn) -> tuple[tuple[AutomationSpec, ...], list[OwnedAutomation]]:
    wanted = specs_of(draw(st.lists(deployment_triggers(), max_size=3)))
    return wanted, draw(current_automations(wanted))


@given(wanted_and_current())
def test_one_apply_converges_and_a_second_plan_writes_nothing(
    case: tuple[tuple[AutomationSpec, ...], list[OwnedAutomation]]
) -> None:
    wanted, current = case
    writes = automation_writes(wanted, current)
    after = owned_after(current, writes, new_id="new-")
    assert automation_writes(wanted, after) == ()
    assert sorted(a.digest or "" for a in after) == sorted(s.digest for s in wanted)


@given(wanted_and_current())
def test_what_is_already_right_is_never_written(
    case: tuple[tuple[AutomationSpec, ...], list[OwnedAutomation]]
) -> None:
    wanted, current = case
    writes = automation_writes(wanted, current)
    touched = {w.automation_id for w in writes if w.automation_id}
    digests = [s.digest for s in wanted]
    kept = [a for a in current if a.id not in touched]
    for automation in kept:  # every untouched automation is a wanted one, once
        assert automation.digest in digests
        digests.remove(automation.digest)
    assert len(writes) <= len(wanted) + len(current)
    assert sum(w.action != "delete" for w in writes) == len(wanted) - len(kept)


def test_the_digest_ignores_key_order_and_container_types() -> None:
    body = {"name": "n", "trigger": {"expect": ["a"], "match": {"x": "y", "z": ["1"]}}}
    shuffled = {"trigger": {"match": {"z": ("1",), "x": "y"}, "expect": ("a",)}, "name": "n"}
    assert body_digest(body) == body_digest(shuffled)
    assert body_digest(body) != body_digest({**body, "name": "m"})


def test_ownership_is_ours_by_tag_prefects_by_name_and_never_a_hand_made_one() -> None:
    seen = [
        SeenAutomation("a", "anything", ("MANAGED_BY=flowportal", "SPEC_DIGEST=abc"), (DEPLOYMENT_ID,)),
        SeenAutomation("b", f"{DEPLOYMENT}__automation_2", (), (DEPLOYMENT_ID,)),
        SeenAutomation("c", "page me when alpha runs", (), (DEPLOYMENT_ID,)),
        SeenAutomation("d", f"{DEPLOYMENT}__automation_1", (), ("another-deployment",)),
        SeenAutomation("e", "runs two", ("MANAGED_BY=flowportal", "SPEC_DIGEST=abc"),
                       (DEPLOYMENT_ID, "another-deployment")),
    ]
    assert owned_by(DEPLOYMENT_ID, DEPLOYMENT, seen) == (
        OwnedAutomation("a", "anything", "abc"), OwnedAutomation("b", f"{DEPLOYMENT}__automation_2", None))


@given(st.text(max_size=12), st.sampled_from(["", "__automation_", "__automation", "_automation_"]),
       st.text(alphabet=st.sampled_from("0123456789x\u0661 _"), max_size=4))
def test_prefect_made_means_the_deployment_name_then_automation_then_a_number(
        name: str, middle: str, number: str) -> None:
    """Prefect's deploy names a deployment's n-th automation `<deployment>__automation_<n>`
    (the oracle: that rule as a pattern)."""
    candidate = f"{name}{middle}{number}"
    seen = [SeenAutomation("x", candidate, (), (DEPLOYMENT_ID,))]
    expected = re.fullmatch(re.escape(name) + r"__automation_\d+", candidate) is not None
    assert bool(owned_by(DEPLOYMENT_ID, name, seen)) == expected


def test_an_unchanged_trigger_keeps_its_automation_and_a_renamed_one_is_replaced() -> None:
    (spec,) = specs_of([{"expect": ["x"]}])
    assert automation_writes([spec], [OwnedAutomation("1", spec.name, spec.digest)]) == ()
    (renamed,) = specs_of([{"expect": ["x"], "name": "new name"}])
    writes = automation_writes([renamed], [OwnedAutomation("1", spec.name, spec.digest)])
    assert [(w.action, w.name) for w in writes] == [("create", "new name"), ("delete", spec.name)]


# --------------------------------------------------------------------------- config errors


def static_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "static.yaml"
    path.write_text(textwrap.dedent(text))
    doc = load_yaml(path, STATIC_FLOWS_FILE)
    with pytest.raises(ConfigError) as raised:
        build_static_flows(doc.data)
    return str(doc.error(raised.value))


@pytest.mark.parametrize(("text", "expected"), [
    ("""\
     alpha:
       triggers:
         DeploymentEventTrigger:
           expct: [a]
     """, "4:7: alpha.triggers.DeploymentEventTrigger.expct: unknown field 'expct' for an event trigger; "
          "did you mean 'expect'?"),
    ("""\
     alpha:
       triggers:
         DeploymentEventTriger: {}
     """, "3:5: alpha.triggers.DeploymentEventTriger: unknown trigger class 'DeploymentEventTriger'; "
          "did you mean 'DeploymentEventTrigger'? (known: DeploymentEventTrigger, DeploymentMetricTrigger, "
          "DeploymentCompoundTrigger, DeploymentSequenceTrigger)"),
    ("""\
     alpha:
       triggers:
         - type: event
           within: soon
     """, "4:7: alpha.triggers.0.within: expected a duration in seconds (e.g. 300) or ISO 8601 "
          "(e.g. PT5M), got 'soon'"),
    ("""\
     alpha:
       triggers:
         - type: compound
           require: 1
           triggers: [{expect: [a]}, {expect: [b], posture: Sideways}]
     """, "5:47: alpha.triggers.0.triggers.1.posture: posture of an event trigger must be Reactive or "
          "Proactive, not 'Sideways'"),
    ("""\
     alpha:
       triggers:
         - type: compound
           require: 3
           triggers: [{expect: [a]}, {expect: [b]}]
     """, "4:7: alpha.triggers.0.require: require must be 'any', 'all' or a number from 1 to 2"),
    ("""\
     alpha:
       triggers:
         - {type: metric, metric: {name: lateness, threshold: 1, operator: "=>"}}
     """, "alpha.triggers.0.metric.operator: metric operator must be one of <, <=, >, >="),
    ("""\
     alpha:
       triggers:
         - {posture: Proactive, within: 5}
     """, "alpha.triggers.0.within: a Proactive trigger needs within of at least 10 seconds"),
])
def test_a_bad_trigger_is_one_located_line(tmp_path: Path, text: str, expected: str) -> None:
    message = static_error(tmp_path, text)
    assert message.startswith(STATIC_FLOWS_FILE) and message.endswith(expected), message


@given(st.integers(0, 10**6), st.integers(0, 59), st.integers(0, 23))
def test_iso_durations_are_seconds(whole: int, minutes: int, hours: int) -> None:
    assert duration(whole, ()) == float(whole)
    assert duration(f"PT{hours}H{minutes}M", ()) == hours * 3600 + minutes * 60
    assert duration(f"P1DT{whole}S", ()) == 86400 + whole
    for bad in (-1, float("inf"), "P", "PT", "5 minutes", True, None):
        with pytest.raises(ConfigError):
            duration(bad, ())


def test_an_environment_gives_the_deployments_concurrency_limit_unless_the_flow_does() -> None:
    from portal_core.config import EnvironmentConfig, StaticFlowConfig, WorkPoolConfig
    from portal_core.environment import Environment, EnvValues, environment_settings

    env = Environment.build("dev", EnvironmentConfig(work_pool=WorkPoolConfig("p"), concurrency_limit=1))
    assert environment_settings(env, StaticFlowConfig(), "f", "n", EnvValues()).concurrency_limit == 1
    assert environment_settings(env, StaticFlowConfig(concurrency_limit=3), "f", "n",
                                EnvValues()).concurrency_limit == 3
    unlimited = attrs.evolve(env, config=attrs.evolve(env.config, concurrency_limit=None))
    assert environment_settings(unlimited, StaticFlowConfig(), "f", "n", EnvValues()).concurrency_limit is None


# --------------------------------------------------------------------------- through the use cases


def test_deploy_and_promote_give_each_environment_its_automations_and_rerun_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.demo_project import STATIC, demo_workspace, gateway, name, run_deploy, run_promote

    from flowportal.workspace import load_workspace

    demo_workspace(tmp_path, monkeypatch)
    (tmp_path / "config" / "static_flow_deploy_config.yaml").write_text(
        STATIC + "    triggers:\n      DeploymentEventTrigger: {expect: [acme.file.arrived]}\n")
    workspace = load_workspace(tmp_path)
    dev, uat = gateway("dev-pool"), gateway("uat-pool")

    first = run_deploy(workspace, dev, flows=["hello_world"])
    dev_id = dev.states[name("hello_world", "dev")].id
    assert dev.automation_log == [(dev_id, "create", f"{name('hello_world', 'dev')}__automation_1")]
    assert first.to_json()["plan"]["changes"][0]["automations"] == [
        {"action": "create", "name": f"{name('hello_world', 'dev')}__automation_1"}]

    again = run_deploy(workspace, dev, flows=["hello_world"])
    assert again.results == () and len(dev.automation_log) == 1

    run_promote(workspace, dev, uat, flows=["hello_world"])
    uat_id = uat.states[name("hello_world", "uat")].id
    (automation,) = uat.read_automations()
    assert automation.runs == (uat_id,) and automation.name == f"{name('hello_world', 'uat')}__automation_1"
    assert run_promote(workspace, dev, uat, flows=["hello_world"]).results == ()


def test_a_metric_trigger_is_refused_before_any_write_unless_the_target_is_prefect_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open-source server refuses metric triggers (from any client): say so before the
    deployment is written, not as a 422 after it."""
    from support.demo_project import STATIC, demo_workspace, gateway, run_deploy

    from flowportal.workspace import load_workspace
    from portal_core.errors import PlanError
    from portal_core.urls import is_prefect_cloud

    demo_workspace(tmp_path, monkeypatch)
    (tmp_path / "config" / "static_flow_deploy_config.yaml").write_text(STATIC + textwrap.indent(
        "triggers:\n  - type: compound\n    require: any\n    triggers:\n      - {expect: [a]}\n"
        "      - {type: metric, metric: {name: lateness, threshold: 5, operator: '>'}}\n", "    "))
    dev = gateway("dev-pool")
    with pytest.raises(PlanError) as refused:
        run_deploy(load_workspace(tmp_path), dev, flows=["hello_world"])
    assert "metric trigger, which only Prefect Cloud accepts" in str(refused.value)
    assert dev.attempts == [] and dev.automation_log == []

    assert is_prefect_cloud("https://api.prefect.cloud/api/accounts/a1/workspaces/w1")
    assert not is_prefect_cloud("http://127.0.0.1:4200/api")
