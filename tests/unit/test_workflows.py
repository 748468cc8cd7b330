"""The shipped GitHub Actions workflows agree with the dispatcher and stay injection-free."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from portal_core.github import decode_flows, deploy_inputs, promote_inputs

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"

#: Any expression in a `run:` script is expanded into the script text *before*
#: the shell reads it, so a value can become code. Inputs must travel via `env:`.
EXPRESSION = re.compile(r"\$\{\{")
INPUT_EXPRESSION = re.compile(r"\$\{\{\s*(?:inputs|github\s*\.\s*event\s*\.\s*inputs)\s*\.")


def load(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name} is not a YAML mapping"
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 loaders read the key `on` as True; accept either spelling.
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, list):
        return {key: None for key in value}
    if isinstance(value, str):
        return {value: None}
    return value or {}


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [str(step["run"]) for step in steps(workflow) if "run" in step]


def job_env(workflow: dict[str, Any]) -> dict[str, str]:
    (job,) = workflow["jobs"].values()
    return {str(k): str(v) for k, v in (job.get("env") or {}).items()}


def dispatch_inputs(workflow: dict[str, Any]) -> dict[str, Any]:
    return triggers(workflow)["workflow_dispatch"]["inputs"]


@pytest.mark.parametrize("name", ["deploy.yml", "promote.yml", "test.yml"])
def test_workflow_is_valid_yaml_with_jobs(name):
    workflow = load(name)
    assert workflow["jobs"], f"{name} has no jobs"
    for job in workflow["jobs"].values():
        assert job.get("runs-on"), f"{name}: every job needs runs-on"
        assert job.get("steps"), f"{name}: every job needs steps"


def test_deploy_inputs_match_what_the_dispatcher_sends():
    sent = deploy_inputs(["hello_world"], "dev", "main")
    assert set(dispatch_inputs(load("deploy.yml"))) == set(sent)


def test_promote_inputs_match_what_the_dispatcher_sends():
    sent = promote_inputs(["hello_world"], "dev", "prod", "main", False)
    assert set(dispatch_inputs(load("promote.yml"))) == set(sent)


@pytest.mark.parametrize("name", ["deploy.yml", "promote.yml"])
def test_flow_defaults_are_valid_json_lists(name):
    default = dispatch_inputs(load(name))["flows"].get("default", "")
    decode_flows(str(default))


@pytest.mark.parametrize("name", ["deploy.yml", "promote.yml", "test.yml"])
def test_run_scripts_never_expand_expressions(name):
    for script in run_scripts(load(name)):
        assert not INPUT_EXPRESSION.search(script), f"{name}: inputs expanded in a run: script"
        assert not EXPRESSION.search(script), (
            f"{name}: `${{{{ ... }}}}` inside a run: script is script injection; pass it via env:"
        )


@pytest.mark.parametrize(
    ("name", "verb", "env_vars", "gate"),
    [
        ("deploy.yml", "deploy", {"FLOWS": "flows", "ENV": "env"}, "env"),
        ("promote.yml", "promote", {"FLOWS": "flows", "SRC": "src", "DST": "dst",
                                     "BRANCH": "branch", "FORCE": "force"}, "dst"),
    ],
)
def test_inputs_reach_workflow_args_only_through_env(name, verb, env_vars, gate):
    workflow = load(name)
    env = job_env(workflow)
    for var, input_name in env_vars.items():
        assert re.fullmatch(rf"\$\{{\{{\s*inputs\.{input_name}\s*\}}\}}", env.get(var, "")), (
            f"{name}: env {var} must be ${{{{ inputs.{input_name} }}}}"
        )
    # Every declared input is handed over; none is left for a script to expand.
    handed_over = {m for v in env.values() for m in re.findall(r"inputs\.(\w+)", v)}
    assert handed_over == set(dispatch_inputs(workflow))
    assert f"python -m flowportal.workflow_args {verb}" in [s.strip() for s in run_scripts(workflow)]
    (job,) = workflow["jobs"].values()
    assert re.fullmatch(rf"\$\{{\{{\s*inputs\.{gate}\s*\}}\}}", str(job["environment"]))
    assert "secrets.PREFECT_API_KEY" in env.get("PREFECT_API_KEY", "")
    assert "secrets.PREFECT_API_URL" in env.get("PREFECT_API_URL", "")


@pytest.mark.parametrize("name", ["deploy.yml", "promote.yml"])
def test_dispatch_workflows_install_the_project_and_check_out(name):
    workflow = load(name)
    uses = [str(step.get("uses", "")) for step in steps(workflow)]
    assert any(u.startswith("actions/checkout@") for u in uses)
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(re.search(r"pip install \.(\s|$)", s) for s in run_scripts(workflow))
    assert set(triggers(workflow)) == {"workflow_dispatch"}
    assert workflow["permissions"] == {"contents": "read"}


def test_test_workflow_runs_the_readme_command_on_push_and_pr():
    workflow = load("test.yml")
    assert {"push", "pull_request"} <= set(triggers(workflow))
    assert any(s.strip() == "bash .ci/run" for s in run_scripts(workflow))
