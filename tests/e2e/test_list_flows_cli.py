"""`invoke list-flows` on this repository's demo flows, as a user runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "hello_world", "daily_cleanup", "count_rows", "refresh_cache", "aliased_report",
    "check_endpoints", "warehouse_sync", "extract_orders", "daily_summary",
}


def list_flows_json() -> list[dict[str, object]]:
    invoke = shutil.which("invoke", path=str(Path(sys.executable).parent)) or "invoke"
    done = subprocess.run([invoke, "list-flows", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_list_flows_json_lists_every_demo_flow_with_def_lines_and_stable_ids() -> None:
    first, second = list_flows_json(), list_flows_json()
    assert {r["name"] for r in first} == EXPECTED  # every flow, and no @app.flow
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert len({r["id"] for r in first}) == len(first)
    for record in first:
        attributes = record["child_attributes"]
        assert isinstance(attributes, dict)
        path, _, function = str(attributes["entrypoint"]).rpartition(":")
        assert path == record["source_relative"]
        line = (ROOT / path).read_text().splitlines()[int(record["line_number"]) - 1]  # type: ignore[call-overload]
        assert line.lstrip().startswith((f"def {function}(", f"async def {function}("))


def test_the_console_script_offers_the_same_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "flowportal.cli", "--list"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    for command in ("list-flows", "list-deployments", "deploy", "promote", "diff",
                    "check-config", "server.start"):
        assert command in done.stdout


# --- the console script's invoke-free path ---------------------------------------------
#
# A plain `flowportal list-flows ...` runs without importing invoke and, when the
# output is not a terminal, prints the table without rich. The reference is the
# way it ran before: invoke's Program with rich printing the table (FORCE_COLOR set
# but empty: rich's renderer, still without colour). Output and exit status must
# be byte for byte the same.

WITHOUT_INVOKE = """
import atexit, json, os, sys

def _mark() -> None:
    cli = sys.modules.get("flowportal.cli")
    with open(os.environ["FLOWPORTAL_TEST_MARK"], "w") as handle:
        json.dump({"invoke_program": cli is None or "program" in vars(cli),
                   "rich": "rich" in sys.modules}, handle)

atexit.register(_mark)
sys.argv = ["flowportal", *sys.argv[1:]]
from flowportal.cli import main
main()
"""
THROUGH_INVOKE_AND_RICH = (
    "import sys\nfrom flowportal.cli import program\nprogram.run(['flowportal', *sys.argv[1:]])\n"
)
SECRET = "s3cr3t-token-value"


def both_ways(args: list[str], cwd: Path, tmp_path: Path,
              env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[bytes], dict[str, bool]]:
    """Run `flowportal ARGS` both ways; assert identical output; return the run and how it ran."""
    import os

    mark = tmp_path / "mark.json"
    base = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PREFECT_API_KEY": SECRET,
            "FLOWPORTAL_TEST_MARK": str(mark), **(env or {})}
    for name in [n for n in base if n.startswith("INVOKE_") or n in ("FORCE_COLOR", "TTY_COMPATIBLE")]:
        del base[name]
    fast = subprocess.run([sys.executable, "-c", WITHOUT_INVOKE, *args], cwd=cwd, capture_output=True,
                          timeout=60, env=base)
    reference = subprocess.run([sys.executable, "-c", THROUGH_INVOKE_AND_RICH, *args], cwd=cwd,
                               capture_output=True, timeout=60, env={**base, "FORCE_COLOR": ""})
    assert (fast.returncode, fast.stdout.decode(), fast.stderr.decode()) == (
        reference.returncode, reference.stdout.decode(), reference.stderr.decode())
    assert SECRET.encode() not in fast.stdout + fast.stderr
    return fast, json.loads(mark.read_text())


def test_this_repository_lists_the_same_without_invoke_and_rich(tmp_path: Path) -> None:
    done, how = both_ways(["list-flows"], ROOT, tmp_path)
    assert done.returncode == 0 and "hello_world" in done.stdout.decode()
    assert how == {"invoke_program": False, "rich": False}
    for args, env in ((["list-flows", "--json"], {}), (["list-flows", "--strict"], {}),
                      (["list-flows"], {"COLUMNS": "52"}), (["list-flows"], {"COLUMNS": "200"})):
        done, how = both_ways(args, ROOT, tmp_path, env)
        assert done.returncode == 0 and how == {"invoke_program": False, "rich": False}, args


@pytest.fixture
def troubled_project(tmp_path: Path) -> Path:
    """A project whose flows share a key, one of them leaking a secret, and a file that does not parse."""
    root = tmp_path / "proj"
    (root / "config").mkdir(parents=True)
    (root / "config" / "environments.yaml").write_text("flows_root: flows\nenvironments:\n  dev: {}\n")
    (root / "pyproject.toml").write_text('[project]\nname = "troubled"\n')
    flows = root / "flows"
    (flows / "team").mkdir(parents=True)
    (flows / "a.py").write_text(
        "from prefect import flow\n\n@flow\ndef report() -> None:\n"
        f'    """Send it to https://bot:{SECRET}@example.com [daily] with key {SECRET}."""\n')
    (flows / "team" / "b.py").write_text(
        "from prefect import flow\n\n@flow\ndef report() -> None:\n    pass\n")
    (flows / "broken.py").write_text("from prefect import flow\n\n@flow\ndef broken(:\n    pass\n")
    return root


