"""Start-up: what `--list` and `list-flows` import, and the config memo behind `list-flows`.

Every module a command imports is paid for on each run (the target is well
under a second for the everyday read-only commands; `benchmarks/startup.py`
measures it). These tests check the import graph in a fresh interpreter,
not the time: a heavy import creeping back fails here on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowportal import config_memo
from flowportal.config_memo import memo_path, project_flows_root
from flowportal.workspace import ENVIRONMENTS_FILE, STATIC_FLOWS_FILE, load_workspace
from portal_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

#: Never needed to list the commands: output styling, Prefect, the YAML
#: library, the server and API adapters, the config and plan models.
NOT_FOR_LIST = ("rich", "prefect", "ruamel", "cattrs", "portal_io.local_server", "portal_io.prefect_api",
                "portal_core.config", "portal_core.plan", "portal_core.environment", "httpx", "ghapi")
#: list-flows prints its table without rich when the output is not a terminal (as
#: here); the rest stays out too (in a project, once the config memo holds: no YAML
#: library, no config model or its structuring library).
NOT_FOR_LIST_FLOWS = ("prefect", "ruamel", "cattrs", "portal_io.local_server", "portal_io.prefect_api",
                      "portal_core.config", "portal_core.plan", "portal_core.environment", "httpx",
                      "ghapi", "portal_io.yaml_files", "rich")
#: The console script runs a plain `list-flows` command line without invoke at all.
NOT_FOR_PLAIN_LIST_FLOWS = (*NOT_FOR_LIST_FLOWS, "invoke")


def loaded_after(code: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> list[str]:
    """The modules (of those the command must not need) loaded after running `code`."""
    probe = code + textwrap.dedent("""
        import json, sys
        watched = WATCHED
        print(json.dumps(sorted(m for m in sys.modules
                                if any(m == w or m.startswith(w + ".") for w in watched))))
    """).replace("WATCHED", repr(sorted(set(NOT_FOR_LIST) | set(NOT_FOR_PLAIN_LIST_FLOWS))))
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=True, env={**os.environ, **(env or {})})
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def heavy(loaded: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)]


#: Output captured as from a pipe: UTF-8, not a terminal.
PIPE = "io.TextIOWrapper(io.BytesIO(), encoding='utf-8', write_through=True)"
RUN = (
    "import contextlib, io\n"
    f"with contextlib.redirect_stdout({PIPE}) as out:\n"
    "    program.run(ARGV, exit=False)\n"
    "assert out.buffer.getvalue(), 'the command printed nothing'\n"
)


def test_the_console_script_lists_its_commands_without_heavy_imports() -> None:
    code = "from flowportal.cli import program\n" + RUN.replace("ARGV", "['flowportal', '--list']")
    assert heavy(loaded_after(code), NOT_FOR_LIST) == []


def test_the_console_script_defers_unittest_mock_and_invoke_mock_context_still_works() -> None:
    code = (
        "from flowportal.cli import program\n"
        + RUN.replace("ARGV", "['flowportal', '--list']")
        + "import sys\n"
        "assert 'unittest.mock' not in sys.modules and 'asyncio' not in sys.modules, 'loaded'\n"
        "from invoke import MockContext, Result\n"
        "context = MockContext(run={'echo hi': Result('hi')})\n"
        "assert context.run('echo hi').stdout == 'hi'\n"
        "import unittest.mock\n"
        "assert isinstance(context.run, unittest.mock.Mock) and context.run.call_count == 1\n"
        "assert callable(unittest.mock.patch)\n"
    )
    loaded_after(code)  # check=True: any failed assertion fails the test


def test_the_console_script_defers_importlib_metadata_and_invoke_knows_its_version() -> None:
    code = (
        "from flowportal.cli import program\n"
        + RUN.replace("ARGV", "['flowportal', '--list']")
        + "import sys\n"
        "assert 'importlib.metadata' not in sys.modules, 'loaded'\n"
        "import importlib.metadata, invoke\n"
        "assert invoke.__version__ == importlib.metadata.version('invoke'), invoke.__version__\n"
        "assert callable(importlib.metadata.distributions)\n"
        "assert invoke.metadata.version('attrs') == importlib.metadata.version('attrs')\n"
    )
    loaded_after(code)


def _dist_info(folder: Path, name: str, version: str) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "METADATA").write_text(f"Metadata-Version: 2.1\nName: invoke\nVersion: {version}\n\nBody\n")


def test_invoke_s_version_is_read_from_the_first_dist_info_on_the_path_or_left_to_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowportal.cli import _invoke_version_from_dist_info

    first, second = tmp_path / "first", tmp_path / "second"
    _dist_info(first, "invoke-9.1.0.dist-info", "9.1.0")
    _dist_info(second, "invoke-1.0.0.dist-info", "1.0.0")
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path / "empty"), str(tmp_path / "missing"), str(first), str(second)])
    assert _invoke_version_from_dist_info() == "9.1.0"
    _dist_info(first, "invoke-9.2.0.dist-info", "9.2.0")  # two: which one would importlib pick?
    assert _invoke_version_from_dist_info() is None
    monkeypatch.setattr(sys, "path", [str(second)])
    (second / "invoke-1.0.0.dist-info" / "METADATA").write_text("Name: invoke\n\nVersion: 2\n")
    assert _invoke_version_from_dist_info() is None  # no Version header
    monkeypatch.setattr(sys, "path", [str(tmp_path / "x.zip")])
    (tmp_path / "x.zip").write_bytes(b"PK")
    assert _invoke_version_from_dist_info() is None


def test_invoke_list_in_this_repository_loads_tasks_py_without_heavy_imports() -> None:
    # invoke's own program, finding and importing this repository's tasks.py.
    code = "from invoke.main import program\n" + RUN.replace("ARGV", "['invoke', '--list']")
    assert heavy(loaded_after(code), NOT_FOR_LIST) == []


def test_the_import_probe_would_notice_a_heavy_import() -> None:
    loaded = heavy(loaded_after("import rich.table, portal_core.plan"), NOT_FOR_LIST)
    assert {"rich", "rich.table", "portal_core.plan"} <= set(loaded)


def _project(root: Path, environments: str = "flows_root: flows\nenvironments:\n  dev: {}\n") -> Path:
    (root / "config").mkdir(parents=True)
    (root / ENVIRONMENTS_FILE).write_text(environments)
    (root / "pyproject.toml").write_text('[project]\nname = "memo-demo"\n')
    (root / "flows").mkdir()
    (root / "flows" / "a.py").write_text("from prefect import flow\n\n@flow\ndef a() -> None:\n    pass\n")
    return root


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test count as settled (normally: changed over a second ago)."""
    monkeypatch.setattr(config_memo, "SETTLE_NS", 0)


