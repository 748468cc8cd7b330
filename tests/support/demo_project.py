"""The demo project the in-memory use-case tests share, and how they drive it.

A real temporary project (config files, flow sources that are never imported):
three flows in two files, dev -> uat -> prod, a secret in uat, an env file in
dev. Deploy/promote/diff tests and the history/drift/rollback tests run the real
use cases over it with in-memory Prefect APIs, so they build it one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from flowportal.usecases.applying import Outcome
from flowportal.usecases.deploy import DeployRequest, deploy
from flowportal.usecases.promote import PromoteRequest, promote
from flowportal.usecases.reporting import Reporter
from flowportal.workspace import Workspace, load_workspace
from portal_core.names import DeploymentName
from support.fakes import fake_dependencies
from support.memory_gateway import InMemoryGateway

ENVIRONMENTS = """\
project: acme-demo
image_template: "registry.example.com/{project}:{branch}-{commit}"
promotion_path: [dev, uat, prod]
environments:
  dev:
    work_pool: {name: dev-pool, type: docker}
    env: {LOG_LEVEL: debug, ONLY_IN_DEV: "1"}
    env_file: config/app.{env}.env
  uat:
    work_pool: {name: uat-pool, type: docker}
    env: {LOG_LEVEL: info}
    secrets: [DB_PASSWORD]
  prod:
    work_pool: {name: prod-pool, type: docker, create: true}
    env: {LOG_LEVEL: warning}
    paused: false
"""

STATIC = """\
hello_world:
    name: hello_world
    import_path: flows.hello:hello_world
    cron: "0 12 * * 1-5"
    description: Hello World
    work_pool_name: ecs-pool
"""

HELLO = '''\
from prefect import flow


@flow
def hello_world(name: str = "world") -> str:
    """Say hello."""
    return f"hello {name}"


@flow(name="nightly-etl")
def etl(day: str) -> None:
    """Load yesterday's data."""
'''

REPORT = '''\
import prefect


@prefect.flow
async def weekly_report() -> None:
    """Write the weekly report."""
'''

FLOWS = ("hello_world", "nightly_etl", "weekly_report")
SECRET = "s3cr3t-Value-that-must-never-print"


def name(flow: str, env: str, branch: str = "main") -> str:
    return DeploymentName.build("acme-demo", branch, flow, env).format()


def demo_workspace(root: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Write the demo project into `root` (empty) and load it; the uat secret is set."""
    (root / "config").mkdir()
    (root / "config" / "environments.yaml").write_text(ENVIRONMENTS, encoding="utf-8")
    (root / "config" / "static_flow_deploy_config.yaml").write_text(STATIC, encoding="utf-8")
    (root / "config" / "app.dev.env").write_text('FROM_FILE="yes"\n', encoding="utf-8")
    (root / "flows").mkdir()
    (root / "flows" / "hello.py").write_text(HELLO, encoding="utf-8")
    (root / "flows" / "report.py").write_text(REPORT, encoding="utf-8")
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    return load_workspace(root)


def gateway(*pools: str) -> InMemoryGateway:
    return InMemoryGateway(pools=set(pools))


def run_deploy(workspace: Workspace, gw: InMemoryGateway, flows: Sequence[str] = ("all",),
               env: str = "dev", commit: str = "abc1234", reporter: Reporter | None = None,
               **kwargs: Any) -> Outcome:
    request = DeployRequest(flows=tuple(flows), env=env, branch="main", commit=commit,
                            package_version="1.0.0", **kwargs)
    return deploy(workspace, request, fake_dependencies(gw), reporter)


def run_promote(workspace: Workspace, src_gw: InMemoryGateway, dst_gw: InMemoryGateway,
                flows: Sequence[str] = (), src: str = "dev", dst: str = "uat", **kwargs: Any) -> Outcome:
    request = PromoteRequest(src=src, dst=dst, flows=tuple(flows), branch="main", **kwargs)
    return promote(workspace, request, fake_dependencies(per_env={src: src_gw, dst: dst_gw}))