def test_collisions_skipped_files_and_secrets_print_the_same_without_invoke(
    troubled_project: Path, tmp_path: Path
) -> None:
    done, how = both_ways(["list-flows"], troubled_project, tmp_path)
    assert done.returncode == 0 and "<secret>" in done.stdout.decode()
    assert "warning:" in done.stderr.decode() and how["invoke_program"] is False
    for columns in ("52", "61", "80"):  # the secret would be wrapped over two lines: masked first
        done, _ = both_ways(["list-flows"], troubled_project, tmp_path, {"COLUMNS": columns})
        pieces = {SECRET[i:i + 6] for i in range(len(SECRET) - 5)}
        assert not any(piece.encode() in done.stdout for piece in pieces), columns
    done, how = both_ways(["list-flows", "--json"], troubled_project, tmp_path)
    assert done.returncode == 0 and how["invoke_program"] is False
    done, how = both_ways(["list-flows", "--strict"], troubled_project, tmp_path)
    assert done.returncode == 1 and "error:" in done.stderr.decode()
    done, how = both_ways(["list-flows", "--root", "flows/team"], troubled_project, tmp_path)
    assert done.returncode == 0 and how == {"invoke_program": False, "rich": False}


def test_failures_end_the_same_without_invoke(troubled_project: Path, tmp_path: Path) -> None:
    done, _ = both_ways(["list-flows", "--root", "no-such-folder"], troubled_project, tmp_path)
    assert done.returncode == 1 and done.stderr.decode().startswith("error:")
    (troubled_project / "config" / "environments.yaml").write_text("flows_root: [not, a, path]\n")
    done, _ = both_ways(["list-flows"], troubled_project, tmp_path)
    assert done.returncode == 1 and done.stderr.decode().startswith("error:")


def test_unusual_command_lines_still_go_through_invoke(tmp_path: Path) -> None:
    for args in (["list-flows", "--help"], ["list-flows", "-j"], ["list-flows", "--root"],
                 ["list-flows", "surplus"]):
        _, how = both_ways(args, ROOT, tmp_path)
        assert how["invoke_program"] is True, args


def on_a_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run `argv` with stdout on a pseudo-terminal; its exit status, stdout and stderr."""
    import os
    import pty
    import select

    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=subprocess.PIPE)
    os.close(follower)
    chunks = []
    try:
        while select.select([leader], [], [], 60)[0]:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
    assert process.stderr is not None
    stderr = process.stderr.read()
    return process.wait(timeout=60), b"".join(chunks), stderr


@pytest.mark.parametrize("columns", [None, "61"])
def test_on_a_colour_terminal_the_table_is_the_same_without_invoke_and_rich(
    troubled_project: Path, tmp_path: Path, columns: str | None
) -> None:
    import os

    mark = tmp_path / "mark.json"
    env = {**{n: v for n, v in os.environ.items() if not n.startswith("INVOKE_") and n not in (
        "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLUMNS")},
        "TERM": "xterm-256color", "XDG_CACHE_HOME": str(tmp_path / "cache"), "PREFECT_API_KEY": SECRET,
        "FLOWPORTAL_TEST_MARK": str(mark), **({"COLUMNS": columns} if columns else {})}
    fast = on_a_terminal([sys.executable, "-c", WITHOUT_INVOKE, "list-flows"], troubled_project, env)
    # TTY_COMPATIBLE=1: rich's own renderer on the terminal (this module leaves it to rich).
    reference = on_a_terminal([sys.executable, "-c", THROUGH_INVOKE_AND_RICH, "list-flows"], troubled_project,
                              {**env, "TTY_COMPATIBLE": "1"})
    assert fast[:2] == reference[:2]
    # TTY_COMPATIBLE also colours the reference's stderr (a pipe here): compare the text.
    assert fast[2] == re.sub(rb"\x1b\[[0-9;]*m", b"", reference[2])
    assert b"\x1b[3m2 flows\x1b[0m" in fast[1]  # the italic title
    assert b"\x1b[33m!report" in fast[1] and SECRET.encode() not in fast[1]
    assert json.loads(mark.read_text()) == {"invoke_program": False, "rich": True}  # rich: the warnings