def test_list_flows_in_a_project_and_with_root_skip_yaml_and_config_once_memoised(
    tmp_path: Path, settled: None
) -> None:
    project = _project(tmp_path / "proj")
    project_flows_root(project)  # a first run validates the config and memoises it
    assert memo_path(project).is_file()
    in_project = "from flowportal.cli import program\n" + RUN.replace("ARGV", "['flowportal', 'list-flows']")
    assert heavy(loaded_after(in_project, cwd=project), NOT_FOR_LIST_FLOWS) == []
    with_root = "from flowportal.cli import program\n" + RUN.replace(
        "ARGV", f"['flowportal', 'list-flows', '--root', {str(project / 'flows')!r}]")
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert heavy(loaded_after(with_root, cwd=tmp_path, env=cache), NOT_FOR_LIST_FLOWS) == []


MAIN = (
    "import contextlib, io, sys\n"
    "sys.argv = ARGV\n"
    "from flowportal.cli import main\n"
    f"with contextlib.redirect_stdout({PIPE}) as out:\n"
    "    main()\n"
    "assert out.buffer.getvalue(), 'the command printed nothing'\n"
)


def test_the_console_script_lists_flows_without_invoke_or_rich(tmp_path: Path, settled: None) -> None:
    project_flows_root(ROOT)  # this repository's config memoised, as after a first run (or an edit's)
    for argv in (["flowportal", "list-flows"], ["flowportal", "list-flows", "--json", "--strict"]):
        assert heavy(loaded_after(MAIN.replace("ARGV", repr(argv))), NOT_FOR_PLAIN_LIST_FLOWS) == [], argv
    project = _project(tmp_path / "proj")
    project_flows_root(project)  # memoised, as after a first run
    in_project = MAIN.replace("ARGV", "['flowportal', 'list-flows']")
    assert heavy(loaded_after(in_project, cwd=project), NOT_FOR_PLAIN_LIST_FLOWS) == []
    with_root = MAIN.replace("ARGV", repr(["flowportal", "list-flows", "--root", str(project / "flows")]))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert heavy(loaded_after(with_root, cwd=tmp_path, env=cache), NOT_FOR_PLAIN_LIST_FLOWS) == []
    on_a_terminal = MAIN.replace("ARGV", "['flowportal', 'list-flows']").replace(
        "io.TextIOWrapper(", "type('Tty', (io.TextIOWrapper,), {'isatty': lambda self: True})(")
    coloured = loaded_after(on_a_terminal, env={"TERM": "xterm-256color", "NO_COLOR": ""})
    assert heavy(coloured, NOT_FOR_PLAIN_LIST_FLOWS) == []


