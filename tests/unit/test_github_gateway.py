"""Token, repository and branch resolution for `--via github`, with a fake process runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from portal_core.github import GitHubError, RepoRef
from portal_io.github_gateway import GitHubGateway, resolve_repo, resolve_token

SECRET = "gho_fromGhCli_123"


class FakeRun:
    """Records argument lists; answers from a script keyed by the command's first words."""

    def __init__(self, answers: dict[tuple[str, ...], object]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, argv, **kwargs):
        assert isinstance(argv, list), "commands are argument lists"
        assert not kwargs.get("shell"), "never through a shell"
        self.calls.append((argv, kwargs))
        for prefix, answer in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                if isinstance(answer, BaseException):
                    raise answer
                code, out = answer  # type: ignore[misc]
                return subprocess.CompletedProcess(argv, code, stdout=out, stderr="gh says: " + SECRET)
        raise AssertionError(f"unexpected command {argv}")


def test_token_order_is_github_token_then_gh_token_then_gh_cli():
    run = FakeRun({("gh",): (0, SECRET + "\n")})
    assert resolve_token({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}, run=run) == "a"
    assert resolve_token({"GITHUB_TOKEN": " ", "GH_TOKEN": "b"}, run=run) == "b"
    assert run.calls == []
    assert resolve_token({}, run=run) == SECRET
    assert run.calls[0][0] == ["gh", "auth", "token"]


def test_gh_cli_is_asked_for_the_enterprise_host():
    run = FakeRun({("gh",): (0, "t")})
    resolve_token({}, run=run, hostname="ghe.example")
    assert run.calls[0][0] == ["gh", "auth", "token", "--hostname", "ghe.example"]


@pytest.mark.parametrize(
    "answer", [FileNotFoundError("gh"), (1, ""), (0, "   "), subprocess.TimeoutExpired("gh", 20)]
)
def test_no_token_anywhere_is_one_clear_line(answer):
    with pytest.raises(GitHubError, match="set GITHUB_TOKEN or GH_TOKEN") as info:
        resolve_token({}, run=FakeRun({("gh",): answer}))
    assert SECRET not in str(info.value)
    assert "\n" not in str(info.value)


def test_repo_override_wins_and_is_validated():
    run = FakeRun({})
    assert resolve_repo(Path("."), "octo-org/flows", run=run) == RepoRef("octo-org", "flows")
    assert run.calls == []
    with pytest.raises(GitHubError, match="OWNER/NAME"):
        resolve_repo(Path("."), "not a repo", run=run)


def test_repo_from_origin_remote(tmp_path):
    run = FakeRun({("git", "remote"): (0, "git@ghe.example:team/flows.git\n")})
    assert resolve_repo(tmp_path, None, run=run) == RepoRef("team", "flows", "ghe.example")
    argv, kwargs = run.calls[0]
    assert argv == ["git", "remote", "get-url", "origin"]
    assert kwargs["cwd"] == tmp_path


def test_non_github_origin_does_not_echo_credentials(tmp_path):
    run = FakeRun({("git", "remote"): (0, f"https://me:{SECRET}@example.com/a/b/c.git")})
    with pytest.raises(GitHubError, match="not a GitHub repository") as info:
        resolve_repo(tmp_path, None, run=run)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [((2, ""), "no git remote 'origin'"), (FileNotFoundError("git"), "git is not installed")],
)
def test_missing_origin_or_git(tmp_path, answer, fragment):
    with pytest.raises(GitHubError, match=fragment):
        resolve_repo(tmp_path, None, run=FakeRun({("git",): answer}))


def test_gateway_needs_a_token_and_a_sane_api_url():
    with pytest.raises(GitHubError, match="no GitHub token"):
        GitHubGateway("o", "r", "")
    with pytest.raises(GitHubError, match="GITHUB_API_URL"):
        GitHubGateway("o", "r", "t", "api.github.com")


def test_gateway_repr_hides_the_token():
    gateway = GitHubGateway("o", "r", SECRET, "https://ghe.example/api/v3")
    assert SECRET not in repr(gateway)
    assert "o/r" in repr(gateway)


def test_importing_the_gateway_does_not_import_ghapi():
    code = (
        "import sys, portal_io.github_gateway, flowportal.usecases.github_dispatch;"
        "print('ghapi' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
