"""`--via github` end to end against a local GitHub stand-in, through the real ghapi client.

What is checked is what went over HTTP (the recorded requests), what the user
is told (captured stdout/stderr), and what the command returns: the exact run
we started, even with newer unrelated runs around; one clear line per failure;
and the token nowhere in any of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from rich.console import Console

from portal_core.errors import PortalError
from portal_core.github import GitHubError
from portal_io.github_gateway import GitHubGateway
from tests.support.dispatching import dispatch_deploy, dispatch_promote
from tests.support.github_standin import FAILURE, SUCCESS, GitHubStandIn

pytestmark = pytest.mark.integration

TOKEN = "ghp_standinTOKEN_4f1c2e9d"  # distinctive, so a leak is easy to spot
FLOWS = ["hello world", "etl, nightly", "naïve ☃"]
ENV = "dev; echo pwned $(touch /tmp/pwned) 'q' \"qq\""


@pytest.fixture
def standin():
    with GitHubStandIn(token=TOKEN) as server:
        server.add_run(workflow="deploy.yml", branch="main", age_seconds=3600)  # old history
        yield server


def gateway_for(server: GitHubStandIn, token: str = TOKEN) -> GitHubGateway:
    return GitHubGateway(server.owner, server.repo, token, server.url, sleep=lambda _s: None)


def cli(call) -> int:
    """What the CLI does around a use case: PortalError -> one line on stderr, exit 1."""
    try:
        return call().exit_code
    except PortalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def assert_token_absent(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert TOKEN[4:] not in text  # not even without its prefix


def add_noise_after_dispatch(server: GitHubStandIn, ours: dict) -> None:
    """Runs a "pick the newest" heuristic would wrongly report."""
    server.add_run(event="push", branch="main", status="in_progress", conclusion=None)
    server.add_run(branch="other-branch", status="queued", conclusion=None)
    server.add_run(branch="main", actor="someone-else", status="queued", conclusion=None)


# ------------------------------------------------------------------ what is sent


def test_dispatch_sends_exactly_the_intended_inputs_literally(standin, capfd):
    outcome = dispatch_deploy(
        Path("."), FLOWS, ENV, ref="feature/x", watch=False, gateway=gateway_for(standin)
    )
    (sent,) = standin.requests_to("dispatch")
    assert sent.path == "/repos/octo-org/flows/actions/workflows/deploy.yml/dispatches"
    assert sent.body == {
        "ref": "feature/x",
        "inputs": {"flows": json.dumps(FLOWS, ensure_ascii=False, separators=(",", ":")), "env": ENV},
        "return_run_details": True,
    }
    assert json.loads(sent.body["inputs"]["flows"]) == FLOWS
    assert sent.headers.get("Authorization") == f"token {TOKEN}"
    assert outcome.exit_code == 0 and outcome.conclusion is None
    out, err = capfd.readouterr()
    assert outcome.html_url in out
    assert_token_absent(out, err)


def test_promote_dispatch_sends_its_inputs(standin):
    dispatch_promote(
        Path("."), ["a b"], "uat", "prod; $(x)", branch=None, force=True, ref="main",
        gateway=gateway_for(standin), console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
    )
    (sent,) = standin.requests_to("dispatch")
    assert sent.path.endswith("/actions/workflows/promote.yml/dispatches")
    assert sent.body["inputs"] == {
        "flows": '["a b"]', "src": "uat", "dst": "prod; $(x)", "branch": "", "force": "true",
    }


def test_bad_inputs_send_nothing(standin):
    with pytest.raises(PortalError, match="starts with '-'"):
        dispatch_deploy(Path("."), ["--force"], "dev", ref="main", gateway=gateway_for(standin))
    assert standin.requests == []


# ------------------------------------------------------------------ which run is reported


def test_reports_our_run_from_run_details_despite_newer_runs(standin, capfd):
    standin.on_dispatch = add_noise_after_dispatch
    outcome = dispatch_deploy(Path("."), ["a"], "dev", ref="main", gateway=gateway_for(standin))
    ours = standin.dispatched[0]
    newest = max(standin.runs, key=lambda r: r["id"])
    assert newest["id"] != ours["id"]
    assert (outcome.run_id, outcome.found_by) == (ours["id"], "run_details")
    assert outcome.html_url == ours["html_url"]
    assert ours["html_url"] in capfd.readouterr().out


@pytest.mark.parametrize("mode", ["no_content", "legacy"])
def test_fallback_listing_finds_our_run_despite_newer_and_recent_runs(standin, capfd, mode):
    standin.dispatch_mode = mode
    # A dispatch on the same branch from moments ago: recent enough to pass the
    # time check, excluded only because it was listed before we dispatched.
    earlier = standin.add_run(branch="main", status="in_progress", conclusion=None)
    standin.on_dispatch = add_noise_after_dispatch
    standin.hide_new_runs_for = 2  # GitHub takes a moment to list a new run
    outcome = dispatch_deploy(Path("."), ["a"], "dev", ref="main", gateway=gateway_for(standin))
    ours = standin.dispatched[0]
    assert (outcome.run_id, outcome.found_by) == (ours["id"], "listing")
    assert outcome.run_id != earlier["id"]
    assert ours["html_url"] in capfd.readouterr().out
    lists = standin.requests_to("list_runs")
    assert len(lists) >= 3  # one before dispatching, then polling until it shows up
    assert all(r.query["event"] == ["workflow_dispatch"] and r.query["branch"] == ["main"] for r in lists)
    if mode == "legacy":
        bodies = [r.body for r in standin.requests_to("dispatch")]
        assert [("return_run_details" in b) for b in bodies] == [True, False]


def test_fallback_that_never_sees_the_run_says_so_and_cannot_watch(standin, capfd):
    standin.dispatch_mode = "no_content"
    standin.hide_new_runs_for = 10_000
    gateway = GitHubGateway(
        standin.owner, standin.repo, TOKEN, standin.url, sleep=lambda _s: None, find_run_delays=(0, 0)
    )
    outcome = dispatch_deploy(Path("."), ["a"], "dev", ref="main", watch=True, gateway=gateway)
    assert outcome.run_id is None and outcome.exit_code == 1
    assert outcome.html_url.endswith("/octo-org/flows/actions/workflows/deploy.yml")
    assert "could not identify the run" in capfd.readouterr().out


# ------------------------------------------------------------------ failures


def _error_case(standin: GitHubStandIn, case: str) -> tuple[GitHubGateway, str]:
    if case == "401":
        return gateway_for(standin, token=TOKEN + "-revoked"), (
            "GitHub rejected the token (401): set GITHUB_TOKEN or GH_TOKEN to a token with actions:write"
        )
    if case == "404":
        standin.workflows.discard("deploy.yml")
        return gateway_for(standin), "workflow deploy.yml not found in octo-org/flows (404)"
    if case == "422":
        standin.fail("dispatch", 422, f'Unexpected inputs provided: ["env"] {TOKEN}')
        return gateway_for(standin), 'GitHub refused the inputs (422): Unexpected inputs provided: ["env"]'
    if case == "503":
        standin.fail("dispatch", 503)
        return gateway_for(standin), "GitHub is unavailable (503)"
    if case == "refused":
        url = standin.url
        standin.stop()
        gateway = GitHubGateway("octo-org", "flows", TOKEN, url, sleep=lambda _s: None)
        return gateway, f"cannot reach GitHub at {url}"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["401", "404", "422", "503", "refused"])
def test_each_failure_is_one_clear_line_and_never_shows_the_token(standin, capfd, case):
    gateway, expected = _error_case(standin, case)
    code = cli(lambda: dispatch_deploy(Path("."), FLOWS, ENV, ref="main", gateway=gateway))
    out, err = capfd.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert_token_absent(out, err)

    # The exception itself (message, repr, args, traceback with context) is clean too.
    with pytest.raises(GitHubError) as info:
        dispatch_deploy(Path("."), FLOWS, ENV, ref="main", gateway=gateway)
    rendered = "".join(traceback.format_exception(info.value))
    assert_token_absent(str(info.value), repr(info.value), repr(info.value.args), rendered)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_no_dispatch_happens_when_the_token_is_rejected(standin):
    with pytest.raises(GitHubError, match="401"):
        gateway_for(standin, token="wrong").dispatch("deploy.yml", "main", {"flows": "[]", "env": "x"})
    assert standin.requests_to("dispatch") == []


# ------------------------------------------------------------------ watching


@pytest.mark.parametrize(("states", "code", "conclusion"), [(SUCCESS, 0, "success"), (FAILURE, 1, "failure")])
def test_watch_follows_the_run_to_its_conclusion(standin, capfd, states, code, conclusion):
    standin.run_states = states
    standin.on_dispatch = add_noise_after_dispatch
    outcome = cli(
        lambda: dispatch_deploy(
            Path("."), ["a"], "dev", ref="main", watch=True, gateway=gateway_for(standin), poll_seconds=0.01
        )
    )
    assert outcome == code
    out, err = capfd.readouterr()
    run_id = standin.dispatched[0]["id"]
    assert f"run {run_id}: queued" in out
    assert f"run {run_id}: in progress" in out
    assert f"run {run_id}: completed: {conclusion}" in out
    assert {r.path for r in standin.requests_to("get_run")} == {
        f"/repos/octo-org/flows/actions/runs/{run_id}"
    }
    assert_token_absent(out, err)


def test_watch_returns_conclusion_in_the_outcome(standin):
    outcome = dispatch_deploy(
        Path("."), ["a"], "dev", ref="main", watch=True, gateway=gateway_for(standin),
        poll_seconds=0.01, console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
    )
    assert (outcome.conclusion, outcome.exit_code) == ("success", 0)


def test_watch_rides_out_a_transient_5xx(standin):
    standin.fail("get_run", 503, times=2)
    outcome = dispatch_deploy(
        Path("."), ["a"], "dev", ref="main", watch=True, gateway=gateway_for(standin),
        poll_seconds=0.01, console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
    )
    assert outcome.conclusion == "success"


def test_watch_times_out_with_a_clear_line(standin):
    standin.run_states = (("waiting", None),)
    with pytest.raises(GitHubError, match=r"still waiting for approval .* after 0.05s"):
        dispatch_deploy(
            Path("."), ["a"], "prod", ref="main", watch=True, gateway=gateway_for(standin),
            poll_seconds=0.01, timeout=0.05, console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
        )


# ------------------------------------------------------------------ from a real checkout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_repo_ref_and_token_come_from_the_checkout_and_environment(standin, tmp_path, capfd):
    """No gateway injected: origin remote -> repository, branch -> ref, env -> token and API URL."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "feature/x")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x")
    git("remote", "add", "origin", "git@github.com:octo-org/flows.git")
    environ = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": standin.url}
    outcome = dispatch_deploy(tmp_path, ["a"], "dev", watch=False, environ=environ)
    (sent,) = standin.requests_to("dispatch")
    assert sent.body["ref"] == "feature/x"
    assert outcome.run_id == standin.dispatched[0]["id"]
    assert outcome.repo == "octo-org/flows"
    out, err = capfd.readouterr()
    assert_token_absent(out, err)


