"""The one git adapter: the checkout's facts and reads of other branches, on real repositories."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flowportal.bootstrap import GitHubActions
from portal_io import git
from portal_io.errors import GitError, GitReadError

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def run_git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                          env={**IDENTITY, "HOME": str(root), "PATH": "/usr/bin:/bin:/usr/local/bin"})
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    run_git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "a.py").write_text("A = 1\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not python\n", encoding="utf-8")
    run_git(tmp_path, "add", ".")
    run_git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


class Answer:
    """A runner answering every git call with one exit code and stdout (or raising)."""

    def __init__(self, code: int = 0, stdout: str = "", raises: BaseException | None = None) -> None:
        self.code, self.stdout, self.raises = code, stdout, raises
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert isinstance(argv, list) and not kwargs.get("shell")
        self.calls.append(argv)
        if self.raises is not None:
            raise self.raises
        return subprocess.CompletedProcess(argv, self.code, stdout=self.stdout, stderr="fatal: no")


@needs_git
def test_the_checkout_facts(repo: Path) -> None:
    assert git.current_branch(repo) == "main"
    assert git.short_commit(repo) == run_git(repo, "rev-parse", "--short", "HEAD")
    assert git.status(repo) == []
    (repo / "flows" / "b.py").write_text("B = 2\n", encoding="utf-8")
    assert git.status(repo / "flows") == [("??", "b.py")]


@needs_git
def test_a_detached_head_or_no_checkout_is_a_git_error_naming_the_option(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_git(repo, "checkout", "-q", "--detach")
    with pytest.raises(GitError, match=r"detached HEAD; pass --branch"):
        git.current_branch(repo)
    with pytest.raises(GitError, match=r"detached HEAD; pass --ref BRANCH$"):
        git.current_branch(repo, hint="pass --ref BRANCH")
    with pytest.raises(GitError, match=r"^git rev-parse .*; pass --branch/--commit to override$"):
        git.short_commit(tmp_path_factory.mktemp("not-a-repo"))


def test_the_dispatch_ref_is_the_checked_out_branch_and_its_errors_name_ref(tmp_path: Path) -> None:
    assert GitHubActions({}, run=Answer(0, "feature/x\n")).default_ref(tmp_path) == "feature/x"
    with pytest.raises(GitError, match="detached HEAD; pass --ref BRANCH"):
        GitHubActions({}, run=Answer(0, "HEAD\n")).default_ref(tmp_path)
    with pytest.raises(GitError, match="pass --ref BRANCH"):
        GitHubActions({}, run=Answer(128)).default_ref(tmp_path)
    with pytest.raises(GitError, match="git is not installed; pass --ref BRANCH"):
        GitHubActions({}, run=Answer(raises=FileNotFoundError("git"))).default_ref(tmp_path)


@needs_git
def test_other_branches_and_files_are_read_from_git_objects(repo: Path) -> None:
    run_git(repo, "checkout", "-q", "-b", "feature")
    (repo / "flows" / "a.py").write_text("A = 2\n", encoding="utf-8")
    run_git(repo, "commit", "-q", "-am", "second")
    run_git(repo, "checkout", "-q", "main")
    assert git.local_branches(repo) == {"feature": "refs/heads/feature", "main": "refs/heads/main"}
    assert git.python_files_at(repo, "refs/heads/feature", "flows") == [("flows/a.py", "A = 2\n")]
    assert git.python_files_at(repo, "refs/heads/main", "") == [("flows/a.py", "A = 1\n")]
    assert git.file_at(repo, "feature", "flows/a.py") == "A = 2\n"
    assert git.file_at(repo, "feature", "flows/gone.py") is None
    assert git.remotes(repo) == []
    run_git(repo, "config", "user.name", "dana")
    assert git.user_name(repo) == "dana"
    with pytest.raises(GitReadError, match="git ls-remote --heads nowhere"):
        git.remote_branches(repo, "nowhere")
