"""The extension's four objects, written by `flowportal init --acme-portal`, against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_init_cli import FLOW, flowportal, make_src_layout_repo
from tests.support.extension import run_object
from tests.support.projects import commit_all, unique

pytest.importorskip("acme_portal_sdk", reason="the extension needs acme_portal_sdk: pip install -e '.[acme-portal]'")
pytestmark = pytest.mark.integration


def test_the_four_objects_as_the_extension_drives_them(tmp_path: Path, prefect_api_url: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    project = unique("extproj")
    make_src_layout_repo(root, "acme_demo", project)
    initialised = flowportal(root, "init", "--acme-portal")
    assert initialised.returncode == 0, initialised.stderr
    for module in ("flow_finder", "deployment_finder", "flow_deploy", "deployment_promote"):
        assert f"wrote .acme_portal_sdk/{module}.py" in initialised.stdout
    commit_all(root, "flowportal init --acme-portal")
    outs = tmp_path / "out"

    def call(module: str, cls: str, kwargs: dict | None = None) -> tuple[int, object]:
        return run_object(root, module, cls, kwargs, prefect_api_url, outs)

    code, flows = call("flow_finder", "FlowFinder")
    assert code == 0, flows
    assert isinstance(flows, list)
    by_name: dict[str, list[dict]] = {}
    for record in flows:
        by_name.setdefault(record["name"], []).append(record)
    assert sorted(by_name) == ["hello_world", "nightly_report"]
    hello = by_name["hello_world"][0]
    assert hello["child_attributes"]["import_path"] == "acme_demo.flows.hello_world"
    assert hello["source_relative"] == "src/acme_demo/flows/hello_world.py"
    assert hello["line_number"] == 5  # the `def` line
    assert Path(hello["source_path"]).read_text().splitlines()[hello["line_number"] - 1].startswith(
        "def hello_world")
    imported = subprocess.run(
        [sys.executable, "-c", f"import {hello['child_attributes']['import_path']} as m; "
                               f"print(m.{hello['child_attributes']['obj_name']}.name)"],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root / "src")}, capture_output=True, text=True,
        timeout=120)
    assert imported.stdout.strip() == "hello-world", imported.stderr[-2000:]
    code, again = call("flow_finder", "FlowFinder")
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in flows)  # stable ids

    code, refetched = call("flow_finder", "FlowFinder", {"flows_to_fetch": [hello], "flow_groups": None})
    assert code == 0 and [r["id"] for r in refetched] == [hello["id"]]
    code, grouped = call("flow_finder", "FlowFinder", {"flows_to_fetch": None, "flow_groups": ["nightly"]})
    assert code == 0 and [r["name"] for r in grouped] == ["nightly_report"]

    kwargs = {"flows_to_deploy": ["hello_world"], "ref": "main",
              "additional_context": hello["child_attributes"]}
    code, url = call("flow_deploy", "DeployWorkflow", kwargs)
    assert code == 0, url
    ui = prefect_api_url.removesuffix("/api")
    assert isinstance(url, str) and re.fullmatch(re.escape(ui) + r"/deployments/deployment/[0-9a-f-]{36}", url)

    code, deployments = call("deployment_finder", "DeploymentFinder")
    assert code == 0, deployments
    assert isinstance(deployments, list)
    assert [(d["flow_name"], d["branch"], d["env"]) for d in deployments] == [("hello_world", "main", "dev")]
    dev = deployments[0]
    assert dev["name"] == f"{project}--main--hello-world--dev"
    assert dev["url"] == url
    assert dev["commit_hash"] and dev["updated_at"]

    code, url = call("flow_deploy", "DeployWorkflow", kwargs)  # again: nothing changes, same page
    assert code == 0 and url == dev["url"]

    code, promoted_url = call("deployment_promote", "PromoteWorkflow", {
        "flows_to_deploy": ["hello_world"], "source_env": "dev", "target_env": "uat", "ref": "main",
        "additional_context": hello["child_attributes"]})
    assert code == 0, promoted_url
    assert isinstance(promoted_url, str) and promoted_url.startswith(f"{ui}/deployments/deployment/")

    code, deployments = call("deployment_finder", "DeploymentFinder",
                             {"flows_to_fetch": [hello], "deployments_to_fetch": None})
    assert code == 0, deployments
    slots = [(d["flow_name"], d["branch"], d["env"]) for d in deployments]
    assert sorted(slots) == [("hello_world", "main", "dev"), ("hello_world", "main", "uat")]
    assert len(set(slots)) == len(slots)  # exactly one per (flow, branch, env)
    uat = next(d for d in deployments if d["env"] == "uat")
    assert uat["commit_hash"] == dev["commit_hash"] and uat["url"] == promoted_url

    # Same flow name in a second file: the finder lists both, deploying that name refuses
    # in one line (which of the two would it be?).
    (root / "src" / "acme_demo" / "flows" / "report_copy.py").write_text(
        FLOW.format(decorator_args='(name="nightly-report")', function="report_again"))
    code, flows = call("flow_finder", "FlowFinder")
    assert code == 0, flows
    assert sorted(r["name"] for r in flows) == ["hello_world", "nightly_report", "nightly_report"]
    assert len({r["id"] for r in flows}) == 3
    code, error = call("flow_deploy", "DeployWorkflow", {**kwargs, "flows_to_deploy": ["nightly_report"]})
    assert code == 1
    assert isinstance(error, dict) and error["class_name"] == "DeployWorkflow"
    assert "nightly_report" in error["error_message"] and "\n" not in error["error_message"]

    code, error = call("flow_deploy", "DeployWorkflow", {**kwargs, "ref": "some-other-branch"})
    assert code == 1 and "not the checked-out branch" in error["error_message"]
