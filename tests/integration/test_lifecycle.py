"""History, rollback, drift and prune against real local Prefect servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowportal import Portal
from portal_core.errors import PlanError
from portal_io.local_server import LocalServer
from portal_io.prefect_gateway import PrefectGateway
from tests.conftest import free_port
from tests.support.projects import commit_all, git, make_project
from tests.support.server_api import api

pytestmark = pytest.mark.integration


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowportal.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def one_state(url: str, name: str) -> Any:
    (state,) = PrefectGateway(url).read_deployments(names=[name])
    return state


def names_in(url: str, project: str) -> set[str]:
    return {s.name for s in PrefectGateway(url).read_deployments() if s.name.startswith(project)}


# --------------------------------------------------------------------------- history + rollback


def test_history_and_rollback_survive_a_restart_and_are_shared_by_clones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own server (stopped and started again on the same state dir), not the session's."""
    port = free_port()
    server = LocalServer(tmp_path / "server", port=port)
    url = server.ensure_running(timeout=120)
    try:
        root = tmp_path / "proj"
        project = make_project(root, url, ["hello_world"])
        portal = Portal(root)
        commit_a = git(root, "rev-parse", "--short", "HEAD")
        monkeypatch.setenv("GITHUB_ACTOR", "alice")
        for key in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
            monkeypatch.delenv(key, raising=False)
        assert portal.deploy(["hello_world"], "dev").exit_code == 0
        first = portal.promote("dev", "uat")
        assert first.exit_code == 0 and first.history_error is None

        flow_file = root / "flows" / "hello_world.py"
        flow_file.write_text(flow_file.read_text() + "\n# B\n")
        commit_b = commit_all(root, "B")
        monkeypatch.setenv("GITHUB_ACTOR", "bob")
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/flows")
        monkeypatch.setenv("GITHUB_RUN_ID", "42")
        portal.deploy(["hello_world"], "dev")
        assert portal.promote("dev", "uat").exit_code == 0

        records = portal.history("uat", "hello_world").records
        assert [(r.verb, r.who, r.source_env) for r in records] == [
            ("promote", "bob", "dev"), ("promote", "alice", "dev")]
        assert [r.after.commit for r in records if r.after] == [commit_b, commit_a]
        assert records[0].before is not None and records[0].before.commit == commit_a
        assert records[0].ci_url == "https://github.example/acme/flows/actions/runs/42"
        assert records[1].ci_url is None and records[0].when > records[1].when

        shown = cli(root, "history", "--env", "uat", "--flow", "hello_world",
                    env={"COLUMNS": "250"})
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.index(f"{commit_a} / 1.0.0 -> {commit_b} / 1.0.0") < shown.stdout.index(
            f"- -> {commit_a} / 1.0.0")
        planned = cli(root, "rollback", "--env", "uat", "--flow", "hello_world", "--dry-run",
                      env={"COLUMNS": "250"})
        assert planned.returncode == 2, planned.stderr
        assert f"1.0.0+{commit_b} -> 1.0.0+{commit_a}" in planned.stdout

        monkeypatch.setenv("GITHUB_ACTOR", "carol")
        rolled = portal.rollback("uat", "hello_world")
        assert rolled.exit_code == 0 and rolled.history_error is None
        uat = one_state(url, f"{project}--main--hello-world--uat")
        assert uat.version_tags.commit == commit_a and uat.version == f"1.0.0+{commit_a}"
        assert uat.entrypoint == "flows/hello_world.py:hello_world"
        assert uat.env_vars["APP_ENV"] == "uat" and uat.env_vars["ONLY_IN_UAT"] == "yes"
        assert "ONLY_IN_DEV" not in uat.env_vars
        assert one_state(url, f"{project}--main--hello-world--dev").version_tags.commit == commit_b
        newest = portal.history("uat", "hello_world").records[0]
        assert (newest.verb, newest.who) == ("rollback", "carol")
        assert newest.before.commit == commit_b and newest.after.commit == commit_a  # type: ignore[union-attr]

        # a second server process on the same state dir still has every record
        assert server.stop()
        again = LocalServer(tmp_path / "server", port=port)
        assert again.ensure_running(timeout=120) == url
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(root), str(clone))
        from_clone = Portal(clone).history("uat", "hello_world").records
        assert [(r.verb, r.who) for r in from_clone] == [
            ("rollback", "carol"), ("promote", "bob"), ("promote", "alice")]
        # back to B from the clone, by commit
        assert Portal(clone).rollback("uat", "hello_world", to=commit_b).exit_code == 0
        assert one_state(url, f"{project}--main--hello-world--uat").version_tags.commit == commit_b
    finally:
        server.stop()


# --------------------------------------------------------------------------- drift


