"""Deploy and list against one real local Prefect server (SQLite), no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowportal import Portal
from portal_core.deployments import DeploymentSpec
from portal_core.errors import PlanError
from portal_core.plan import Action
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import commit_all, make_project, unique

pytestmark = pytest.mark.integration


def pause_in_ui(url: str, deployment_id: str) -> None:
    """What the UI's pause toggle does: one API call on the deployment."""
    import asyncio

    from prefect.client.orchestration import PrefectClient

    async def pause() -> None:
        async with PrefectClient(url) as client:
            await client.pause_deployment(deployment_id)

    asyncio.run(pause())


def read(url: str, name: str):  # type: ignore[no-untyped-def]
    (state,) = PrefectGateway(url).read_deployments(names=[name])
    return state


def test_deploy_creates_then_second_deploy_writes_nothing(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["alpha", "beta"],
                           static='alpha:\n    cron: "0 12 * * 1-5"\n    description: Alpha!\n'
                                  '    work_pool_name: ecs-pool\n    tags: [team=data]\n')
    portal = Portal(tmp_path)

    first = portal.deploy(["all"], "dev")
    assert [c.action for c in first.plan.changes] == [Action.CREATE, Action.CREATE]
    assert all(r.ok for r in first.results) and first.exit_code == 0

    name = f"{project}--main--alpha--dev"
    state = read(prefect_api_url, name)
    commit = state.version_tags.commit
    assert state.entrypoint == "flows/alpha.py:alpha"
    assert state.flow_name == "alpha"
    assert state.description == "Alpha!"
    assert state.work_pool_name == "test-process"  # the environment's pool wins
    assert {f"PROJECT_NAME={project}", "BRANCH_NAME=main", f"COMMIT_HASH={commit}",
            "PACKAGE_VERSION=1.0.0", "MANAGED_BY=flowportal", "team=data"} == set(state.tags)
    assert state.env_vars["DEPLOYMENT_NAME"] == name
    assert state.env_vars["APP_ENV"] == "dev"
    assert [s.cron for s in state.schedules] == ["0 12 * * 1-5"]
    assert state.parameter_schema and set(state.parameter_schema["properties"]) == {"count", "label"}
    assert state.pull_steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(tmp_path)

    second = portal.deploy(["all"], "dev")
    assert {c.action for c in second.plan.changes} == {Action.UNCHANGED}
    assert second.results == ()
    assert read(prefect_api_url, name).updated == state.updated  # nothing was written


def test_dry_run_writes_nothing_and_reports_pending(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["gamma"])
    outcome = Portal(tmp_path).deploy(["gamma"], "dev", dry_run=True)
    assert outcome.exit_code == 2 and outcome.results == ()
    assert PrefectGateway(prefect_api_url).read_deployments(
        names=[f"{project}--main--gamma--dev"]) == []


def test_feature_branch_gives_legal_name_and_exact_tag(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["delta"], branch="feature/x")
    outcome = Portal(tmp_path).deploy(["delta"], "dev")
    assert outcome.exit_code == 0
    state = read(prefect_api_url, f"{project}--feature-x--delta--dev")
    assert "BRANCH_NAME=feature/x" in state.tags

    # A branch that slugs alike must not silently take over feature/x's deployment.
    with pytest.raises(PlanError, match="feature/x"):
        Portal(tmp_path).deploy(["delta"], "dev", branch="feature-x")


def test_paused_in_ui_stays_paused(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["epsilon"])
    portal = Portal(tmp_path)
    portal.deploy(["epsilon"], "dev")
    name = f"{project}--main--epsilon--dev"
    state = read(prefect_api_url, name)
    pause_in_ui(prefect_api_url, state.id)
    assert read(prefect_api_url, name).paused is True

    (tmp_path / "flows" / "epsilon.py").write_text(
        (tmp_path / "flows" / "epsilon.py").read_text() + "\n# new commit\n")
    commit_all(tmp_path)
    outcome = portal.deploy(["epsilon"], "dev")
    assert [c.action for c in outcome.plan.changes] == [Action.UPDATE]
    after = read(prefect_api_url, name)
    assert after.paused is True and after.version != state.version


