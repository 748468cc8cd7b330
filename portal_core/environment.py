"""What an environment contributes to every deployment in it.

These are the environment's *own* settings: deploy and promote both take them
from the target environment's config, never from the source deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from portal_core.config import EnvironmentConfig, StaticFlowConfig
from portal_core.deployments import Schedule
from portal_core.errors import PlanError
from portal_core.plan import DEFAULT_WORK_QUEUE
from portal_core.tags import VersionTags

WORKING_DIR_STEP = "prefect.deployments.steps.set_working_directory"


@attrs.frozen
class EnvValues:
    """Values read for an environment at run time: its dotenv file and its secrets."""

    from_file: Mapping[str, str] = attrs.Factory(dict)
    secrets: Mapping[str, str] = attrs.Factory(dict)


def missing_secrets(env: EnvironmentConfig, values: EnvValues) -> list[str]:
    return [name for name in env.secrets if name not in values.secrets]


def job_env(env: EnvironmentConfig, values: EnvValues, deployment_name: str) -> dict[str, str]:
    """dotenv file < inline env < secrets < DEPLOYMENT_NAME (later wins)."""
    merged = {**values.from_file, **env.env}
    merged.update({name: values.secrets[name] for name in env.secrets if name in values.secrets})
    merged["DEPLOYMENT_NAME"] = deployment_name
    return merged


def work_pool_for(
    env_name: str, env: EnvironmentConfig, static: StaticFlowConfig, flow_key: str
) -> str:
    """The environment's pool wins: pools are infrastructure, which differs per env."""
    if env.work_pool is not None:
        return env.work_pool.name
    if static.work_pool_name:
        return static.work_pool_name
    raise PlanError(
        [f"flow {flow_key!r} has no work pool in environment {env_name!r}: set "
         f"environments.{env_name}.work_pool or work_pool_name in the static config"]
    )


def schedules_for(env: EnvironmentConfig, static: StaticFlowConfig) -> tuple[Schedule, ...]:
    if not env.schedules or not static.cron:
        return ()
    return (Schedule(cron=static.cron, timezone=static.timezone or "UTC"),)


def paused_for(env: EnvironmentConfig, static: StaticFlowConfig) -> bool | None:
    return env.paused if env.paused is not None else static.paused


def user_tags_for(env: EnvironmentConfig, static: StaticFlowConfig) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in (*static.tags, *env.tags):
        seen.setdefault(tag, None)
    return tuple(seen)


def all_tags(version: VersionTags, user: tuple[str, ...]) -> tuple[str, ...]:
    ours = version.to_tags()
    return (*ours, *(t for t in user if t not in ours))


def pull_steps_for(env: EnvironmentConfig, project_root: str) -> tuple[Mapping[str, Any], ...]:
    """Explicit pull steps win; else `working_dir` becomes a set-working-directory step."""
    if env.pull_steps is not None:
        return tuple(env.pull_steps)
    if env.working_dir is None:
        return ()
    directory = project_root if env.working_dir in ("", ".") else _join(project_root, env.working_dir)
    return ({WORKING_DIR_STEP: {"directory": directory}},)


def _join(root: str, relative: str) -> str:
    if relative.startswith("/"):
        return relative
    return root.rstrip("/") + "/" + relative.strip("/")


def work_queue_for(env: EnvironmentConfig, static: StaticFlowConfig) -> str:
    return env.work_queue or static.work_queue_name or DEFAULT_WORK_QUEUE


def pool_takes_image(env: EnvironmentConfig) -> bool:
    """Process pools run in the worker's own environment; an image means nothing there."""
    return env.work_pool is None or env.work_pool.type != "process"


def pools_to_create(
    env_name: str, env: EnvironmentConfig, missing: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Split missing pools into (name, type) to create and problems to report."""
    create, problems = [], []
    for name in missing:
        if env.work_pool is not None and env.work_pool.name == name and env.work_pool.create:
            create.append((name, env.work_pool.type))
        else:
            problems.append(
                f"work pool {name!r} does not exist on {env_name!r}'s Prefect server; create it "
                f"(prefect work-pool create {name} --type process) or set "
                f"environments.{env_name}.work_pool.create: true"
            )
    return create, problems
