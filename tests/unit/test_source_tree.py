"""Walking a project tree and caching discovery (portal_io.source_tree / discovery_cache).

Trees are built in `tmp_path`; the last tests run over the repository's own
`demo_flows/` package, which is what users see first.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from portal_core.errors import DiscoveryError
from portal_io.discovery_cache import CACHE_FILE_NAME
from portal_io.source_tree import (
    GitIgnore,
    iter_python_sources,
    scan_flows,
    scan_tree,
    walk_python_files,
)

REPO = Path(__file__).resolve().parents[2]

FLOW = "from prefect import flow\n\n\n@flow\ndef {name}() -> None:\n    pass\n"
PLAIN = "import os\n\nX = os.sep\n"
PAST_NS = 1_600_000_000 * 10**9  # 2020: older than any cache file written by a test


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(PAST_NS, PAST_NS))
    return path


def flow_file(root: Path, relative: str, name: str | None = None) -> Path:
    return write(root, relative, FLOW.format(name=name or Path(relative).stem))


def walked(root: Path, under: str = "") -> list[str]:
    return [f.relative_path for f in walk_python_files(root, under)]


# --- what the walk skips ------------------------------------------------------------

SKIPPED_DIRS = [
    ".git",
    ".hg",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".nox",
    ".eggs",
    "mypkg.egg-info",
    "lib/python3.11/site-packages",
    ".mypy_cache",
    ".pytest_cache",
    ".portal",
]


@pytest.mark.parametrize("skipped", SKIPPED_DIRS)
def test_walk_skips_tool_and_dependency_folders(tmp_path: Path, skipped: str) -> None:
    flow_file(tmp_path, "app/main_flow.py")
    flow_file(tmp_path, f"{skipped}/pkg/hidden_flow.py")
    flow_file(tmp_path, f"app/{skipped}/nested_hidden.py")
    assert walked(tmp_path) == ["app/main_flow.py"]


def test_walk_skips_virtualenvs_by_marker_file(tmp_path: Path) -> None:
    flow_file(tmp_path, "src/real.py")
    write(tmp_path, "python-env/pyvenv.cfg", "home = /usr/bin\n")
    flow_file(tmp_path, "python-env/lib/python3.11/foo/vendored.py")
    assert walked(tmp_path) == ["src/real.py"]


def test_walk_lists_only_python_files_sorted_and_posix(tmp_path: Path) -> None:
    for rel in ("b/z.py", "b/a.py", "a.py", "c/d/e/f.py", "notes.txt", "script.pyc", "x.pyi"):
        write(tmp_path, rel, PLAIN)
    assert walked(tmp_path) == ["a.py", "b/a.py", "b/z.py", "c/d/e/f.py"]


def test_walk_does_not_follow_directory_symlinks(tmp_path: Path) -> None:
    flow_file(tmp_path, "src/real.py")
    (tmp_path / "src" / "loop").symlink_to(tmp_path / "src", target_is_directory=True)
    assert walked(tmp_path) == ["src/real.py"]


def test_walk_honours_the_root_gitignore(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".gitignore",
        "# generated code\n"
        "\n"
        "generated/\n"
        "*_pb2.py\n"
        "/scratch.py\n"
        "docs/**/example_*.py\n"
        "**/tmp\n"
        "vendor/*\n"
        "!vendor/keep.py\n",
    )
    for rel in (
        "app/flows.py",
        "generated/a.py",
        "app/generated/b.py",
        "app/api_pb2.py",
        "scratch.py",
        "app/scratch.py",
        "docs/example_a.py",
        "docs/x/y/example_b.py",
        "docs/real.py",
        "tmp/t.py",
        "app/tmp/t.py",
        "vendor/lib.py",
        "vendor/keep.py",
    ):
        flow_file(tmp_path, rel, name="f")
    assert walked(tmp_path) == [
        "app/flows.py",
        "app/scratch.py",  # `/scratch.py` is anchored to the root
        "docs/real.py",
        "vendor/keep.py",
    ]


def test_walk_honours_nested_gitignores(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.gen.py\n")
    write(tmp_path, "pkg/.gitignore", "local_*.py\n!local_keep.py\n")
    for rel in ("a.gen.py", "pkg/b.gen.py", "pkg/local_x.py", "pkg/local_keep.py", "local_y.py"):
        flow_file(tmp_path, rel, name="f")
    assert walked(tmp_path) == ["local_y.py", "pkg/local_keep.py"]


def test_gitignore_applies_when_walking_below_the_root(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "src/pkg/skip/\n")
    flow_file(tmp_path, "src/pkg/keep/a.py")
    flow_file(tmp_path, "src/pkg/skip/b.py")
    flow_file(tmp_path, "other/c.py")
    assert walked(tmp_path, "src/pkg") == ["src/pkg/keep/a.py"]


def test_missing_source_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="does not exist"):
        scan_flows(tmp_path, "no/such/folder")


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "ignored"),
    [
        ("*.log", "a.log", False, True),
        ("*.log", "deep/er/a.log", False, True),
        ("*.log", "a.logx", False, None),
        ("build/", "build", True, True),
        ("build/", "build", False, None),
        ("/top", "top", True, True),
        ("/top", "sub/top", True, None),
        ("a/b", "a/b", False, True),
        ("a/b", "x/a/b", False, None),
        ("**/x", "x", True, True),
        ("**/x", "p/q/x", True, True),
        ("a/**/z.py", "a/z.py", False, True),
        ("a/**/z.py", "a/b/c/z.py", False, True),
        ("a/**", "a/b.py", False, True),
        ("a/**", "a", True, None),
        ("f?.py", "f1.py", False, True),
        ("f?.py", "f12.py", False, None),
        ("[ab].py", "a.py", False, True),
        ("[!ab].py", "a.py", False, None),
        ("[!ab].py", "c.py", False, True),
        ("\\#hash.py", "#hash.py", False, True),
        ("# comment", "# comment", False, None),
        ("trailing.py   ", "trailing.py", False, True),
        ("x*y", "x/y", False, None),  # `*` never crosses a folder
    ],
)
def test_gitignore_patterns(pattern: str, path: str, is_dir: bool, ignored: bool | None) -> None:
    assert GitIgnore.parse(pattern).match(path, is_dir) is ignored


def test_gitignore_last_rule_wins() -> None:
    ignore = GitIgnore.parse("*.py\n!keep.py\n")
    assert ignore.match("drop.py", False) is True
    assert ignore.match("keep.py", False) is False
    assert GitIgnore.parse("!keep.py\n*.py\n").match("keep.py", False) is True


def test_a_hostile_gitignore_does_not_stall_the_walk(tmp_path: Path) -> None:
    """Patterns that make backtracking matchers exponential cost one pass per path here."""
    hostile = "**/*a*a*a*a*a*a*a*a*a*b\n/" + "*a" * 30 + "/**/*a*a*a*a*a*c\n"
    write(tmp_path, ".gitignore", hostile)
    deep = "/".join(["a" * 60] * 8)
    flow_file(tmp_path, f"{deep}/{'a' * 100}.py", "deep")
    flow_file(tmp_path, f"{deep}/{'a' * 100}b", "ignored")  # not .py: only the folders matter
    started = time.perf_counter()
    found = walked(tmp_path)
    assert time.perf_counter() - started < 1.0
    assert found == [f"{deep}/{'a' * 100}.py"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#" * (64 * 1024 + 1), "pkg/.gitignore: larger than 64 KiB; trim it"),
        ("\n".join(f"a*b*c{i}" for i in range(51)),
         "pkg/.gitignore: 51 wildcard patterns (51 with several wildcards); at most 200 (50) are"
         " supported; merge or drop patterns"),
    ],
    ids=["too-big", "too-complex"],
)
def test_an_unreasonable_gitignore_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    flow_file(tmp_path, "pkg/a.py")
    write(tmp_path, "pkg/.gitignore", text)
    with pytest.raises(DiscoveryError) as raised:
        walked(tmp_path)
    assert str(raised.value) == message


def test_a_gitignore_that_is_a_pipe_is_skipped_without_blocking(tmp_path: Path) -> None:
    flow_file(tmp_path, "pkg/a.py")
    os.mkfifo(tmp_path / "pkg" / ".gitignore")
    assert walked(tmp_path) == ["pkg/a.py"]


# --- sources and the pre-filter -------------------------------------------------------


def test_iter_python_sources_prefilters_by_content(tmp_path: Path) -> None:
    flow_file(tmp_path, "a_flow.py")
    write(tmp_path, "plain.py", PLAIN)
    write(tmp_path, "task_only.py", "from prefect import task\n# used by the flow\n@task\ndef t(): ...\n")
    assert [p for p, _ in iter_python_sources(tmp_path)] == ["a_flow.py"]
    assert [p for p, _ in iter_python_sources(tmp_path, prefilter=False)] == [
        "a_flow.py",
        "plain.py",
        "task_only.py",
    ]


def test_sources_are_decoded_forgivingly(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(b"\xef\xbb\xbf# caf\xe9\n" + FLOW.format(name="bom_flow").encode())
    ((relative, text),) = iter_python_sources(tmp_path)
    assert relative == "latin.py"
    assert text.startswith("# caf\ufffd")
    assert scan_flows(tmp_path).keys == ("bom_flow",)


# --- scanning ------------------------------------------------------------------------


def test_scan_reports_broken_files_and_continues(tmp_path: Path) -> None:
    flow_file(tmp_path, "pkg/good.py")
    write(tmp_path, "pkg/broken.py", "from prefect import flow\n\n@flow\ndef broken(:\n")
    result = scan_flows(tmp_path)
    assert result.keys == ("good",)
    assert [e.format() for e in result.errors] == ["pkg/broken.py:4: syntax error: invalid syntax"]


def test_scan_finds_collisions_across_folders(tmp_path: Path) -> None:
    flow_file(tmp_path, "a/report.py", name="nightly_report")
    write(tmp_path, "b/report.py", 'import prefect\n\n@prefect.flow(name="nightly-report")\ndef r(): ...\n')
    result = scan_flows(tmp_path)
    with pytest.raises(DiscoveryError, match=r"a/report\.py:5.*b/report\.py:4"):
        result.raise_for_collisions()


def test_source_root_sets_grouping_and_keeps_entrypoints_relative_to_root(tmp_path: Path) -> None:
    flow_file(tmp_path, "src/pkg/etl/extract.py")
    (flow,) = scan_flows(tmp_path, "src/pkg").flows
    assert flow.grouping == ("etl",)
    assert flow.entrypoint == "src/pkg/etl/extract.py:extract"


def test_scan_parses_only_candidate_files(tmp_path: Path) -> None:
    flow_file(tmp_path, "f.py")
    for i in range(20):
        write(tmp_path, f"plain_{i}.py", PLAIN)
    scan = scan_tree(tmp_path)
    assert (scan.files_seen, scan.files_parsed, scan.cache_hits) == (21, 1, 0)


# --- the cache -------------------------------------------------------------------------


def make_project(root: Path) -> None:
    flow_file(root, "pkg/one.py")
    flow_file(root, "pkg/two.py")
    write(root, "pkg/plain.py", PLAIN)
    write(root, "pkg/broken.py", "from prefect import flow\n@flow\ndef x(:\n")


def test_cache_miss_then_hit(tmp_path: Path) -> None:
    make_project(tmp_path)
    cache = tmp_path / ".portal" / "cache"
    cold = scan_tree(tmp_path, cache_dir=cache)
    assert (cold.files_seen, cold.files_parsed, cold.cache_hits) == (4, 3, 0)
    assert (cache / CACHE_FILE_NAME).is_file()
    assert [p.name for p in cache.iterdir()] == [CACHE_FILE_NAME]  # no temp files left
    warm = scan_tree(tmp_path, cache_dir=cache)
    assert (warm.files_seen, warm.files_parsed, warm.cache_hits) == (4, 0, 4)
    assert warm.discovery == cold.discovery
    assert warm.discovery.keys == ("one", "two")
    assert len(warm.discovery.errors) == 1


def test_changed_file_is_reparsed(tmp_path: Path) -> None:
    make_project(tmp_path)
    cache = tmp_path / "cache"
    scan_tree(tmp_path, cache_dir=cache)
    flow_file(tmp_path, "pkg/one.py", name="one_renamed")
    os.utime(tmp_path / "pkg/one.py", ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    flow_file(tmp_path, "pkg/three.py")
    (tmp_path / "pkg/two.py").unlink()
    scan = scan_tree(tmp_path, cache_dir=cache)
    assert (scan.files_parsed, scan.cache_hits) == (2, 2)
    assert scan.discovery.keys == ("one_renamed", "three")
    stored = json.loads((cache / CACHE_FILE_NAME).read_text())
    assert sorted(stored["files"]) == ["pkg/broken.py", "pkg/one.py", "pkg/plain.py", "pkg/three.py"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\x00\xff",
        b"[]",
        b'{"format": 999, "source_root": "", "files": {}}',
        b'{"format": 1, "source_root": "", "files": {"pkg/one.py": [1]}}',
        b'{"format": 1, "source_root": "", "files": {"pkg/one.py": ["a", "b", null]}}',
        b'{"format": 1, "source_root": "", "files": {"pkg/one.py": [1, 2, {"flows": [{}]}]}}',
    ],
)
def test_corrupt_cache_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    make_project(tmp_path)
    cache = tmp_path / "cache"
    expected = scan_tree(tmp_path).discovery
    cache.mkdir()
    (cache / CACHE_FILE_NAME).write_bytes(content)
    scan = scan_tree(tmp_path, cache_dir=cache)
    assert scan.discovery == expected
    assert scan.cache_hits == 0
    assert scan_tree(tmp_path, cache_dir=cache).cache_hits == 4


def test_cache_for_another_source_root_is_not_used(tmp_path: Path) -> None:
    flow_file(tmp_path, "src/pkg/etl/a.py")
    cache = tmp_path / "cache"
    scan_tree(tmp_path, "src", cache_dir=cache)
    scan = scan_tree(tmp_path, "src/pkg", cache_dir=cache)
    assert scan.cache_hits == 0
    assert scan.discovery.flows[0].grouping == ("etl",)


def test_racy_entries_are_not_trusted(tmp_path: Path) -> None:
    make_project(tmp_path)
    cache = tmp_path / "cache"
    scan_tree(tmp_path, cache_dir=cache)
    # A file whose mtime is not older than the cache could have changed unseen.
    cache_mtime = (cache / CACHE_FILE_NAME).stat().st_mtime_ns
    os.utime(tmp_path / "pkg/one.py", ns=(cache_mtime, cache_mtime))
    scan = scan_tree(tmp_path, cache_dir=cache)
    assert (scan.files_parsed, scan.cache_hits) == (1, 3)


def test_unwritable_cache_dir_only_costs_speed(tmp_path: Path) -> None:
    make_project(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    scan = scan_tree(tmp_path, cache_dir=blocker / "cache")
    assert scan.discovery.keys == ("one", "two")


# --- the repository's demo flows ----------------------------------------------------------

DEMO_KEYS = {
    "hello_world",
    "daily_cleanup",
    "count_rows",
    "refresh_cache",
    "aliased_report",
    "check_endpoints",
    "warehouse_sync",
    "extract_orders",
    "daily_summary",
}


def test_demo_flows_are_all_found() -> None:
    result = scan_flows(REPO, "demo_flows")
    assert set(result.keys) == DEMO_KEYS
    assert len(result.keys) == len(DEMO_KEYS)
    assert result.errors == ()
    assert result.collisions == ()
    assert "not_a_prefect_flow" not in result.keys
    assert all(f.relative_path.startswith("demo_flows/") for f in result.flows)


def test_demo_flow_details() -> None:
    flows = scan_flows(REPO, "demo_flows").by_key()
    hello = flows["hello_world"]
    assert hello.entrypoint == "demo_flows/hello_world.py:hello_world"
    assert hello.prefect_flow_name == "hello-world"
    assert flows["daily_cleanup"].function_name == "remove_old_files"
    assert flows["daily_cleanup"].prefect_flow_name == "daily-cleanup"
    assert flows["check_endpoints"].is_async
    assert flows["extract_orders"].grouping == ("etl",)
    assert flows["daily_summary"].grouping == ("reports", "daily")
    for flow in flows.values():
        line = (REPO / flow.relative_path).read_text().splitlines()[flow.line_number - 1]
        assert line.lstrip().startswith(("def ", "async def "))


@pytest.mark.parametrize(("field", "value"), [("line_number", "3"), ("grouping", "pkg"),
                                              ("is_async", 1), ("description", None)])
def test_a_cached_field_of_the_wrong_type_drops_the_cache_never_lists_it(
    tmp_path: Path, field: str, value: object
) -> None:
    make_project(tmp_path)
    cache = tmp_path / "cache"
    scan_tree(tmp_path, cache_dir=cache)
    stored = json.loads((cache / CACHE_FILE_NAME).read_text())
    (record,) = stored["files"]["pkg/one.py"][2]["flows"]
    record.update({"key": "tampered", field: value})
    (cache / CACHE_FILE_NAME).write_text(json.dumps(stored))
    scan = scan_tree(tmp_path, cache_dir=cache)
    assert scan.discovery.keys == ("one", "two")
    assert scan.cache_hits == 0


def test_a_cache_written_and_read_back_lists_the_same_records(tmp_path: Path) -> None:
    """Also: with an intact cache, a tampered-with text field would be served (the check above can fail)."""
    make_project(tmp_path)
    cache = tmp_path / "cache"
    cold = scan_tree(tmp_path, cache_dir=cache)
    assert scan_tree(tmp_path, cache_dir=cache).discovery == cold.discovery
    stored = json.loads((cache / CACHE_FILE_NAME).read_text())
    stored["files"]["pkg/one.py"][2]["flows"][0]["key"] = "tampered"
    (cache / CACHE_FILE_NAME).write_text(json.dumps(stored))
    assert "tampered" in scan_tree(tmp_path, cache_dir=cache).discovery.keys
