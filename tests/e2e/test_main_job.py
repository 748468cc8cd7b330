"""The main job as a new user runs it: deploy on the embedded server, run it with a worker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.projects import make_project, unique

pytestmark = pytest.mark.e2e


def run(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=timeout, env=env)


def test_deploy_on_embedded_server_and_run_with_a_process_worker(tmp_path: Path) -> None:
    pool = unique("e2e-pool")
    project = make_project(tmp_path, None, ["hello_world"], pool=pool)
    flowportal = [sys.executable, "-m", "flowportal.cli"]
    try:
        deployed = run(tmp_path, *flowportal, "deploy", "--flow", "hello_world", "--env", "dev")
        assert deployed.returncode == 0, deployed.stderr
        name = f"{project}--main--hello-world--dev"
        assert name in deployed.stdout.replace("\n", "") or name in deployed.stderr

        status = run(tmp_path, *flowportal, "server.status", "--json")
        assert status.returncode == 0, status.stderr
        api_url = json.loads(status.stdout)["url"]
        assert (tmp_path / ".portal" / "server").is_dir()

        flow_run_id = asyncio.run(_start_run(api_url, f"hello-world/{name}"))
        worker_env = {**os.environ, "PREFECT_API_URL": api_url}
        worker = subprocess.run(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--run-once"],
            cwd=tmp_path, env=worker_env, capture_output=True, text=True, timeout=300,
        )
        assert worker.returncode == 0, worker.stderr[-2000:]
        state, logs = asyncio.run(_finished_run(api_url, flow_run_id))
        assert state == "COMPLETED"
        assert f"DEPLOYMENT_NAME={name}" in logs
    finally:
        run(tmp_path, *flowportal, "server.stop")


async def _start_run(api_url: str, full_name: str) -> str:
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(api_url) as client:
        deployment = await client.read_deployment_by_name(full_name)
        flow_run = await client.create_flow_run_from_deployment(deployment.id)
        return str(flow_run.id)


async def _finished_run(api_url: str, flow_run_id: str) -> tuple[str, str]:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async with PrefectClient(api_url) as client:
        for _ in range(60):  # bounded: logs are shipped in batches after the run ends
            flow_run = await client.read_flow_run(flow_run_id)
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            text = "\n".join(log.message for log in logs)
            if flow_run.state and flow_run.state.is_final() and "DEPLOYMENT_NAME=" in text:
                return flow_run.state.type.value, text
            await asyncio.sleep(0.5)
        return (flow_run.state.type.value if flow_run.state else "NONE"), text
