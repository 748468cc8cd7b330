"""`flowportal deploy/promote/diff/list-deployments` without invoke, against a real server.

A plain command line of these verbs runs without importing invoke (see
`flowportal.tasks.declared`). The reference is the way they ran before:
invoke's `Program` runs the same task. Exit status, stdout and stderr must be
the same, for plans, applies, no-ops and refusals, and the plain path must
really have skipped invoke.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.projects import make_project

pytestmark = pytest.mark.integration

PLAIN = """
import atexit, json, os, sys

def _mark() -> None:
    with open(os.environ["FLOWPORTAL_TEST_MARK"], "w") as handle:
        json.dump({"invoke": "invoke" in sys.modules}, handle)

atexit.register(_mark)
sys.argv = ["flowportal", *sys.argv[1:]]
from flowportal.cli import main
main()
"""
THROUGH_INVOKE = "import sys\nfrom flowportal.cli import program\nprogram.run(['flowportal', *sys.argv[1:]])\n"


def run(script: str, root: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def both_ways(root: Path, args: list[str], tmp_path: Path) -> tuple[int, str, str]:
    """Run `flowportal ARGS` plainly and through invoke; assert the same result, and that
    the plain run did not import invoke."""
    mark = tmp_path / "mark.json"
    mark.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INVOKE_"))}
    env["FLOWPORTAL_TEST_MARK"] = str(mark)
    plain = run(PLAIN, root, args, env)
    assert json.loads(mark.read_text()) == {"invoke": False}, args
    assert run(THROUGH_INVOKE, root, args, env) == plain, args
    return plain


def test_the_verbs_print_and_exit_the_same_without_invoke(tmp_path: Path, prefect_api_url: str) -> None:
    root = tmp_path / "project"
    project = make_project(root, prefect_api_url, ["alpha", "beta"])

    code, out, err = both_ways(root, ["deploy", "--flow", "all", "--env", "dev", "--dry-run"], tmp_path)
    assert code == 2 and "+ create" in out and f"{project}--main--alpha--dev" in out, err
    code, out, err = both_ways(root, ["deploy", "--flow", "all"], tmp_path)
    assert (code, err.strip()) == (1, "error: --env is required")
    code, out, err = both_ways(root, ["deploy", "--flow", "all", "--env", "dev", "--via", "carrier-pigeon"],
                               tmp_path)
    assert code == 1 and "--via must be 'prefect' or 'github'" in err
    code, out, err = both_ways(root, ["deploy", "--flow", "nosuch", "--env", "dev"], tmp_path)
    assert code == 1 and err.startswith("error:") and "nosuch" in err

    # Apply once (plainly), then the unchanged re-deploy both ways.
    plain = run(PLAIN, root, ["deploy", "--flow", "alpha", "--flow", "beta", "--env", "dev"],
                {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
                 "FLOWPORTAL_TEST_MARK": str(tmp_path / "apply.json")})
    assert plain[0] == 0 and "ok" in plain[2], plain
    code, out, err = both_ways(root, ["deploy", "--flow", "all", "--env", "dev"], tmp_path)
    assert code == 0 and "0 to create, 0 to update, 2 unchanged" in out, (out, err)

    code, out, err = both_ways(root, ["diff", "--src", "dev", "--dst", "uat"], tmp_path)
    assert code == 2 and "+ create" in out
    code, out, err = both_ways(root, ["promote", "--src", "dev", "--dst", "uat", "--dry-run"], tmp_path)
    assert code == 2 and f"{project}--main--beta--uat" in out
    code, out, err = both_ways(root, ["list-deployments", "--json", "--env", "dev"], tmp_path)
    assert code == 0 and {r["env"] for r in json.loads(out)} == {"dev"}
