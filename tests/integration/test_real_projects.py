"""What makes flowportal safe on a real project, against a real local Prefect server.

A workspace where acme-portal-sdk already deployed (flow names in underscore
form, its tags, active crons) must end with exactly one deployment per name;
flows that share a name in two files are listed, not fatal; a deploy from a
modified checkout says so and is never recorded as the clean commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowportal import Portal
from portal_core.errors import PlanError
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import commit_all, make_project

pytestmark = pytest.mark.integration

STATIC = 'hello_world:\n    cron: "0 6 * * *"\n    work_pool_name: ecs-pool\n'


def sdk_deploy(url: str, project: str, env: str, *, tags: bool = True, flow: str = "hello_world",
               pool: str = "test-process") -> str:
    """A deployment as acme-portal-sdk makes it: flow `hello_world`, its four tags, an active cron."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.exceptions import ObjectAlreadyExists

    async def create() -> str:
        async with PrefectClient(url) as client:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            flow_id = await client.create_flow_from_name(flow)
            deployment_id = await client.create_deployment(
                flow_id=flow_id,
                name=f"{project}--main--hello-world--{env}",
                entrypoint="flows/hello_world.py:hello_world",
                work_pool_name=pool,
                version="main-0000001",
                tags=[f"PROJECT_NAME={project}", "BRANCH_NAME=main", "COMMIT_HASH=0000001",
                      "PACKAGE_VERSION=0.9.0"] if tags else ["made-by-hand"],
                schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron="0 6 * * *"), active=True)],
            )
            return str(deployment_id)

    return asyncio.run(create())


def all_named(url: str, name: str) -> list[Any]:
    return [s for s in PrefectGateway(url).read_deployments(names=[name]) if s.name == name]


def test_sdk_made_deployments_are_adopted_in_place_by_deploy_and_promote(
    tmp_path: Path, prefect_api_url: str
) -> None:
    project = make_project(tmp_path, prefect_api_url, ["hello_world"], static=STATIC)
    ids = {env: sdk_deploy(prefect_api_url, project, env) for env in ("dev", "uat")}
    portal = Portal(tmp_path)

    deployed = portal.deploy(["hello_world"], "dev")
    (change,) = deployed.plan.changes
    assert change.adopted_flow == "hello_world"
    promoted = portal.promote("dev", "uat")
    assert promoted.exit_code == 0

    for env in ("dev", "uat"):
        name = f"{project}--main--hello-world--{env}"
        (only,) = all_named(prefect_api_url, name)  # exactly one deployment per name
        assert only.id == ids[env]  # the SDK's deployment, updated in place: runs and history stay
        assert only.flow_name == "hello_world"
        assert only.version_tags is not None and only.version_tags.package_version == "1.0.0"
        assert [(s.cron, s.active) for s in only.schedules] == [("0 6 * * *", True)]  # one cron, once

    again = portal.deploy(["hello_world"], "dev")
    assert not again.plan.has_changes


def test_a_same_named_deployment_of_unknown_origin_stops_the_deploy(
    tmp_path: Path, prefect_api_url: str
) -> None:
    project = make_project(tmp_path, prefect_api_url, ["hello_world"])
    foreign = sdk_deploy(prefect_api_url, project, "dev", tags=False, flow="someone-elses")
    name = f"{project}--main--hello-world--dev"
    portal = Portal(tmp_path)

    with pytest.raises(PlanError) as refused:
        portal.deploy(["hello_world"], "dev")
    (problem,) = refused.value.problems
    assert name in problem and "'someone-elses'" in problem and "--adopt" in problem
    assert [s.id for s in all_named(prefect_api_url, name)] == [foreign]  # nothing written

    adopted = portal.deploy(["hello_world"], "dev", adopt=True)
    assert adopted.plan.changes[0].adopted_flow == "someone-elses"
    assert [s.id for s in all_named(prefect_api_url, name)] == [foreign]


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return subprocess.run([sys.executable, "-m", "flowportal.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_flows_sharing_a_key_are_listed_and_only_deploying_that_key_fails(
    tmp_path: Path, prefect_api_url: str
) -> None:
    make_project(tmp_path, prefect_api_url, ["other"])
    for group, line in (("a", 4), ("b", 7)):
        (tmp_path / "flows" / group).mkdir()
        padding = "\n" * (line - 4)
        (tmp_path / "flows" / group / "report.py").write_text(
            f"from prefect import flow\n{padding}\n\n@flow\ndef report() -> None:\n    pass\n")
    commit_all(tmp_path, "two flows named report")

    listed = cli(tmp_path, "list-flows", "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    marked = {r["source_relative"]: r["child_attributes"].get("key_collision") for r in records}
    assert marked["flows/other.py"] is None
    assert marked["flows/a/report.py"] == marked["flows/b/report.py"]
    assert {loc.split(":")[0] for loc in marked["flows/a/report.py"]} == {
        "flows/a/report.py", "flows/b/report.py"}
    assert cli(tmp_path, "list-flows", "--strict").returncode == 1

    refused = cli(tmp_path, "deploy", "--flow", "report", "--env", "dev", "--dry-run")
    assert refused.returncode == 1
    assert "flows/a/report.py" in refused.stderr and "flows/b/report.py" in refused.stderr
    assert "name=" in refused.stderr
    assert cli(tmp_path, "deploy", "--flow", "all", "--env", "dev", "--dry-run").returncode == 1
    assert cli(tmp_path, "deploy", "--flow", "other", "--env", "dev", "--dry-run").returncode == 2


def test_a_modified_checkout_deploys_as_dirty_and_is_not_promoted_without_force(
    tmp_path: Path, prefect_api_url: str
) -> None:
    project = make_project(tmp_path, prefect_api_url, ["tidy"])
    clean = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout.strip()
    (tmp_path / "notes.txt").write_text("untracked outside the flows root: not the deployed code\n")
    assert cli(tmp_path, "deploy", "--flow", "tidy", "--env", "dev", "--dry-run").stderr.count(
        "uncommitted") == 0
    with (tmp_path / "flows" / "tidy.py").open("a") as source:
        source.write("\n# edited, not committed\n")

    done = cli(tmp_path, "deploy", "--flow", "tidy", "--env", "dev")
    assert done.returncode == 0, done.stderr
    assert "uncommitted changes (flows/tidy.py)" in done.stderr
    (state,) = all_named(prefect_api_url, f"{project}--main--tidy--dev")
    assert f"COMMIT_HASH={clean}-dirty" in state.tags
    assert state.version.endswith(f"+{clean}-dirty")

    with pytest.raises(PlanError, match=r"uncommitted changes.*--force"):
        Portal(tmp_path).promote("dev", "uat")
    assert Portal(tmp_path).promote("dev", "uat", force=True).exit_code == 0
