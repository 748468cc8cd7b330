"""Deploy planning: from discovered flows and config to one spec per flow, then a plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.config import ProjectConfig, did_you_mean
from portal_core.deployments import DeployedState, DeploymentSpec
from portal_core.environment import (
    EnvValues,
    job_env,
    missing_secrets,
    paused_for,
    pool_takes_image,
    pull_steps_for,
    schedules_for,
    user_tags_for,
    work_pool_for,
    work_queue_for,
)
from portal_core.errors import NameRuleError, PlanError
from portal_core.flows import FlowRecord
from portal_core.names import DeploymentName, normalize_flow_key, slugify
from portal_core.naming_style import flow_name_for, tags_for, version_for
from portal_core.plan import Plan, index_by_name, make_plan
from portal_core.tags import VersionTags

ALL = "all"


@attrs.frozen
class DeployContext:
    """The code version being deployed, resolved from git/pyproject or CI flags."""

    branch: str
    commit: str
    package_version: str
    project_root: str  # absolute; only used for working-directory pull steps
    image: str | None = None  # explicit image; else the config's image template


def select_flows(flows: Sequence[FlowRecord], requested: Iterable[str]) -> tuple[FlowRecord, ...]:
    """Resolve `--flow` values (keys, original names or `all`); unknown ones fail together."""
    requested = list(requested)
    if not requested:
        raise PlanError(["no flow given: pass --flow NAME (repeatable) or --flow all"])
    if ALL in requested:
        return tuple(flows)
    by_key = {f.key: f for f in flows}
    chosen: dict[str, FlowRecord] = {}
    problems = []
    for name in requested:
        flow = by_key.get(normalize_flow_key(name))
        if flow is None:
            problems.append(f"unknown flow {name!r}{did_you_mean(name, by_key)}")
        else:
            chosen[flow.key] = flow
    if problems:
        raise PlanError(problems)
    return tuple(chosen.values())


def render_image(template: str | None, project: str, version: VersionTags) -> str | None:
    if not template:
        return None
    try:
        return template.format(
            project=project,
            branch=slugify(version.branch, "branch"),
            commit=version.commit,
            version=version.package_version,
        )
    except (KeyError, IndexError, ValueError) as err:
        raise PlanError(
            [f"image_template {template!r} is invalid ({err}); use {{project}}, {{branch}}, {{commit}}, {{version}}"]
        ) from None


def version_string(version: VersionTags, style: str = "prefect") -> str:
    return version_for(style, version)


def build_deploy_spec(
    flow: FlowRecord,
    config: ProjectConfig,
    env_name: str,
    context: DeployContext,
    values: EnvValues,
    parameter_schema: Mapping[str, Any] | None,
) -> DeploymentSpec:
    env = config.environment(env_name)
    static = config.flow_config(flow.key)
    name = DeploymentName.build(config.project, context.branch, flow.key, env_name).format()
    version = VersionTags(config.project, context.branch, context.commit, context.package_version)
    job_variables: dict[str, Any] = {**static.job_variables, **env.job_variables}
    image = context.image or render_image(config.image_template, config.project, version)
    if image and pool_takes_image(env):
        job_variables["image"] = image
    job_variables["env"] = job_env(env, values, name)
    return DeploymentSpec(
        name=name,
        flow_name=flow_name_for(config.flow_name_style, flow),
        entrypoint=flow.entrypoint,
        description=static.description if static.description is not None else flow.description,
        version=version_string(version, config.flow_name_style),
        tags=tags_for(config.flow_name_style, version, user_tags_for(env, static)),
        work_pool_name=work_pool_for(env_name, env, static, flow.key),
        work_queue_name=work_queue_for(env, static),
        job_variables=job_variables,
        parameters=dict(static.parameters),
        parameter_schema=parameter_schema,
        schedules=schedules_for(env, static),
        paused=paused_for(env, static),
        concurrency_limit=static.concurrency_limit,
        pull_steps=pull_steps_for(env, context.project_root),
        flow_key=flow.key,
        secret_names=frozenset(env.secrets),
    )


def branch_conflicts(
    specs: Sequence[DeploymentSpec], current: Iterable[DeployedState], branch: str
) -> list[str]:
    """Two branches that slug alike (`feature/x`, `feature-x`) would share deployments."""
    by_name = index_by_name(current)
    problems = []
    for spec in specs:
        state = by_name.get(spec.name)
        theirs = state.version_tags if state else None
        if theirs is not None and theirs.branch != branch:
            problems.append(
                f"{spec.name} belongs to branch {theirs.branch!r}, which names deployments like "
                f"branch {branch!r}; rename one of the branches"
            )
    return problems


def plan_deploy(
    flows: Sequence[FlowRecord],
    config: ProjectConfig,
    env_name: str,
    context: DeployContext,
    values: EnvValues,
    schemas: Mapping[str, Mapping[str, Any] | None],
    current: Sequence[DeployedState],
) -> Plan:
    """Everything that can be wrong is reported at once, before anything is written."""
    env = config.environment(env_name)
    problems = [
        f"secret {name!r} of environment {env_name!r} is not set in this shell's environment"
        for name in missing_secrets(env, values)
    ]
    specs = []
    for flow in flows:
        try:
            specs.append(
                build_deploy_spec(flow, config, env_name, context, values, schemas.get(flow.entrypoint))
            )
        except PlanError as err:
            problems.extend(err.problems)
        except NameRuleError as err:
            problems.append(str(err))
    problems.extend(branch_conflicts(specs, current, context.branch))
    if problems:
        raise PlanError(problems)
    warnings = [
        f"flow {flow.key!r}: triggers in the static config are not applied by flowportal yet"
        for flow in flows
        if config.flow_config(flow.key).triggers
    ]
    return make_plan(env_name, specs, current, warnings)


def deployment_names(
    flows: Sequence[FlowRecord], project: str, branch: str, env_name: str
) -> list[str]:
    return [DeploymentName.build(project, branch, f.key, env_name).format() for f in flows]
