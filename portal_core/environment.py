"""An environment, and what it contributes to every deployment in it.

The product's central law lives here: a deployment is the *code version* (what
travels from dev to uat to prod) put into an *environment* (what stays put:
env vars, secrets, pool, queue, schedule, paused, concurrency, parameters,
tags). Deploy, promote and rollback differ only in where the code version comes
from (the checkout, the source deployment, a record); the environment half is
built by `environment_settings` alone, so it cannot drift between verbs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from portal_core.automations import AutomationSpec, automations_for
from portal_core.config import EnvironmentConfig, StaticFlowConfig
from portal_core.deployments import DeploymentSpec, Schedule
from portal_core.errors import PlanError
from portal_core.names import DeploymentName, slugify
from portal_core.naming_style import PREFECT, tags_for
from portal_core.plan import DEFAULT_WORK_QUEUE
from portal_core.redaction import CREDENTIAL_VARIABLES
from portal_core.tags import VersionTags

WORKING_DIR_STEP = "prefect.deployments.steps.set_working_directory"


@attrs.frozen
class Environment:
    """One configured environment, resolved once (name checked, slug computed).

    Use cases look it up once per command and pass the value down, instead of
    passing a name that every layer looks up again.
    """

    name: str
    slug: str
    config: EnvironmentConfig

    @classmethod
    def build(cls, name: str, config: EnvironmentConfig) -> Environment:
        return cls(name=name, slug=slugify(name, "environment"), config=config)


@attrs.frozen
class EnvValues:
    """Values read for an environment at run time: its dotenv file and its secrets."""

    from_file: Mapping[str, str] = attrs.Factory(dict)
    secrets: Mapping[str, str] = attrs.Factory(dict)


@attrs.frozen
class CodeVersion:
    """The half of a deployment that travels along the promotion path unchanged.

    `version_tags` carries the exact project, branch, commit and package version;
    `image` is applied only where the environment's pool runs images.
    """

    flow_key: str
    flow_name: str
    entrypoint: str
    description: str
    version: str
    version_tags: VersionTags
    image: str | None = None
    pull_steps: tuple[Mapping[str, Any], ...] = ()
    parameter_schema: Mapping[str, Any] | None = None
    enforce_parameter_schema: bool = True
    naming_style: str = PREFECT  # which tags mark it (see portal_core.naming_style)


@attrs.frozen
class EnvironmentSettings:
    """Everything an environment contributes to one deployment (the other half)."""

    job_variables: Mapping[str, Any]  # static < environment; `env` holds the run's env vars
    user_tags: tuple[str, ...]
    work_pool_name: str
    work_queue_name: str
    parameters: Mapping[str, Any]
    schedules: tuple[Schedule, ...]
    paused: bool | None
    concurrency_limit: int | None
    secret_names: frozenset[str]
    takes_image: bool
    automations: tuple[AutomationSpec, ...]


def environment_settings(
    environment: Environment,
    static: StaticFlowConfig,
    flow_key: str,
    deployment_name: str,
    values: EnvValues,
) -> EnvironmentSettings:
    """The one place where an environment's own settings become deployment fields."""
    env = environment.config
    job_variables: dict[str, Any] = {**static.job_variables, **env.job_variables}
    job_variables["env"] = job_env(env, values, deployment_name)
    return EnvironmentSettings(
        job_variables=job_variables,
        user_tags=user_tags_for(env, static),
        work_pool_name=work_pool_for(environment.name, env, static, flow_key),
        work_queue_name=env.work_queue or static.work_queue_name or DEFAULT_WORK_QUEUE,
        parameters=dict(static.parameters),
        schedules=schedules_for(env, static),
        paused=env.paused if env.paused is not None else static.paused,
        concurrency_limit=(static.concurrency_limit if static.concurrency_limit is not None
                           else env.concurrency_limit),
        secret_names=frozenset(env.secrets),
        takes_image=pool_takes_image(env),
        automations=automations_for(deployment_name, static.triggers),
    )


def deployment_spec(
    code: CodeVersion,
    environment: Environment,
    static: StaticFlowConfig,
    values: EnvValues,
) -> DeploymentSpec:
    """A code version placed in an environment: the spec every verb applies."""
    version = code.version_tags
    name = DeploymentName.build(version.project, version.branch, code.flow_key, environment.name).format()
    settings = environment_settings(environment, static, code.flow_key, name, values)
    job_variables = dict(settings.job_variables)
    if code.image and settings.takes_image:
        job_variables["image"] = code.image
    return DeploymentSpec(
        name=name,
        flow_name=code.flow_name,
        entrypoint=code.entrypoint,
        description=code.description,
        version=code.version,
        tags=tags_for(code.naming_style, version, settings.user_tags),
        work_pool_name=settings.work_pool_name,
        work_queue_name=settings.work_queue_name,
        job_variables=job_variables,
        parameters=settings.parameters,
        parameter_schema=code.parameter_schema,
        schedules=settings.schedules,
        paused=settings.paused,
        concurrency_limit=settings.concurrency_limit,
        pull_steps=code.pull_steps,
        enforce_parameter_schema=code.enforce_parameter_schema,
        flow_key=code.flow_key,
        secret_names=settings.secret_names,
        automations=settings.automations,
    )


# --------------------------------------------------------------------------- the rules



def secret_variable_names(environments: Iterable[Environment]) -> frozenset[str]:
    """Every variable whose value must never be shown: the environments' `secrets:`,
    their API key variables, and the usual credential variables."""
    names = set(CREDENTIAL_VARIABLES)
    for environment in environments:
        names.update(environment.config.secrets)
        names.add(environment.config.api_key_env)
    return frozenset(names)



def missing_secret_problems(environment: Environment, values: EnvValues) -> list[str]:
    """One wording for an unset secret, whichever verb needs it."""
    return [
        f"secret {name!r} of environment {environment.name!r} is not set in this shell's environment"
        for name in environment.config.secrets
        if name not in values.secrets
    ]


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


def user_tags_for(env: EnvironmentConfig, static: StaticFlowConfig) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in (*static.tags, *env.tags):
        seen.setdefault(tag, None)
    return tuple(seen)


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


def pool_takes_image(env: EnvironmentConfig) -> bool:
    """Process pools run in the worker's own environment; an image means nothing there."""
    return env.work_pool is None or env.work_pool.type != "process"


def pools_to_create(
    environment: Environment, missing: Iterable[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Split missing pools into (name, type) to create and problems to report.

    One wording for a missing pool, whether deploy, promote or check-config finds it.
    """
    env, name_of_env = environment.config, environment.name
    create, problems = [], []
    for name in missing:
        if env.work_pool is not None and env.work_pool.name == name and env.work_pool.create:
            create.append((name, env.work_pool.type))
        else:
            problems.append(
                f"work pool {name!r} does not exist on {name_of_env!r}'s Prefect server; create it "
                f"(prefect work-pool create {name} --type process) or set "
                f"environments.{name_of_env}.work_pool.create: true"
            )
    return create, problems
