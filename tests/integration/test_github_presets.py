"""Dispatch inputs for workflows written for the seed SDK, against the local GitHub stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowportal.portal import Portal
from flowportal.usecases.editor import deploy_from_editor, promote_from_editor
from portal_core.errors import PlanError
from portal_core.github import parse_input_names
from portal_io.github_gateway import GitHubGateway
from tests.support.dispatching import dispatch_deploy, dispatch_promote
from tests.support.github_standin import GitHubStandIn
from tests.support.projects import make_project

pytestmark = pytest.mark.integration

TOKEN = "ghp_presetTOKEN_77aa01"
SDK = parse_input_names("sdk")


@pytest.fixture
def standin():
    with GitHubStandIn(token=TOKEN) as server:
        yield server


def gateway_for(server: GitHubStandIn) -> GitHubGateway:
    return GitHubGateway(server.owner, server.repo, TOKEN, server.url, sleep=lambda _s: None)


def test_sdk_preset_deploy_sends_the_comma_list_and_env_label(standin):
    dispatch_deploy(Path("."), ["a", "b"], "dev", ref="main", gateway=gateway_for(standin),
                    input_names=SDK)
    (sent,) = standin.requests_to("dispatch")
    assert sent.body["inputs"] == {"flows-to-deploy": "a,b", "env-label": "dev"}
    assert sent.body["ref"] == "main"


def test_sdk_preset_promote_sends_source_and_target_env(standin):
    dispatch_promote(Path("."), ["a", "b"], "dev", "tst", ref="main", gateway=gateway_for(standin),
                     input_names=SDK)
    (sent,) = standin.requests_to("dispatch")
    assert sent.path.endswith("/actions/workflows/promote.yml/dispatches")
    assert sent.body["inputs"] == {"flows-to-deploy": "a,b", "source-env": "dev", "target-env": "tst"}


def test_sdk_preset_refuses_what_its_inputs_cannot_carry_before_sending(standin):
    with pytest.raises(PlanError, match="contains ','"):
        dispatch_deploy(Path("."), ["a,b"], "dev", ref="main", gateway=gateway_for(standin),
                        input_names=SDK)
    with pytest.raises(PlanError, match="no branch"):
        dispatch_promote(Path("."), ["a"], "dev", "tst", branch="feature", ref="main",
                         gateway=gateway_for(standin), input_names=SDK)
    assert standin.requests_to("dispatch") == []


def test_custom_input_names_rename_and_drop_values(standin):
    names = parse_input_names("flows=which,env=,format=comma")
    dispatch_deploy(Path("."), ["all"], "dev", ref="main", gateway=gateway_for(standin),
                    input_names=names)
    (sent,) = standin.requests_to("dispatch")
    assert sent.body["inputs"] == {"which": "all"}


def test_cli_via_github_with_sdk_inputs_and_repo_flag(standin, tmp_path: Path):
    make_project(tmp_path, None, ["a", "b"])  # no origin remote: --repo names the repository
    env = {**os.environ, "GITHUB_API_URL": standin.url, "GITHUB_TOKEN": TOKEN}
    script = Path(sys.executable).with_name("flowportal")
    done = subprocess.run(
        [str(script), "deploy", "--via", "github", "--inputs", "sdk", "--repo",
         f"{standin.owner}/{standin.repo}", "--flow", "a", "--flow", "b", "--env", "dev",
         "--ref", "main"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (sent,) = standin.requests_to("dispatch")
    assert sent.path == f"/repos/{standin.owner}/{standin.repo}/actions/workflows/deploy.yml/dispatches"
    assert sent.body["inputs"] == {"flows-to-deploy": "a,b", "env-label": "dev"}
    assert TOKEN not in done.stdout + done.stderr


def test_editor_workflows_via_github_return_the_exact_run(standin, tmp_path: Path, monkeypatch):
    make_project(tmp_path, None, ["a", "b"])
    monkeypatch.setenv("GITHUB_API_URL", standin.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    # A newer unrelated run appears right after ours: "the newest run" would be wrong.
    standin.on_dispatch = lambda server, _run: server.add_run(branch="main", actor="someone-else")
    portal = Portal(tmp_path)
    repo = f"{standin.owner}/{standin.repo}"

    url = deploy_from_editor(portal, ["a", "b"], "main", via="github", inputs="sdk", repo=repo)
    assert url == standin.dispatched[0]["html_url"]
    promoted = promote_from_editor(portal, ["a"], "dev", "uat", "main", via="github", inputs="sdk",
                                   repo=repo)
    assert promoted == standin.dispatched[1]["html_url"]
    deploy_sent, promote_sent = standin.requests_to("dispatch")
    assert deploy_sent.body["inputs"] == {"flows-to-deploy": "a,b", "env-label": "dev"}
    assert promote_sent.body["inputs"] == {"flows-to-deploy": "a", "source-env": "dev",
                                           "target-env": "uat"}