# ------------------------------------------------------------------ the real CLI


REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path):
    """A project checkout on branch feature/x whose origin is the stand-in's repository."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    shutil.copytree(REPO_ROOT / "config", tmp_path / "config")
    shutil.copytree(REPO_ROOT / "demo_flows", tmp_path / "demo_flows")  # the config's flows_root
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1.0"\n')
    for args in (
        ["init", "-q", "-b", "feature/x"],
        ["remote", "add", "origin", "https://github.com/octo-org/flows.git"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


@pytest.mark.parametrize(
    ("case", "code", "expected"),
    [
        ("ok", 0, "actions/runs/"),
        ("watch-failure", 1, "completed: failure"),
        ("401", 1, "GitHub rejected the token (401)"),
        ("404", 1, "workflow deploy.yml not found in octo-org/flows (404)"),
        ("422", 1, "GitHub refused the inputs (422): Unexpected inputs provided"),
    ],
)
def test_cli_deploy_via_github(standin, checkout, case, code, expected):
    token, extra = TOKEN, []
    if case == "401":
        token = TOKEN + "-revoked"
    elif case == "404":
        standin.workflows.discard("deploy.yml")
    elif case == "422":
        standin.fail("dispatch", 422, 'Unexpected inputs provided: ["env"]')
    elif case == "watch-failure":
        standin.run_states = (("completed", "failure"),)
        extra = ["--watch"]
    env = {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN"}}
    env.update(GITHUB_TOKEN=token, GITHUB_API_URL=standin.url, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "flowportal.cli", "deploy", "--flow", "hello world", "--env", ENV,
         "--via", "github", *extra],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == code, done.stderr
    assert expected in (done.stdout if code == 0 or case == "watch-failure" else done.stderr)
    if code and case != "watch-failure":
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert_token_absent(done.stdout, done.stderr)
    if case in {"ok", "watch-failure"}:
        (sent,) = standin.requests_to("dispatch")
        assert sent.body["ref"] == "feature/x"
        assert sent.body["inputs"] == {"flows": '["hello world"]', "env": ENV}
