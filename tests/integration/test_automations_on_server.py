"""Triggers of the static config, as automations on a real local Prefect server.

A trigger in the seed SDK's mapping form must become an automation owned by
its deployment that runs it; an unchanged re-deploy must write nothing; a
changed trigger is updated in place; a removed one is deleted; the automations
Prefect's own deploy made (the seed SDK's) are taken over, never doubled; and
the body we send stores exactly what Prefect's client stores.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowportal import Portal
from portal_core.automations import automation_body, automations_for, static_triggers
from portal_core.plan import Action
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import commit_all, make_project
from tests.support.server_api import api

pytestmark = pytest.mark.integration

SDK_TRIGGER = """\
alpha:
    work_pool_name: ecs-pool
    triggers:
      DeploymentEventTrigger:
        expect: [{event}]
        match: {{prefect.resource.id: "prefect.flow-run.*"}}
        within: 60
        parameters: {{n: 2}}
"""
DONE, FAILED = "prefect.flow-run.Completed", "prefect.flow-run.Failed"


def automations_running(url: str, deployment_id: str) -> list[dict[str, Any]]:
    """Every automation whose action runs this deployment, by name."""
    every = api(url, "POST", "/automations/filter", {"limit": 200})
    return sorted((a for a in every if any(x.get("deployment_id") == deployment_id for x in a["actions"])),
                  key=lambda a: a["name"])


def owned_ids(url: str, deployment_id: str) -> set[str]:
    """The automations the server counts as owned by the deployment: deleting "owned by"
    removes exactly those (used at the end of a test, it proves ownership)."""
    before = {a["id"] for a in automations_running(url, deployment_id)}
    api(url, "DELETE", f"/automations/owned-by/prefect.deployment.{deployment_id}")
    return before - {a["id"] for a in automations_running(url, deployment_id)}


def deployment_id(url: str, name: str) -> str:
    (state,) = PrefectGateway(url).read_deployments(names=[name])
    return state.id


def set_static(root: Path, text: str) -> None:
    (root / "config" / "static_flow_deploy_config.yaml").write_text(text)
    commit_all(root, "static config")


def test_an_sdk_trigger_becomes_an_owned_automation_and_converges(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["alpha"], static=SDK_TRIGGER.format(event=DONE))
    portal = Portal(tmp_path)
    name = f"{project}--main--alpha--dev"

    dry = portal.deploy(["alpha"], "dev", dry_run=True)
    assert [(w.action, w.name) for w in dry.plan.changes[0].automation_writes] == [
        ("create", f"{name}__automation_1")]
    assert dry.exit_code == 2

    first = portal.deploy(["alpha"], "dev")
    assert first.exit_code == 0, first.to_json()
    dep_id = deployment_id(prefect_api_url, name)
    (automation,) = automations_running(prefect_api_url, dep_id)
    assert automation["name"] == f"{name}__automation_1"
    assert automation["trigger"]["expect"] == [DONE]
    assert automation["trigger"]["match"] == {"prefect.resource.id": "prefect.flow-run.*"}
    assert automation["trigger"]["within"] == 60.0
    (action,) = automation["actions"]
    assert (action["type"], action["source"], action["parameters"]) == ("run-deployment", "selected", {"n": 2})

    again = portal.deploy(["alpha"], "dev")  # unchanged: no write of any kind
    assert [c.action for c in again.plan.changes] == [Action.UNCHANGED]
    assert again.results == () and again.exit_code == 0
    assert automations_running(prefect_api_url, dep_id) == [automation]

    set_static(tmp_path, SDK_TRIGGER.format(event=FAILED))
    portal = Portal(tmp_path)  # a facade reads its config once
    changed = portal.deploy(["alpha"], "dev")
    assert [(w.action, w.name) for w in changed.plan.changes[0].automation_writes] == [
        ("update", automation["name"])]
    assert any(f.field == "automations" and "changed" in (f.note or "") for f in changed.plan.changes[0].fields)
    (updated,) = automations_running(prefect_api_url, dep_id)
    assert updated["id"] == automation["id"] and updated["trigger"]["expect"] == [FAILED]
    assert owned_ids(prefect_api_url, dep_id) == {automation["id"]}  # still owned after the update

    portal.deploy(["alpha"], "dev")  # the owned one was deleted above: made again
    set_static(tmp_path, "alpha:\n    work_pool_name: ecs-pool\n")
    portal = Portal(tmp_path)
    removed = portal.deploy(["alpha"], "dev")
    assert [w.action for w in removed.plan.changes[0].automation_writes] == ["delete"]
    assert removed.exit_code == 0
    assert automations_running(prefect_api_url, dep_id) == []
    assert portal.deploy(["alpha"], "dev").results == ()


def test_automations_prefects_deploy_made_are_taken_over_and_hand_made_ones_left(
    tmp_path: Path, prefect_api_url: str
) -> None:
    """What the seed SDK left (Prefect's `flow.deploy(triggers=...)`) is replaced by ours in
    place, so a migration never doubles a trigger; an automation made by hand is not ours."""
    import asyncio

    from prefect.client.orchestration import PrefectClient
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    project = make_project(tmp_path, prefect_api_url, ["alpha"], static="alpha:\n    work_pool_name: ecs-pool\n")
    portal = Portal(tmp_path)
    assert portal.deploy(["alpha"], "dev").exit_code == 0
    name = f"{project}--main--alpha--dev"
    dep_id = deployment_id(prefect_api_url, name)

    async def as_prefect_deploys_them() -> None:
        async with PrefectClient(prefect_api_url) as client:
            trigger = DeploymentEventTrigger(expect=[DONE], name=f"{name}__automation_1")
            trigger.set_deployment_id(uuid.UUID(dep_id))
            await client.create_automation(trigger.as_automation())

    asyncio.run(as_prefect_deploys_them())
    by_hand = {"name": "page me when alpha runs",
               "trigger": {"type": "event", "expect": [DONE], "posture": "Reactive", "threshold": 1},
               "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": dep_id}]}
    hand_id = api(prefect_api_url, "POST", "/automations/", by_hand)["id"]
    sdk_made = next(a for a in automations_running(prefect_api_url, dep_id) if a["id"] != hand_id)

    set_static(tmp_path, SDK_TRIGGER.format(event=DONE))
    portal = Portal(tmp_path)
    taken = portal.deploy(["alpha"], "dev")
    assert [(w.action, w.automation_id) for w in taken.plan.changes[0].automation_writes] == [
        ("update", sdk_made["id"])]
    running = {a["id"]: a for a in automations_running(prefect_api_url, dep_id)}
    assert set(running) == {sdk_made["id"], hand_id}
    assert "MANAGED_BY=flowportal" in running[sdk_made["id"]]["tags"]
    assert running[hand_id]["tags"] == []
    assert portal.deploy(["alpha"], "dev").results == ()  # converged, the hand-made one untouched


def test_our_automation_body_stores_what_prefects_client_stores(tmp_path: Path, prefect_api_url: str) -> None:
    """The same trigger written by Prefect's client and by us reads back identical,
    but for the ids, the timestamps and our tags. (Metric triggers are Prefect Cloud's:
    the open-source server refuses them from either client, so they are compared in
    the unit tests against the client's own serialization.)"""
    import asyncio

    from prefect.client.orchestration import PrefectClient
    from prefect.events.schemas.deployment_triggers import (
        DeploymentCompoundTrigger,
        DeploymentEventTrigger,
    )

    project = make_project(tmp_path, prefect_api_url, ["alpha"], static="alpha:\n    work_pool_name: ecs-pool\n")
    assert Portal(tmp_path).deploy(["alpha"], "dev").exit_code == 0
    dep_id = deployment_id(prefect_api_url, f"{project}--main--alpha--dev")
    config = textwrap.dedent("""\
        - {type: event, name: e, expect: [a, b], after: [z], for_each: [prefect.resource.id],
           posture: Proactive, threshold: 3, within: PT5M, match_related: {prefect.resource.role: flow},
           description: d, parameters: {n: 1}, job_variables: {cpu: 1}, schedule_after: 30}
        - {type: compound, name: c, require: all, within: 120,
           triggers: [{expect: [x]}, {type: event, expect: [y], posture: Proactive, within: 20}]}
        """)
    import yaml

    ours = automations_for("unused", static_triggers(yaml.safe_load(config), ("alpha", "triggers")))
    theirs = [
        DeploymentEventTrigger(name="e", expect=["a", "b"], after=["z"], for_each=["prefect.resource.id"],
                               posture="Proactive", threshold=3, within=300,
                               match_related={"prefect.resource.role": "flow"}, description="d",
                               parameters={"n": 1}, job_variables={"cpu": 1}, schedule_after=30),
        DeploymentCompoundTrigger(name="c", require="all", within=120,
                                  triggers=[{"expect": ["x"]},
                                            {"type": "event", "expect": ["y"], "posture": "Proactive",
                                             "within": 20}]),
    ]

    async def create_theirs() -> list[str]:
        async with PrefectClient(prefect_api_url) as client:
            ids = []
            for trigger in theirs:
                trigger.set_deployment_id(uuid.UUID(dep_id))
                ids.append(str(await client.create_automation(trigger.as_automation())))
            return ids

    their_ids = asyncio.run(create_theirs())
    our_ids = [api(prefect_api_url, "POST", "/automations/", automation_body(spec, dep_id))["id"]
               for spec in ours]

    def stored(automation_id: str) -> dict[str, Any]:
        body = api(prefect_api_url, "GET", f"/automations/{automation_id}")
        for key in ("id", "created", "updated", "tags"):
            body.pop(key, None)
        return json.loads(json.dumps(body).replace(automation_id, "<id>"), object_hook=_without_ids)

    for theirs_id, ours_id in zip(their_ids, our_ids, strict=True):
        assert stored(ours_id) == stored(theirs_id)
    for automation_id in their_ids + our_ids:
        api(prefect_api_url, "DELETE", f"/automations/{automation_id}")


def _without_ids(item: dict[str, Any]) -> dict[str, Any]:
    """Trigger ids are random per write; sets (after/expect/for_each) compare unordered."""
    item.pop("id", None)
    return {k: sorted(v) if k in ("after", "expect", "for_each") and isinstance(v, list) else v
            for k, v in item.items()}
