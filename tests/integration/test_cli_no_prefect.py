"""A real `flowportal deploy` that writes to a real server, without importing `prefect`.

The console script runs as a user runs it; a `sitecustomize` hook (on
PYTHONPATH, so inside that very process) records at exit which `prefect`
modules were loaded and where the first import came from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import commit_all, make_project

pytestmark = pytest.mark.integration

HOOK = textwrap.dedent("""\
    import atexit, json, os, sys, traceback

    _first = []

    class _Watch:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "prefect" and not _first:
                _first.append("".join(traceback.format_stack(limit=40)))
            return None

    sys.meta_path.insert(0, _Watch())

    def _report():
        with open(os.environ["FLOWPORTAL_IMPORT_REPORT"], "w") as out:
            json.dump({"prefect": sorted(m for m in sys.modules if m.split(".")[0] == "prefect"),
                       "first_import": _first[:1]}, out)

    atexit.register(_report)
""")


def flowportal(root: Path, hook_dir: Path | None, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    report = root / "import-report.json"
    report.unlink(missing_ok=True)
    if hook_dir is not None:
        env["PYTHONPATH"] = str(hook_dir)
        env["FLOWPORTAL_IMPORT_REPORT"] = str(report)
    script = Path(sys.executable).parent / "flowportal"
    done = subprocess.run([str(script), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    return done, (json.loads(report.read_text()) if hook_dir is not None else None)


def test_cli_deploy_updates_and_creates_without_importing_prefect(tmp_path: Path, prefect_api_url: str) -> None:
    root, hooks = tmp_path / "project", tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HOOK)
    project = make_project(root, prefect_api_url, ["alpha", "beta"])

    # A first deploy (it also reads the flows' parameter schemas, cached for the runs below).
    first, _ = flowportal(root, None, "deploy", "--flow", "all", "--env", "dev")
    assert first.returncode == 0, first.stderr

    (root / "NOTES.md").write_text("a new commit: every deployment gets a new version\n")
    commit = commit_all(root, "notes")
    updated, report = flowportal(root, hooks, "deploy", "--flow", "all", "--env", "dev")
    assert updated.returncode == 0, updated.stderr
    assert report["prefect"] == [], report["first_import"]
    states = PrefectGateway(prefect_api_url).read_deployments(
        names=[f"{project}--main--{flow}--dev" for flow in ("alpha", "beta")])
    assert {s.version_tags.commit for s in states if s.version_tags} == {commit}

    created, report = flowportal(root, hooks, "deploy", "--flow", "all", "--env", "uat")
    assert created.returncode == 0, created.stderr
    assert report["prefect"] == [], report["first_import"]
    assert len(PrefectGateway(prefect_api_url).read_deployments(
        names=[f"{project}--main--{flow}--uat" for flow in ("alpha", "beta")])) == 2
