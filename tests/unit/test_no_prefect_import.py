"""Talking to a Prefect server never imports `prefect` (~1.5 s a command).

The gateway speaks the REST API over plain HTTP; the use cases reach Prefect
only through it. Checked in a fresh interpreter, where nothing else could have
imported prefect first. (The integration tests run the gateway's reads and
writes, and a real `flowportal deploy`, the same way.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULES = [
    "portal_io.prefect_gateway",
    "portal_io.prefect_api",
    "flowportal.bootstrap",
    "flowportal.usecases.applying",
    "flowportal.usecases.check",
    "flowportal.usecases.deploy",
    "flowportal.usecases.list_deployments",
    "flowportal.usecases.promote",
    "flowportal.usecases.rollback",
    "flowportal.usecases.drift",
    "flowportal.usecases.prune",
    "flowportal.usecases.history",
    "flowportal.usecases.github_dispatch",
    "portal_io.history_store",
    "portal_io.flow_sources",
    "flowportal.tasks",
]


def loaded_after(code: str) -> list[str]:
    probe = code + (
        "\nimport json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('prefect', 'httpx', 'pydantic'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_gateway_and_use_cases_import_without_prefect() -> None:
    assert loaded_after("\n".join(f"import {m}" for m in MODULES)) == []


def test_building_a_gateway_and_its_bodies_imports_no_prefect() -> None:
    code = (
        "from portal_core.deployments import DeploymentSpec, Schedule\n"
        "from portal_io.prefect_gateway import PrefectGateway\n"
        "from portal_io.prefect_api.payloads import deployment_body\n"
        "PrefectGateway('http://127.0.0.1:9/api', 'key', 4)\n"
        "spec = DeploymentSpec(name='n', flow_name='f', entrypoint='a.py:f',"
        " schedules=[Schedule('0 * * * *')], concurrency_limit=2)\n"
        "deployment_body(spec, 'flow-id')\n"
    )
    assert loaded_after(code) == []


def test_the_probe_would_notice_an_import() -> None:
    assert "prefect" in loaded_after("import prefect.exceptions")
