"""`aps-prefect-deploy` with acme-prefect's exact flags, against a real local Prefect server.

The seed SDK's CI calls this CLI; after switching to flowportal the deployments
must keep the names, Prefect flow names and tags the SDK gave them (so they are
updated in place, never duplicated), a repeated call must write nothing, and the
job env must come from acme-config's `{app}.{env}.{ver}.env` file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.projects import commit_all, git, unique

pytestmark = pytest.mark.integration

IMAGE = "ghcr.io/acme/acme-demo:main-abc1234"


def make_sdk_project(root: Path, package: str, pool: str) -> None:
    """An acme-prefect shaped repo: src/ layout, static config in .acme_portal_sdk/, `ac fetch` files.

    The flows use `@flow(...)` with parentheses: the SDK's finder sees no other form.
    """
    flows = root / "src" / package / "flows"
    flows.mkdir(parents=True)
    (root / "src" / package / "__init__.py").write_text("")
    (flows / "hello_world.py").write_text(textwrap.dedent('''\
        from prefect import flow


        @flow(log_prints=True)
        def hello_world(name: str = "x") -> str:
            """Say hello."""
            return name
        '''))
    (flows / "hello_dw.py").write_text(textwrap.dedent('''\
        from prefect import flow


        @flow(name="hello-dw")
        def main() -> None:
            pass
        '''))
    sdk = root / ".acme_portal_sdk"
    sdk.mkdir()
    entries = "".join(textwrap.dedent(f"""\
        {key}:
          name: {key}
          import_path: {package}.flows.{module}:{function}
          cron: "0 12 * * 1-5"
          description: {key} described
          work_pool_name: {pool}
        """) for key, module, function in (("hello_world", "hello_world", "hello_world"),
                                            ("hello_dw", "hello_dw", "main")))
    (sdk / "static_flow_deploy_config.yaml").write_text(entries)
    (root / f"{package}.dev.3.env").write_text("DB_HOST=db.dev\nLOG_LEVEL=INFO\n")
    (root / f"{package}.tst.4.env").write_text("DB_HOST=db.tst\nLOG_LEVEL=WARNING\n")
    (root / "pyproject.toml").write_text(f'[project]\nname = "{package}"\nversion = "0.0.1"\n')
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial")


def deploy_flags(package: str, branch: str = "main", env: str = "dev", ver: str = "3",
                 flows: str = "all") -> list[str]:
    """acme-prefect's deploy.yml call, flag for flag."""
    return ["deploy", "-app-name", package, "-env", env, "-ver-number", ver, "-image-uri", IMAGE,
            "-branch-name", branch, "-commit-hash", "abc1234", "-project-name", package,
            "-package-version", "0.0.1", "--flows-to-deploy", flows,
            "-static-flow-config-path", ".acme_portal_sdk/static_flow_deploy_config.yaml"]


def promote_flags(package: str, branch: str = "main", flows: str = "all") -> list[str]:
    """acme-prefect's promote.yml call, flag for flag."""
    return ["promote", "-app-name", package, "-env", "tst", "-ver-number", "4",
            "-branch-name", branch, "-project-name", package, "-source-env", "dev",
            "--flows-to-deploy", flows,
            "-static-flow-config-path", ".acme_portal_sdk/static_flow_deploy_config.yaml"]


