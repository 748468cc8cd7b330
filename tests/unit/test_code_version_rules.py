"""Which local changes make a deploy `-dirty`, stated as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portal_core.deploy import DIRTY_SUFFIX, dirty_commit, uncommitted_paths

segments = st.text(alphabet="abcxyz_", min_size=1, max_size=6)
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
tracked_codes = st.sampled_from([" M", "M ", "MM", "A ", " D", "D ", "R ", "AM"])


@given(paths, tracked_codes)
def test_any_tracked_change_under_the_flows_root_counts(path: str, code: str) -> None:
    assert uncommitted_paths([(code, f"flows/{path}")], "flows") == [f"flows/{path}"]
    assert uncommitted_paths([(code, path)], ".") == [path]


@given(paths, st.sampled_from([".txt", ".md", ".csv", ""]))
def test_untracked_files_that_are_not_python_never_count(path: str, suffix: str) -> None:
    assert uncommitted_paths([("??", f"flows/{path}{suffix}")], "flows") == []
    assert uncommitted_paths([("??", f"{path}{suffix}")], ".") == []


@given(paths)
def test_untracked_python_counts_only_under_the_flows_root(path: str) -> None:
    assert uncommitted_paths([("??", f"flows/{path}.py")], "flows") == [f"flows/{path}.py"]
    assert uncommitted_paths([("??", f"scripts/{path}.py")], "flows") == []


@given(tracked_codes, st.sampled_from(["config/environments.yaml", "pyproject.toml"]))
def test_config_and_package_metadata_changes_count(code: str, path: str) -> None:
    assert uncommitted_paths([(code, path)], "flows") == [path]


@given(tracked_codes, paths)
def test_tracked_changes_elsewhere_do_not_count(code: str, path: str) -> None:
    assert uncommitted_paths([(code, f"docs/{path}")], "flows") == []
    assert uncommitted_paths([(code, f"flowsx/{path}")], "flows") == []  # a sibling, not the root


@given(st.text(alphabet="0123456789abcdef", min_size=7, max_size=12))
def test_a_dirty_commit_is_marked_once(commit: str) -> None:
    dirty = dirty_commit(commit)
    assert dirty == commit + DIRTY_SUFFIX
    assert dirty_commit(dirty) == dirty
