"""`invoke list-flows` on this repository's demo flows, as a user runs it."""

from __future__ import annotations

import json
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
