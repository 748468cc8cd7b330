"""Promotion between environments on a real local Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowportal import Portal
from portal_core.errors import PlanError
from portal_core.plan import Action
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import commit_all, make_project

pytestmark = pytest.mark.integration

FLOWS = ["ingest", "transform", "publish"]
STATIC = 'publish:\n    cron: "30 6 * * *"\n'


def states(url: str, project: str, env: str) -> dict[str, object]:
    names = [f"{project}--main--{f}--{env}" for f in FLOWS]
    return {s.name.split("--")[2]: s for s in PrefectGateway(url).read_deployments(names=names)}


def new_commit(root: Path) -> str:
    for flow in FLOWS:
        path = root / "flows" / f"{flow}.py"
        path.write_text(path.read_text() + "\n# change\n")
    return commit_all(root, "B")


@pytest.fixture
def project(tmp_path: Path, prefect_api_url: str) -> tuple[Path, str]:
    name = make_project(tmp_path, prefect_api_url, FLOWS, static=STATIC,
                        env_extra={"uat": "schedules: false\n"})
    return tmp_path, name


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowportal.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_promote_carries_code_version_and_keeps_target_settings(
    project: tuple[Path, str], prefect_api_url: str
) -> None:
    root, name = project
    portal = Portal(root)
    portal.deploy(["all"], "dev", image="registry.example/app:A")
    dev = states(prefect_api_url, name, "dev")

    outcome = portal.promote("dev", "uat")
    assert outcome.exit_code == 0
    assert {c.action for c in outcome.plan.changes} == {Action.CREATE}
    uat = states(prefect_api_url, name, "uat")
    assert set(uat) == set(FLOWS)
    for flow in FLOWS:
        source, target = dev[flow], uat[flow]
        assert target.version == source.version
        assert target.entrypoint == source.entrypoint
        assert target.version_tags == source.version_tags
        assert target.pull_steps == source.pull_steps
        assert target.parameter_schema == source.parameter_schema
        assert target.env_vars["APP_ENV"] == "uat" and "ONLY_IN_DEV" not in target.env_vars
        assert target.env_vars["DEPLOYMENT_NAME"] == f"{name}--main--{flow}--uat"
        assert target.work_pool_name == "test-process"
    # uat turns schedules off in its own config; dev keeps the flow's cron
    assert uat["publish"].schedules == () and dev["publish"].schedules != ()


def test_diff_then_promote_new_commit_then_nothing_left(
    project: tuple[Path, str], prefect_api_url: str
) -> None:
    root, name = project
    portal = Portal(root)
    portal.deploy(["all"], "dev")
    portal.promote("dev", "uat")
    commit_a = states(prefect_api_url, name, "uat")["ingest"].version_tags.commit

    commit_b = new_commit(root)
    portal.deploy(["all"], "dev")
    shown = cli(root, "diff", "--src", "dev", "--dst", "uat")
    assert shown.returncode == 2, shown.stderr
    for flow in FLOWS:
        assert f"{name}--main--{flow}--uat" in shown.stdout
    assert f"1.0.0+{commit_a} -> 1.0.0+{commit_b}" in shown.stdout
    assert shown.stdout.count("~ update") == 3

    assert cli(root, "promote", "--src", "dev", "--dst", "uat").returncode == 0
    assert {s.version_tags.commit for s in states(prefect_api_url, name, "uat").values()} == {commit_b}
    again = portal.promote("dev", "uat")
    assert again.results == () and not again.plan.has_changes
    assert cli(root, "diff", "--src", "dev", "--dst", "uat").returncode == 0


def test_missing_source_flow_fails_whole_promotion(
    project: tuple[Path, str], prefect_api_url: str
) -> None:
    root, name = project
    portal = Portal(root)
    portal.deploy(["ingest", "transform"], "dev")
    with pytest.raises(PlanError) as failure:
        portal.promote("dev", "uat", ["ingest", "transform", "publish"])
    assert any("'publish' has no deployment in 'dev'" in p for p in failure.value.problems)
    assert states(prefect_api_url, name, "uat") == {}

    result = cli(root, "promote", "--src", "dev", "--dst", "uat", "--flow", "ingest",
                 "--flow", "publish")
    assert result.returncode == 1
    assert "publish" in result.stderr and states(prefect_api_url, name, "uat") == {}


def test_skipping_an_environment_needs_force(project: tuple[Path, str], prefect_api_url: str) -> None:
    root, name = project
    portal = Portal(root)
    portal.deploy(["ingest"], "dev")
    refused = cli(root, "promote", "--src", "dev", "--dst", "prod")
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert states(prefect_api_url, name, "prod") == {}
    forced = cli(root, "promote", "--src", "dev", "--dst", "prod", "--force")
    assert forced.returncode == 0, forced.stderr
    assert set(states(prefect_api_url, name, "prod")) == {"ingest"}


def test_secret_values_never_appear_in_output(tmp_path: Path, prefect_api_url: str) -> None:
    secret = "s3cr3t-VALUE-that-must-not-leak-9f8e7d"
    name = make_project(tmp_path, prefect_api_url, ["ingest"],
                        env_extra={"uat": "secrets: [WAREHOUSE_PASSWORD]\n"})
    Portal(tmp_path).deploy(["ingest"], "dev")
    env = {"WAREHOUSE_PASSWORD": secret}
    outputs = []
    for args in (("diff", "--src", "dev", "--dst", "uat"),
                 ("diff", "--src", "dev", "--dst", "uat", "--json"),
                 ("promote", "--src", "dev", "--dst", "uat", "--dry-run"),
                 ("promote", "--src", "dev", "--dst", "uat", "--json"),
                 ("promote", "--src", "dev", "--dst", "uat")):
        done = cli(tmp_path, *args, env=env)
        assert done.returncode in (0, 2), done.stderr
        outputs.append(done.stdout + done.stderr)
    env["WAREHOUSE_PASSWORD"] = secret + "-rotated"
    rotated = cli(tmp_path, "diff", "--src", "dev", "--dst", "uat", env=env)
    assert rotated.returncode == 2 and "WAREHOUSE_PASSWORD" in rotated.stdout
    outputs.append(rotated.stdout + rotated.stderr)
    assert all(secret not in text for text in outputs)
    # ...while the deployment itself does carry it, for the flow run
    (state,) = PrefectGateway(prefect_api_url).read_deployments(
        names=[f"{name}--main--ingest--uat"])
    assert state.env_vars["WAREHOUSE_PASSWORD"] == secret


def test_promote_carries_the_image_on_image_based_pools(tmp_path: Path, prefect_api_url: str) -> None:
    name = make_project(tmp_path, prefect_api_url, ["ingest"], pool="test-docker",
                        pool_type="docker")
    portal = Portal(tmp_path)
    portal.deploy(["ingest"], "dev", image="registry.example/app:commit-a")
    (tmp_path / "flows" / "ingest.py").write_text(
        (tmp_path / "flows" / "ingest.py").read_text() + "\n# B\n")
    commit_all(tmp_path)
    portal.promote("dev", "uat")
    portal.deploy(["ingest"], "dev", image="registry.example/app:commit-b")  # dev moves on

    (uat,) = PrefectGateway(prefect_api_url).read_deployments(names=[f"{name}--main--ingest--uat"])
    (dev,) = PrefectGateway(prefect_api_url).read_deployments(names=[f"{name}--main--ingest--dev"])
    assert uat.image == "registry.example/app:commit-a"
    assert dev.image == "registry.example/app:commit-b"
    assert uat.version != dev.version and uat.env_vars["APP_ENV"] == "uat"
