"""Promotion planning: move the *code version* from one environment to the next.

The code version travels from the source deployment (entrypoint, image,
version, version tags, pull steps, parameter schema); everything that belongs
to the target environment (env vars, secrets, work pool, schedule, paused,
concurrency, parameters) comes from the target's config. Nothing is taken from
the current checkout, so what reaches prod is exactly what was tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from portal_core.config import ProjectConfig, did_you_mean
from portal_core.deployments import DeployedState, DeploymentSpec
from portal_core.environment import (
    EnvValues,
    job_env,
    missing_secrets,
    paused_for,
    pool_takes_image,
    schedules_for,
    user_tags_for,
    work_pool_for,
    work_queue_for,
)
from portal_core.errors import ConfigError, NameRuleError, PlanError
from portal_core.names import DeploymentName, normalize_flow_key, slugify
from portal_core.naming_style import tags_for
from portal_core.plan import Plan, make_plan


def path_problem(config: ProjectConfig, src: str, dst: str, force: bool) -> str | None:
    """Promotion goes one step along the path (dev -> uat -> prod) unless forced."""
    if src == dst:
        return f"source and target are both {src!r}"
    if force:
        return None
    path = list(config.promotion_path)
    if src not in path or dst not in path:
        return f"{src!r} -> {dst!r} is not on the promotion path {' -> '.join(path)}; use --force"
    if path.index(dst) != path.index(src) + 1:
        expected = path[path.index(src) + 1] if path.index(src) + 1 < len(path) else None
        hint = f"the next environment after {src!r} is {expected!r}" if expected else (
            f"{src!r} is the last environment")
        return (f"{src!r} -> {dst!r} skips or reverses the promotion path "
                f"{' -> '.join(path)} ({hint}); use --force to do it anyway")
    return None


def _source_groups(
    states: Iterable[DeployedState], project: str, branch: str, src: str
) -> dict[str, list[DeployedState]]:
    """Our deployments in `src` for this project and branch, grouped by flow key."""
    wanted = (slugify(project, "project"), slugify(branch, "branch"), slugify(src, "environment"))
    found: dict[str, list[DeployedState]] = {}
    for state in states:
        name = DeploymentName.parse(state.name)
        if name is not None and (name.project, name.branch, name.env) == wanted:
            group = found.setdefault(name.flow_key, [])
            if all(other.id != state.id for other in group):
                group.append(state)
    return found


def source_deployments(
    states: Iterable[DeployedState], project: str, branch: str, src: str
) -> dict[str, DeployedState]:
    """Our deployments in `src` for this project and branch, by flow key (exact match)."""
    return {key: group[0] for key, group in _source_groups(states, project, branch, src).items()}


def _twins_problem(src: str, group: list[DeployedState]) -> str:
    """Deployments are unique per (flow, name): renaming a flow leaves a stale twin behind,
    and which one holds the code version to promote must not depend on read order."""
    flows = ", ".join(sorted(repr(s.flow_name) for s in group))
    return (f"{src!r} has {len(group)} deployments named {group[0].name} (flows {flows}); "
            f"delete the stale one so the code version to promote is unambiguous")


def target_names(source_states: Iterable[DeployedState], dst: str) -> list[str]:
    """The names the source deployments would have in `dst` (to read the target's state)."""
    env = slugify(dst, "environment")
    parsed = (DeploymentName.parse(s.name) for s in source_states)
    return [DeploymentName(p.project, p.branch, p.flow, env).format() for p in parsed if p]


def promoted_spec(
    source: DeployedState,
    flow_key: str,
    config: ProjectConfig,
    branch: str,
    dst: str,
    values: EnvValues,
) -> DeploymentSpec:
    version = source.version_tags
    if version is None:
        raise PlanError([f"{source.name} has no version tags (PROJECT_NAME, BRANCH_NAME, "
                         f"COMMIT_HASH, PACKAGE_VERSION); redeploy it with flowportal first"])
    if version.branch != branch:  # branches that slug alike share deployment names
        raise PlanError([f"{source.name} holds branch {version.branch!r}, not {branch!r} (the two "
                         f"name deployments alike); promote with --branch {version.branch!r}"])
    env = config.environment(dst)
    static = config.flow_config(flow_key)
    name = DeploymentName.build(config.project, branch, flow_key, dst).format()
    job_variables: dict[str, Any] = {**static.job_variables, **env.job_variables}
    if source.image and pool_takes_image(env):
        job_variables["image"] = source.image
    job_variables["env"] = job_env(env, values, name)
    return DeploymentSpec(
        name=name,
        flow_name=source.flow_name,
        entrypoint=source.entrypoint,
        description=source.description,
        version=source.version,
        tags=tags_for(config.flow_name_style, version, user_tags_for(env, static)),
        work_pool_name=work_pool_for(dst, env, static, flow_key),
        work_queue_name=work_queue_for(env, static),
        job_variables=job_variables,
        parameters=dict(static.parameters),
        parameter_schema=source.parameter_schema,
        schedules=schedules_for(env, static),
        paused=paused_for(env, static),
        concurrency_limit=static.concurrency_limit,
        pull_steps=source.pull_steps,
        enforce_parameter_schema=source.enforce_parameter_schema,
        flow_key=flow_key,
        secret_names=frozenset(env.secrets),
    )


def plan_promotion(
    config: ProjectConfig,
    src: str,
    dst: str,
    branch: str,
    flows: Sequence[str],
    source_states: Iterable[DeployedState],
    target_states: Iterable[DeployedState],
    values: EnvValues,
    force: bool = False,
) -> Plan:
    """Validate everything, then plan; any problem fails the whole promotion."""
    problems: list[str] = []
    for env_name in (src, dst):
        try:
            config.environment(env_name)
        except ConfigError as err:
            problems.append(err.message)
    if problems:
        raise PlanError(problems)
    if (problem := path_problem(config, src, dst, force)) is not None:
        problems.append(problem)
    try:
        groups = _source_groups(source_states, config.project, branch, src)
    except NameRuleError as err:
        raise PlanError([str(err)]) from None
    available = {key: group[0] for key, group in groups.items()}
    if flows and "all" not in flows:
        keys = []
        for asked in flows:
            key = normalize_flow_key(asked)
            if key in keys:
                continue
            keys.append(key)
            if key not in available:
                expected = DeploymentName.build(config.project, branch, key or "x", src).format()
                problems.append(f"flow {asked!r} has no deployment in {src!r} "
                                f"(looked for {expected}){did_you_mean(key, available)}")
    else:
        keys = sorted(available)
        if not keys:
            problems.append(f"nothing of project {config.project!r} on branch {branch!r} "
                            f"is deployed in {src!r}")
    problems.extend(f"secret {name!r} of environment {dst!r} is not set in this shell's environment"
                    for name in missing_secrets(config.environment(dst), values))
    specs = []
    for key in keys:
        if len(groups.get(key, ())) > 1:
            problems.append(_twins_problem(src, groups[key]))
        elif key in available:
            try:
                specs.append(promoted_spec(available[key], key, config, branch, dst, values))
            except PlanError as err:
                problems.extend(err.problems)
    if problems:
        raise PlanError(problems)
    return make_plan(dst, specs, target_states, source_env=src)
