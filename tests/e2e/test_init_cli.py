"""`flowportal init` in a repository that has never seen flowportal, as a new user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.projects import commit_all, git, unique

pytestmark = pytest.mark.e2e

FLOW = '''\
from prefect import flow


@flow{decorator_args}
def {function}(count: int = 1) -> int:
    """A flow of a src/ layout project."""
    return count
'''


def make_src_layout_repo(root: Path, package: str, project: str) -> None:
    """A src/ layout package with flows in two folders, a test helper flow, no tasks.py, no config."""
    flows = root / "src" / package / "flows"
    (flows / "nightly").mkdir(parents=True)
    (root / "src" / package / "__init__.py").write_text("")
    (flows / "hello_world.py").write_text(FLOW.format(decorator_args="", function="hello_world"))
    (flows / "nightly" / "report.py").write_text(
        FLOW.format(decorator_args='(name="nightly-report")', function="report"))
    (root / "tests").mkdir()
    (root / "tests" / "test_helpers.py").write_text(FLOW.format(decorator_args="", function="helper"))
    (root / "pyproject.toml").write_text(f'[project]\nname = "{project}"\nversion = "2.1.0"\n')
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial")


def flowportal(root: Path, *args: str, api_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    script = Path(sys.executable).with_name("flowportal")
    return subprocess.run([str(script), *args], cwd=root, capture_output=True, text=True,
                          timeout=300, env=env)


def test_init_writes_config_once_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    project = unique("initproj")
    make_src_layout_repo(tmp_path, "acme_demo", project)

    first = flowportal(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "wrote config/environments.yaml" in first.stdout
    assert "wrote .portal/.gitignore" in first.stdout
    config = (tmp_path / "config" / "environments.yaml").read_text()
    assert f"project: {project}" in config
    assert "flows_root: src/acme_demo " in config  # tests/ holds a flow too, but not the project's
    assert "{name: local-process, type: process, create: true}" in config
    assert (tmp_path / ".portal" / ".gitignore").read_text() == "*\n"

    second = flowportal(tmp_path, "init")
    assert second.returncode == 0, second.stderr
    assert "nothing written" in second.stdout
    assert (tmp_path / "config" / "environments.yaml").read_text() == config


def test_init_keeps_an_edited_config_unless_forced(tmp_path: Path) -> None:
    make_src_layout_repo(tmp_path, "acme_demo", unique("initproj"))
    assert flowportal(tmp_path, "init").returncode == 0
    path = tmp_path / "config" / "environments.yaml"
    edited = path.read_text().replace("APP_ENV: dev", "APP_ENV: mine")
    path.write_text(edited)

    kept = flowportal(tmp_path, "init")
    assert kept.returncode == 0, kept.stderr
    assert "kept config/environments.yaml" in kept.stdout
    assert path.read_text() == edited

    forced = flowportal(tmp_path, "init", "--force")
    assert "overwrote config/environments.yaml" in forced.stdout
    assert "APP_ENV: mine" not in path.read_text()


def test_without_tasks_py_invoke_fails_and_the_console_script_works(tmp_path: Path) -> None:
    make_src_layout_repo(tmp_path, "acme_demo", unique("initproj"))
    invoke = Path(sys.executable).with_name("invoke")
    bare = subprocess.run([str(invoke), "list-flows"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert bare.returncode != 0
    assert "Can't find any collection named 'tasks'" in bare.stderr
    listed = flowportal(tmp_path, "list-flows", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} == {"hello_world", "nightly_report", "helper"}


@pytest.mark.integration
def test_init_then_deploy_all_on_a_real_server_leaves_git_clean_of_state(
    tmp_path: Path, prefect_api_url: str
) -> None:
    project = unique("initproj")
    make_src_layout_repo(tmp_path, "acme_demo", project)
    assert flowportal(tmp_path, "init").returncode == 0
    commit_all(tmp_path, "flowportal init")  # the team commits the config init wrote

    deployed = flowportal(tmp_path, "deploy", "--flow", "all", "--env", "dev", api_url=prefect_api_url)
    assert deployed.returncode == 0, deployed.stderr
    names = {f"{project}--main--hello-world--dev", f"{project}--main--nightly-report--dev"}
    found = _deployment_names(prefect_api_url, project)
    assert found == names  # the test helper flow under tests/ is not deployed
    assert (tmp_path / ".portal").is_dir()  # caches were written there ...
    assert git(tmp_path, "status", "--porcelain") == ""  # ... and git does not see them

    again = flowportal(tmp_path, "deploy", "--flow", "all", "--env", "dev", "--json",
                       api_url=prefect_api_url)
    assert again.returncode == 0, again.stderr
    assert {c["action"] for c in json.loads(again.stdout)["plan"]["changes"]} == {"unchanged"}


def _deployment_names(api_url: str, project: str) -> set[str]:
    body = json.dumps({"deployments": {"tags": {"all_": [f"PROJECT_NAME={project}"]}}}).encode()
    request = urllib.request.Request(f"{api_url}/deployments/filter", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return {d["name"] for d in json.loads(response.read())}
