"""`.gitignore` matching (portal_core.gitignore) against git itself, and its time bound.

The law: for any patterns and any tree, `is_ignored` says exactly what
`git check-ignore` says. Each example builds a real tree in a throw-away repo
(so git knows which paths are folders) and asks git about every path in one
`--stdin` call.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal_core.gitignore import (
    MAX_COMPLEX_RULES,
    MAX_WILDCARD_RULES,
    IgnoreRules,
    IgnoreScope,
    TooManyRulesError,
    is_ignored,
    parse_rule,
)

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")

# Small alphabets so that generated patterns and paths actually meet.
NAME_CHARS = "ab.c-"
names = st.text(NAME_CHARS, min_size=1, max_size=4).filter(lambda n: n not in (".", ".."))
paths = st.lists(names, min_size=1, max_size=4).map("/".join)
pattern_atoms = st.sampled_from(
    ["a", "b", ".", "c", "-", "*", "**", "?", "/", "[ab]", "[!a]", "[^.]", "[a-c]", "[]a]",
     "[[:alpha:]]", "[[:digit:]]", "[", "\\*", "\\a", "!", "#", " ", "\\ ", "***"]
)
patterns = st.lists(pattern_atoms, min_size=1, max_size=7).map("".join)


def _tree_paths(leaves: list[str]) -> dict[str, bool]:
    """Every path of the tree the leaves describe -> is it a folder.

    A leaf that is also a parent of another leaf is a folder.
    """
    kinds: dict[str, bool] = {}
    for leaf in leaves:
        parts = leaf.split("/")
        for depth in range(1, len(parts)):
            kinds["/".join(parts[:depth])] = True
    for leaf in leaves:
        kinds.setdefault(leaf, False)
    return kinds


def git_ignored(repo: Path, gitignore: str, kinds: dict[str, bool]) -> set[str]:
    (repo / ".gitignore").write_text(gitignore, encoding="utf-8")
    for path, is_dir in kinds.items():
        target = repo / path
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
    for path, is_dir in kinds.items():
        if not is_dir:
            (repo / path).write_text("", encoding="utf-8")
    done = subprocess.run(
        [GIT or "git", "check-ignore", "--stdin", "-z", "--no-index"],
        cwd=repo,
        input="\0".join(kinds) + "\0",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return {p for p in done.stdout.split("\0") if p}


def ours(gitignore: str, kinds: dict[str, bool]) -> set[str]:
    scopes = [IgnoreScope("", IgnoreRules.parse(gitignore))]
    return {path for path, is_dir in kinds.items() if is_ignored(scopes, path, is_dir)}


@needs_git
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(patterns, min_size=1, max_size=4), leaves=st.lists(paths, min_size=1, max_size=6))
@example(lines=["a**/b"], leaves=["ab", "a/x/b", "ac/b"])
@example(lines=["/a**"], leaves=["ab/c", "a/b"])
@example(lines=["a/", "!a/b"], leaves=["a/b"])
@example(lines=["a/**", "!a/b"], leaves=["a/b", "a/c"])
@example(lines=["[a-]", "[]a]", "[!]a]"], leaves=["a", "-", "]", "b"])
@example(lines=["*a*a*a*a*b"], leaves=["aaaaaaaaaa/aab", "ab"])
@example(lines=["a\\ ", "b  ", "c\\"], leaves=["a ", "b", "c"])
def test_matches_git_check_ignore(lines: list[str], leaves: list[str]) -> None:
    gitignore = "\n".join(lines) + "\n"
    kinds = _tree_paths(leaves)
    repo = _REPO.get("path")
    if repo is None:
        repo = _REPO["path"] = Path(tempfile.mkdtemp(prefix="gitignore-law-"))
        subprocess.run([GIT or "git", "init", "-q", str(repo)], check=True, timeout=30)
    for entry in repo.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    assert ours(gitignore, kinds) == git_ignored(repo, gitignore, kinds)


_REPO: dict[str, Path] = {}  # one throw-away repository for all examples (git init is slow)


@pytest.fixture(scope="module", autouse=True)
def _remove_the_repo() -> Iterator[None]:
    yield
    if "path" in _REPO:
        shutil.rmtree(_REPO.pop("path"), ignore_errors=True)


suffix_lines = st.tuples(st.sampled_from(["", "!"]), st.sampled_from(["*", "**/*"]),
                         st.text("ab.c", min_size=1, max_size=3), st.sampled_from(["", "/"])).map("".join)


@needs_git
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(suffix_lines | patterns, min_size=8, max_size=16).filter(
           lambda ls: sum(1 for line in ls if line.lstrip("!").startswith("*")) >= 8),
       leaves=st.lists(paths, min_size=1, max_size=6))
def test_suffix_heavy_files_match_git_check_ignore(lines: list[str], leaves: list[str]) -> None:
    """Many `*.ext` rules switch to dictionary look-ups; git must still agree."""
    test_matches_git_check_ignore.hypothesis.inner_test(lines=lines, leaves=leaves)  # type: ignore[attr-defined]


PATHOLOGICAL = [
    ("**/*a*a*a*a*a*a*a*a*a*b", "/".join(["a" * 60] * 30)),
    ("*" * 2000 + "b", "a" * 4000),
    ("/" + "*a" * 40 + "/**/" + "*a" * 40 + "b", "/".join(["a" * 100] * 40)),
    ("a/**/" * 30 + "b", "/".join(["a"] * 500)),
    ("[a-z]*[a-z]*[a-z]*" * 10 + "!", "x" * 3000),
]


@pytest.mark.parametrize(("pattern", "path"), PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_patterns_finish_in_under_a_second(pattern: str, path: str) -> None:
    rules = IgnoreRules.parse(pattern)
    started = time.perf_counter()
    decisions = [rules.match(path, is_dir) for is_dir in (False, True)]
    assert time.perf_counter() - started < 1.0
    assert decisions == [None, None]


def test_many_hostile_rules_in_one_file_stay_fast() -> None:
    text = "\n".join(f"**/*{'a*' * (i % 15)}{i}" for i in range(MAX_COMPLEX_RULES))
    rules = IgnoreRules.parse(text)
    path = "/".join(["a" * 50] * 20)
    started = time.perf_counter()
    assert rules.match(path, False) is None
    assert rules.match(path + "/x0", False) is True
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(f"a*b*c{i}" for i in range(MAX_COMPLEX_RULES + 1)),
        "\n".join(f"x*.e{i}" for i in range(MAX_WILDCARD_RULES + 1)),
    ],
    ids=["complex", "wildcard"],
)
def test_past_the_bounds_a_file_is_refused(text: str) -> None:
    with pytest.raises(TooManyRulesError, match="are supported"):
        IgnoreRules.parse(text)


def test_literal_and_suffix_rules_are_unbounded_and_cheap() -> None:
    text = "\n".join([*(f"*.e{i}" for i in range(5000)), *(f"/gen/f{i}.py" for i in range(5000)), "!*.e7"])
    rules = IgnoreRules.parse(text)
    started = time.perf_counter()
    assert rules.match("deep/x.e4999", False) is True
    assert rules.match("deep/x.e7", False) is False
    assert rules.match("gen/f4999.py", False) is True
    assert rules.match("deep/gen/f1.py", False) is None
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("line", "negated", "dir_only", "anchored"),
    [
        ("build/", False, True, False),
        ("!keep.py", True, False, False),
        ("/top", False, False, True),
        ("a/b/", False, True, True),
        ("\\!bang", False, False, False),
    ],
)
def test_rule_flags(line: str, negated: bool, dir_only: bool, anchored: bool) -> None:
    rule = parse_rule(line, 3)
    assert rule is not None
    assert (rule.negated, rule.dir_only, rule.anchored, rule.line) == (negated, dir_only, anchored, 3)


@pytest.mark.parametrize("line", ["", "   ", "# comment", "!", "/", "\r"])
def test_lines_without_a_rule(line: str) -> None:
    assert parse_rule(line) is None


def test_a_malformed_bracket_matches_nothing_like_git() -> None:
    rules = IgnoreRules.parse("a[b\n[[:nope:]]\n")
    assert len(rules.rules) == 2
    assert rules.match("a[b", False) is None
    assert rules.match("n", False) is None


def test_nothing_under_an_ignored_folder_is_reincluded() -> None:
    scopes = [IgnoreScope("", IgnoreRules.parse("out/\n!out/keep.py\n"))]
    assert is_ignored(scopes, "out/keep.py", False)
    scopes = [IgnoreScope("", IgnoreRules.parse("out/*\n!out/keep.py\n"))]
    assert not is_ignored(scopes, "out/keep.py", False)
    assert is_ignored(scopes, "out/drop.py", False)


def test_a_deeper_file_overrides_and_applies_only_below_its_folder() -> None:
    scopes = [
        IgnoreScope("", IgnoreRules.parse("*.gen.py\n")),
        IgnoreScope("pkg/", IgnoreRules.parse("!keep.gen.py\n/local.py\n")),
    ]
    assert is_ignored(scopes, "pkg/x.gen.py", False)
    assert not is_ignored(scopes, "pkg/keep.gen.py", False)
    assert is_ignored(scopes, "keep.gen.py", False)
    assert is_ignored(scopes, "pkg/local.py", False)
    assert not is_ignored(scopes, "local.py", False)
    assert not is_ignored(scopes, "pkg/sub/local.py", False)
