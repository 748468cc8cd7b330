"""Throwaway flowportal projects for integration and end-to-end tests.

Each test gets its own project name, so tests can share one Prefect server
without seeing each other's deployments.
"""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Mapping
from pathlib import Path

FLOW_TEMPLATE = '''\
import os

from prefect import flow, get_run_logger


@flow
def {name}(count: int = 1, label: str = "x") -> str:
    """Flow {name} of a generated test project."""
    message = f"{name} ran with DEPLOYMENT_NAME={{os.environ.get('DEPLOYMENT_NAME')}}"
    get_run_logger().info(message)
    return message
'''


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True,
        env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
             "HOME": str(root), "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "--short", "HEAD")


def make_project(
    root: Path,
    api_url: str | None,
    flows: list[str],
    project: str | None = None,
    envs: Mapping[str, str] | None = None,
    pool: str = "test-process",
    create_pool: bool = True,
    pool_type: str = "process",
    static: str = "",
    env_extra: Mapping[str, str] | None = None,
    branch: str = "main",
) -> str:
    """Write config, flows and a git repo; return the project name.

    `api_url=None` leaves the Prefect API unset: the embedded server is used.

    `envs` maps env name -> LOG_LEVEL; `env_extra` adds YAML lines (indented
    like the env's keys) to one environment's block.
    """
    project = project or unique("proj")
    envs = envs or {"dev": "DEBUG", "uat": "INFO", "prod": "WARNING"}
    env_extra = env_extra or {}
    root.mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    blocks = []
    for name, level in envs.items():
        block = textwrap.dedent(f"""\
            {name}:
              {f"prefect_api_url: {api_url}" if api_url else "# embedded server"}
              work_pool: {{name: {pool}, type: {pool_type}, create: {str(create_pool).lower()}}}
              working_dir: .
              env:
                APP_ENV: {name}
                LOG_LEVEL: {level}
                ONLY_IN_{name.upper()}: "yes"
            """)
        extra = env_extra.get(name, "")
        block += textwrap.indent(textwrap.dedent(extra), "  ") if extra else ""
        blocks.append(textwrap.indent(block, "  "))
    (root / "config" / "environments.yaml").write_text(
        f"project: {project}\nflows_root: flows\npromotion_path: [{', '.join(envs)}]\n"
        f"write_concurrency: 3\nenvironments:\n{''.join(blocks)}"
    )
    (root / "config" / "static_flow_deploy_config.yaml").write_text(static or "{}\n")
    (root / "flows").mkdir(exist_ok=True)
    for name in flows:
        (root / "flows" / f"{name}.py").write_text(FLOW_TEMPLATE.format(name=name))
    (root / "pyproject.toml").write_text(f'[project]\nname = "{project}"\nversion = "1.0.0"\n')
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", branch)
    commit_all(root, "initial")
    return project
