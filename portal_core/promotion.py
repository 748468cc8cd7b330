"""Promotion planning: move the *code version* from one environment to the next.

The code version travels from the source deployment (entrypoint, image,
version, version tags, pull steps, parameter schema); everything that belongs
to the target environment (env vars, secrets, work pool, schedule, paused,
concurrency, parameters) comes from the target's config. Nothing is taken from
the current checkout, so what reaches prod is exactly what was tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from portal_core.config import ProjectConfig, did_you_mean
from portal_core.deploy import DIRTY_SUFFIX, control_character_problems
from portal_core.deployments import DeployedState, DeploymentSpec
from portal_core.environment import (
    CodeVersion,
    Environment,
    EnvValues,
    deployment_spec,
    missing_secret_problems,
)
from portal_core.errors import ConfigError, NameRuleError, PlanError
from portal_core.names import DeploymentName, slugify
from portal_core.plan import Plan, make_plan
from portal_core.selection import select_keys


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


def source_code_version(source: DeployedState, flow_key: str, branch: str) -> CodeVersion:
    """The code version a source deployment runs: what a promotion carries forward."""
    version = source.version_tags
    if version is None:
        raise PlanError([f"{source.name} has no version tags (PROJECT_NAME, BRANCH_NAME, "
                         f"COMMIT_HASH, PACKAGE_VERSION); redeploy it with flowportal first"])
    if version.branch != branch:  # branches that slug alike share deployment names
        raise PlanError([f"{source.name} holds branch {version.branch!r}, not {branch!r} (the two "
                         f"name deployments alike); promote with --branch {version.branch!r}"])
    return CodeVersion(
        flow_key=flow_key,
        flow_name=source.flow_name,
        entrypoint=source.entrypoint,
        description=source.description,
        version=source.version,
        version_tags=version,
        image=source.image,
        pull_steps=source.pull_steps,
        parameter_schema=source.parameter_schema,
        enforce_parameter_schema=source.enforce_parameter_schema,
    )


def promoted_spec(
    source: DeployedState,
    flow_key: str,
    config: ProjectConfig,
    branch: str,
    dst: Environment,
    values: EnvValues,
) -> DeploymentSpec:
    code = attrs.evolve(source_code_version(source, flow_key, branch), naming_style=config.flow_name_style)
    return deployment_spec(code, dst, config.flow_config(flow_key), values)


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
    adopt: bool = False,
) -> Plan:
    """Validate everything, then plan; any problem fails the whole promotion."""
    problems: list[str] = []
    environments: list[Environment] = []
    for env_name in (src, dst):
        try:
            environments.append(config.environment(env_name))
        except ConfigError as err:
            problems.append(err.message)
    if problems:
        raise PlanError(problems)
    target = environments[1]
    if invalid := control_character_problems({"branch": branch}):
        raise PlanError(invalid)
    if (problem := path_problem(config, src, dst, force)) is not None:
        problems.append(problem)
    try:
        groups = _source_groups(source_states, config.project, branch, src)
    except NameRuleError as err:
        raise PlanError([str(err)]) from None
    available = {key: group[0] for key, group in groups.items()}

    def not_deployed(asked: str, key: str) -> str:
        expected = DeploymentName.build(config.project, branch, key or "x", src).format()
        return (f"flow {asked!r} has no deployment in {src!r} "
                f"(looked for {expected}){did_you_mean(key, available)}")

    keys, unknown = select_keys(flows, sorted(available), unknown=not_deployed)
    problems.extend(unknown)
    if not available and not unknown:
        problems.append(f"nothing of project {config.project!r} on branch {branch!r} "
                        f"is deployed in {src!r}")
    problems.extend(missing_secret_problems(target, values))
    specs = []
    for key in keys:
        if len(groups[key]) > 1:
            problems.append(_twins_problem(src, groups[key]))
            continue
        source = available[key]
        commit = source.version_tags.commit if source.version_tags else ""
        if commit.endswith(DIRTY_SUFFIX) and not force:
            problems.append(f"{source.name} runs {commit}, deployed from uncommitted changes; "
                            f"commit and deploy again, or promote it with --force")
            continue
        try:
            specs.append(promoted_spec(source, key, config, branch, target, values))
        except PlanError as err:
            problems.extend(err.problems)
    if problems:
        raise PlanError(problems)
    return make_plan(dst, specs, target_states, source_env=src, adopt=adopt)