def test_the_probe_sees_invoke_and_rich_where_they_are_used() -> None:
    """The check above could fail: `--help` and a table on a terminal still load them."""
    helped = loaded_after(MAIN.replace("ARGV", "['flowportal', 'list-flows', '--help']")
                          .replace("    main()", "    try:\n        main()\n    except SystemExit:\n        pass"))
    assert "invoke" in helped
    coloured = loaded_after(MAIN.replace("ARGV", "['flowportal', 'list-flows']"), env={"FORCE_COLOR": "1"})
    assert "rich" in {m.split(".")[0] for m in coloured}


def test_without_the_memo_list_flows_reads_the_yaml() -> None:
    """The check above could fail: a project load does import the YAML library."""
    assert "ruamel" in {m.split(".")[0] for m in loaded_after(
        "from flowportal.workspace import load_workspace\nfrom pathlib import Path\n"
        "load_workspace(Path.cwd())\n")}


# --- the config memo ------------------------------------------------------------------


def _no_full_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the memo should have answered")

    monkeypatch.setattr(config_memo, "load_workspace", refuse)


def test_memo_answers_an_unchanged_project_without_loading(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    assert project_flows_root(project) == "flows"
    _no_full_load(monkeypatch)
    assert project_flows_root(project) == "flows"


def test_a_changed_config_is_loaded_again_with_the_same_error(tmp_path: Path, settled: None) -> None:
    project = _project(tmp_path)
    assert project_flows_root(project) == "flows"
    (project / ENVIRONMENTS_FILE).write_text("flows_root: flows\nenvironments:\n  dev: {work_pool: 3}\n")
    with pytest.raises(ConfigError) as direct:
        load_workspace(project)
    with pytest.raises(ConfigError) as memoised:
        project_flows_root(project)
    assert str(memoised.value) == str(direct.value)


def test_a_new_static_config_file_is_noticed(tmp_path: Path, settled: None) -> None:
    project = _project(tmp_path)
    assert project_flows_root(project) == "flows"
    (project / STATIC_FLOWS_FILE).write_text("a:\n  timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="timezone"):
        project_flows_root(project)


def test_a_flows_root_replaced_by_a_link_outside_is_refused(tmp_path: Path, settled: None) -> None:
    project = _project(tmp_path / "proj")
    assert project_flows_root(project) == "flows"
    (project / "flows" / "a.py").unlink()
    (project / "flows").rmdir()
    (tmp_path / "elsewhere").mkdir()
    (project / "flows").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="outside the repository"):
        project_flows_root(project)


def test_a_corrupt_or_foreign_memo_only_costs_a_full_load(tmp_path: Path, settled: None) -> None:
    project = _project(tmp_path)
    assert project_flows_root(project) == "flows"
    for text in ("{not json", "[]", '{"format": 99}', '{"format": 1, "config": 3}'):
        memo_path(project).write_text(text)
        assert project_flows_root(project) == "flows"
    assert json.loads(memo_path(project).read_text())["flows_root"] == "flows"


def test_files_changed_just_before_the_load_are_not_memoised(tmp_path: Path) -> None:
    # Without the `settled` fixture: the files were written a moment ago, so a change
    # racing with the read cannot be told apart from the state that was validated.
    project = _project(tmp_path)
    assert project_flows_root(project) == "flows"
    assert not memo_path(project).exists()


def test_masking_without_config_uses_the_same_credential_variables() -> None:
    from portal_core.environment import secret_variable_names
    from portal_core.redaction import CREDENTIAL_VARIABLES

    assert secret_variable_names(()) == frozenset(CREDENTIAL_VARIABLES)