def test_prefect_cli_sees_the_deployment_with_its_tags(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["hello_world"])
    Portal(tmp_path).deploy(["hello_world"], "dev")
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "COLUMNS": "400"}
    name = f"{project}--main--hello-world--dev"
    listing = subprocess.run([sys.executable, "-m", "prefect", "deployment", "ls"], env=env,
                             capture_output=True, text=True, check=True, timeout=120)
    assert f"hello-world/{name}" in listing.stdout
    inspect = subprocess.run(
        [sys.executable, "-m", "prefect", "deployment", "inspect", f"hello-world/{name}",
         "--output", "json"],
        env=env, capture_output=True, text=True, check=True, timeout=120)
    tags = json.loads(inspect.stdout)["tags"]
    for key in ("PROJECT_NAME", "BRANCH_NAME", "COMMIT_HASH", "PACKAGE_VERSION", "MANAGED_BY"):
        assert any(t.startswith(key + "=") for t in tags), key


def test_unknown_flow_env_or_missing_pool_fail_before_writing(tmp_path: Path, prefect_api_url: str) -> None:
    pool = unique("absent-pool")
    project = make_project(tmp_path, prefect_api_url, ["zeta"], pool=pool, create_pool=False)
    portal = Portal(tmp_path)
    with pytest.raises(PlanError, match="unknown flow 'zetta'; did you mean 'zeta'"):
        portal.deploy(["zetta"], "dev")
    with pytest.raises(Exception, match="unknown environment 'qa'"):
        portal.deploy(["zeta"], "qa")
    with pytest.raises(PlanError, match=f"work pool '{pool}' does not exist"):
        portal.deploy(["zeta"], "dev")
    assert PrefectGateway(prefect_api_url).read_deployments(
        names=[f"{project}--main--zeta--dev"]) == []


def test_listing_returns_every_deployment_past_one_page(tmp_path: Path, prefect_api_url: str) -> None:
    project = make_project(tmp_path, prefect_api_url, ["eta"])
    Portal(tmp_path).deploy(["eta"], "dev")  # creates the pool
    count = 230  # more than the server's 200-per-page maximum
    specs = [
        DeploymentSpec(
            name=f"{project}--bulk--flow-{i:03d}--dev", flow_name="bulk-flow",
            entrypoint="flows/eta.py:eta", version="1.0.0+abc",
            tags=(f"PROJECT_NAME={project}", "BRANCH_NAME=bulk", "COMMIT_HASH=abc",
                  "PACKAGE_VERSION=1.0.0", "MANAGED_BY=flowportal"),
            work_pool_name="test-process", paused=False, flow_key=f"flow_{i:03d}",
        )
        for i in range(count)
    ]
    results = PrefectGateway(prefect_api_url, write_concurrency=4).apply(specs)
    assert all(r.ok for r in results)

    listing = Portal(tmp_path).list_deployments(["dev"])
    ours = [m for m in listing.inventory.managed if m.name.branch == "bulk"]
    assert len(ours) == count
    records = listing.records()
    assert len([r for r in records if r["branch"] == "bulk"]) == count
    assert {"name", "project_name", "branch", "flow_name", "env", "commit_hash", "package_version",
            "tags", "id", "created_at", "updated_at", "flow_id", "url",
            "child_attributes"} <= set(records[0])
    # deployments of other projects on the same server are counted, not dropped
    assert listing.matrix.others == len(listing.inventory.others)


def test_unchanged_redeploy_reads_without_importing_prefect(tmp_path: Path, prefect_api_url: str) -> None:
    """Nothing to write means nothing to import: reads are plain HTTP, schemas cached."""
    make_project(tmp_path, prefect_api_url, ["theta", "iota"])
    Portal(tmp_path).deploy(["all"], "dev")
    probe = (
        "import sys\n"
        "from flowportal import Portal\n"
        "outcome = Portal('.').deploy(['all'], 'dev')\n"
        "print(outcome.plan.summary(), 'prefect' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == "0 to create, 0 to update, 2 unchanged False"