def test_drift_names_exactly_the_fields_edited_outside_and_pending_apart(
    tmp_path: Path, prefect_api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "drift-secret-VALUE-7c1d9e"
    monkeypatch.setenv("WAREHOUSE_PASSWORD", secret)
    project = make_project(tmp_path, prefect_api_url, ["hello_world", "other"],
                           env_extra={"dev": "secrets: [WAREHOUSE_PASSWORD]\n"})
    portal = Portal(tmp_path)
    assert portal.deploy(["all"], "dev").exit_code == 0
    clean = portal.drift("dev")
    assert clean.exit_code == 0 and {d.status for d in clean.report.deployments} == {"ok"}

    name = f"{project}--main--hello-world--dev"
    state = one_state(prefect_api_url, name)
    job_variables = dict(state.job_variables)
    job_variables["env"] = {**state.env_vars, "LOG_LEVEL": "TRACE"}
    api(prefect_api_url, "PATCH", f"/deployments/{state.id}",
        {"paused": True, "work_pool_name": state.work_pool_name, "work_queue_name": "elsewhere",
         "job_variables": job_variables})

    found = portal.drift("dev")
    assert found.exit_code == 2
    by_name = {d.name: d for d in found.report.deployments}
    assert {f.field for f in by_name[name].drift} == {"paused", "work_queue_name", "env.LOG_LEVEL"}
    assert by_name[f"{project}--main--other--dev"].status == "ok"

    # a config change not deployed yet is pending, not drift
    config = tmp_path / "config" / "environments.yaml"
    config.write_text(config.read_text().replace('ONLY_IN_DEV: "yes"', 'ONLY_IN_DEV: "no"'))
    shown = cli(tmp_path, "drift", "--env", "dev", "--json")
    assert shown.returncode == 2, shown.stderr
    report = {d["name"]: d for d in json.loads(shown.stdout)["deployments"]}
    assert {f["field"] for f in report[name]["drift"]} == {"paused", "work_queue_name",
                                                            "env.LOG_LEVEL"}
    other = report[f"{project}--main--other--dev"]
    assert other["drift"] == [] and other["status"] == "ok"
    assert [f["field"] for f in other["pending"]] == ["env.ONLY_IN_DEV"]
    text = cli(tmp_path, "drift", "--env", "dev")
    assert text.returncode == 2 and "paused: False -> True" in text.stdout
    history = cli(tmp_path, "history", "--env", "dev", "--json")
    for output in (shown.stdout, text.stdout, history.stdout, json.dumps(api(
            prefect_api_url, "POST", "/artifacts/filter", {"limit": 200}))):
        assert secret not in output
    # the environment matrix marks the drifted deployment
    listing = cli(tmp_path, "list-deployments", "--env", "dev", env={"COLUMNS": "250"})
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "hello_world" in line)
    assert "!" in row and "other" not in row


# --------------------------------------------------------------------------- prune


def test_prune_deletes_only_owned_deployments_of_gone_branches(
    tmp_path: Path, prefect_api_url: str
) -> None:
    project = make_project(tmp_path, prefect_api_url, ["hello_world", "other"])
    portal = Portal(tmp_path)
    for branch in ("feature/a", "feature/b"):
        git(tmp_path, "checkout", "-q", "-b", branch)
        assert portal.deploy(["all"], "dev").exit_code == 0
        git(tmp_path, "checkout", "-q", "main")
    assert portal.deploy(["all"], "dev").exit_code == 0
    # not ours: another project's, and one of our shape without the ownership tag
    foreign_root = tmp_path / "foreign"
    foreign = make_project(foreign_root, prefect_api_url, ["hello_world"])
    Portal(foreign_root).deploy(["hello_world"], "dev")
    flow = api(prefect_api_url, "POST", "/flows/", {"name": "hand-made"})
    api(prefect_api_url, "POST", "/deployments/", {
        "name": f"{project}--feature-a--hand-made--dev", "flow_id": flow["id"],
        "tags": [f"PROJECT_NAME={project}", "BRANCH_NAME=feature/a"]})
    git(tmp_path, "branch", "-q", "-D", "feature/a")
    before = names_in(prefect_api_url, project)
    (doomed,) = PrefectGateway(prefect_api_url).read_deployments(names=[f"{project}--feature-a--other--dev"])
    trigger = {"name": "owned", "trigger": {"type": "event", "posture": "Reactive", "threshold": 1},
               "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": doomed.id}],
               "owner_resource": f"prefect.deployment.{doomed.id}"}
    owned = api(prefect_api_url, "POST", "/automations/", trigger)["id"]
    gone = {f"{project}--feature-a--{f}--dev" for f in ("hello-world", "other")}

    planned = cli(tmp_path, "prune", "--env", "dev", "--dry-run", env={"COLUMNS": "250"})
    assert planned.returncode == 2, planned.stderr
    listed = {n for n in before if n in planned.stdout}
    assert listed == gone
    assert names_in(prefect_api_url, project) == before

    outcome = portal.prune("dev")
    assert outcome.exit_code == 0 and set(outcome.deleted) == gone
    assert names_in(prefect_api_url, project) == before - gone
    remaining = {a["id"] for a in api(prefect_api_url, "POST", "/automations/filter", {})}
    assert owned not in remaining  # its triggers went with the deployment
    assert f"{project}--feature-a--hand-made--dev" in names_in(prefect_api_url, project)
    assert names_in(prefect_api_url, foreign) == {f"{foreign}--main--hello-world--dev"}
    pruned = [r for r in portal.history("dev").records if r.verb == "prune"]
    assert {r.deployment for r in pruned} == gone
    assert cli(tmp_path, "prune", "--env", "dev", "--dry-run").returncode == 0

    # a remote that cannot be read stops the prune instead of making branches look gone
    git(tmp_path, "remote", "add", "origin", str(tmp_path / "no-such-remote"))
    with pytest.raises(PlanError) as refused:
        portal.prune("dev", dry_run=True)
    assert "origin" in refused.value.problems[0]
    # protected branches are refused even when named
    with pytest.raises(PlanError):
        portal.prune("dev", branch="main")