def aps(root: Path, api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = api_url
    script = Path(sys.executable).with_name("aps-prefect-deploy")
    # The SDK's own script may be installed under the same name: run ours as a module.
    command = [sys.executable, "-m", "flowportal.aps_cli"] if _is_the_sdks(script) else [str(script)]
    return subprocess.run([*command, *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env=env)


def _is_the_sdks(script: Path) -> bool:
    return not script.is_file() or "flowportal" not in script.read_text()


def _post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(f"{api_url}{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def image_pool(api_url: str, name: str) -> None:
    """A process pool whose job template takes an `image` (the SDK always sends one)."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["image"] = {"type": "string", "title": "Image"}
    _post(api_url, "/work_pools/", {"name": name, "type": "process", "base_job_template": template})


def deployments(api_url: str, project: str) -> dict[str, dict[str, Any]]:
    """Every deployment whose name starts with the project, by name, with its flow's name.

    A name appearing under two flows would be a twin: the returned value would lose
    one, so callers also compare counts.
    """
    found = _post(api_url, "/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in _post(api_url, "/flows/filter", {})}
    mine = [d for d in found if d["name"].startswith(f"{project}--")]
    result = {d["name"]: {**d, "flow_name": flows[d["flow_id"]]} for d in mine}
    assert len(result) == len(mine), "two deployments share a name (under different flows)"
    return result


def identity(deployment: dict[str, Any]) -> dict[str, Any]:
    return {key: deployment[key] for key in ("name", "flow_name", "tags", "version")} | {
        "env": deployment["job_variables"]["env"], "image": deployment["job_variables"]["image"],
        "work_pool_name": deployment["work_pool_name"], "entrypoint": deployment["entrypoint"]}


def run_the_real_sdk(root: Path, api_url: str, package: str, project: str) -> None:
    """What `aps-prefect-deploy deploy` of acme_portal_sdk 1.2.0 does, minus acme-config's import
    (its env file is read with python-dotenv, as acme-config does)."""
    script = textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, "src")
        from dotenv import dotenv_values
        from acme_portal_sdk.prefect.flow_finder import PrefectFlowFinder
        from acme_portal_sdk.prefect.flow_deploy import PrefectDeployInfoPrep, PrefectFlowDeployer
        finder = PrefectFlowFinder(root_dir="src/{package}")
        prep = PrefectDeployInfoPrep(
            static_flow_deploy_config=".acme_portal_sdk/static_flow_deploy_config.yaml",
            default_work_pool="ecs-pool", prefect_flow_finder=finder)
        infos = prep.prep_deploy_info(
            project_name="{project}", branch_name="main", commit_hash="abc1234",
            image_uri="{IMAGE}", package_version="0.0.1", env="dev",
            flows_to_deploy=[f.name for f in finder.find_flows()],
            env_vars=dotenv_values("{package}.dev.3.env"))
        assert len(infos) == 2, infos
        for info in infos:
            PrefectFlowDeployer().deploy(info)
        """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = api_url
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def test_over_real_sdk_deployments_names_flows_and_tags_are_kept_and_updated_in_place(
    tmp_path: Path, prefect_api_url: str
) -> None:
    pytest.importorskip("acme_portal_sdk", reason="needs the seed SDK (pip install -e '.[bench]')")
    package = unique("acme_demo").replace("-", "_")
    project = package.replace("_", "-")
    pool = unique("img-pool")
    make_sdk_project(tmp_path, package, pool)
    image_pool(prefect_api_url, pool)

    run_the_real_sdk(tmp_path, prefect_api_url, package, project)
    by_sdk = deployments(prefect_api_url, project)
    assert {d["flow_name"] for d in by_sdk.values()} == {"hello_world", "hello_dw"}

    ours = aps(tmp_path, prefect_api_url, *deploy_flags(package))
    assert ours.returncode == 0, ours.stderr
    after = deployments(prefect_api_url, project)
    assert set(after) == set(by_sdk)  # no twin under flow `hello-world`
    for name, deployment in after.items():
        assert deployment["id"] == by_sdk[name]["id"]  # updated in place
        assert identity(deployment) == identity(by_sdk[name])


def test_deploy_is_idempotent_takes_job_env_from_the_ac_fetch_file_and_promote_by_sdk_naming(
    tmp_path: Path, prefect_api_url: str
) -> None:
    package = unique("acme_demo").replace("-", "_")
    project = package.replace("_", "-")
    pool = unique("img-pool")
    make_sdk_project(tmp_path, package, pool)
    image_pool(prefect_api_url, pool)

    first = aps(tmp_path, prefect_api_url, *deploy_flags(package, branch="feature_x",
                                                         flows="hello_world,hello-dw"))
    assert first.returncode == 0, first.stderr
    deployed = deployments(prefect_api_url, project)
    # What the SDK's rules give for these flags: `_` -> `-` in project and branch, the flow
    # under its underscore name, the four tags, version {branch}-{commit}.
    hello = deployed[f"{project}--feature-x--hello-world--dev"]
    assert hello["flow_name"] == "hello_world"
    assert deployed[f"{project}--feature-x--hello-dw--dev"]["flow_name"] == "hello_dw"
    assert hello["tags"] == [f"PROJECT_NAME={project}", "BRANCH_NAME=feature-x",
                             "COMMIT_HASH=abc1234", "PACKAGE_VERSION=0.0.1"]
    assert hello["version"] == "feature-x-abc1234"
    assert hello["job_variables"] == {
        "image": IMAGE,
        "env": {"DB_HOST": "db.dev", "LOG_LEVEL": "INFO",
                "DEPLOYMENT_NAME": f"{project}--feature-x--hello-world--dev"}}
    assert hello["paused"] is False

    second = aps(tmp_path, prefect_api_url, *deploy_flags(package, branch="feature_x",
                                                          flows="hello_world,hello-dw"))
    assert second.returncode == 0, second.stderr
    assert "0 to create, 0 to update, 2 unchanged" in second.stdout
    again = deployments(prefect_api_url, project)
    assert {n: d["updated"] for n, d in again.items()} == {n: d["updated"] for n, d in deployed.items()}

    promoted = aps(tmp_path, prefect_api_url, *promote_flags(package, branch="feature_x",
                                                             flows="hello_world"))
    assert promoted.returncode == 0, promoted.stderr
    target = deployments(prefect_api_url, project)[f"{project}--feature-x--hello-world--tst"]
    assert target["flow_name"] == "hello_world"
    assert target["tags"] == hello["tags"]  # the source's code version, as the SDK reused it
    assert target["version"] == hello["version"]
    assert target["job_variables"] == {
        "image": IMAGE,
        "env": {"DB_HOST": "db.tst", "LOG_LEVEL": "WARNING",
                "DEPLOYMENT_NAME": f"{project}--feature-x--hello-world--tst"}}


def test_a_missing_ac_fetch_file_is_one_line_and_writes_nothing(
    tmp_path: Path, prefect_api_url: str
) -> None:
    package = unique("acme_demo").replace("-", "_")
    make_sdk_project(tmp_path, package, unique("img-pool"))
    failed = aps(tmp_path, prefect_api_url, *deploy_flags(package, ver="9"))
    assert failed.returncode == 1
    assert failed.stderr.strip().count("\n") == 0
    assert f"{package}.dev.9.env" in failed.stderr and "not found" in failed.stderr
    assert deployments(prefect_api_url, package.replace("_", "-")) == {}
