"""Deploy planning: from discovered flows and config to one spec per flow, then a plan.

Deploy's code version is the checkout (entrypoint, description, schema) at the
resolved branch/commit/package version; the environment's half comes from
`portal_core.environment.deployment_spec`, exactly as for promote.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.config import ProjectConfig, did_you_mean
from portal_core.deployments import DeployedState, DeploymentSpec
from portal_core.discovery import Discovery
from portal_core.environment import (
    CodeVersion,
    Environment,
    EnvValues,
    deployment_spec,
    missing_secret_problems,
    pull_steps_for,
)
from portal_core.errors import NameRuleError, PlanError
from portal_core.flows import FlowRecord
from portal_core.names import DeploymentName, slugify
from portal_core.naming_style import flow_name_for, version_for
from portal_core.plan import Plan, index_by_name, make_plan
from portal_core.selection import ALL, select_keys
from portal_core.tags import VersionTags

__all__ = ["ALL", "DIRTY_SUFFIX", "DeployContext", "build_deploy_spec", "plan_deploy", "select_flows"]


@attrs.frozen
class DeployContext:
    """The code version being deployed, resolved from git/pyproject or CI flags."""

    branch: str
    commit: str
    package_version: str
    project_root: str  # absolute; only used for working-directory pull steps
    image: str | None = None  # explicit image; else the config's image template


def control_character_problems(values: Mapping[str, str]) -> list[str]:
    """Version values end up in tags, names and image references: no control characters
    (a newline in `--commit` would be stored as is and break every reader)."""
    return [
        f"the {what} {value!r} contains a control character; pass it without one"
        for what, value in values.items()
        if any(unicodedata.category(ch) == "Cc" for ch in value)
    ]


def context_problems(context: DeployContext) -> list[str]:
    required = {"branch": context.branch, "commit": context.commit,
                "package version": context.package_version}
    return control_character_problems({**required, "image": context.image or ""}) + [
        f"the {what} is empty; pass --{what.replace(' ', '-')}"
        for what, value in required.items() if not value.strip()
    ]


def select_flows(discovery: Discovery, requested: Iterable[str]) -> tuple[FlowRecord, ...]:
    """Resolve `--flow` values (keys, original names or `all`); unknown ones fail together,
    and so does any selected key that two flows share (`all` selects them too)."""
    by_key = discovery.by_key()
    keys, problems = select_keys(
        requested,
        list(by_key),
        unknown=lambda asked, _key: f"unknown flow {asked!r}{did_you_mean(asked, by_key)}",
        when_empty="no flow given: pass --flow NAME (repeatable) or --flow all",
    )
    problems += discovery.collision_problems(keys)
    if problems:
        raise PlanError(problems)
    return tuple(by_key[key] for key in keys)


DIRTY_SUFFIX = "-dirty"
#: Besides the flows root, what a deployment's behaviour depends on: its config and
#: the package metadata (name, version).
WATCHED_PATHS = ("config", "pyproject.toml")


def uncommitted_paths(
    status: Iterable[tuple[str, str]], flows_root: str, watched: Sequence[str] = WATCHED_PATHS
) -> list[str]:
    """The changes that make a checkout differ from its commit in what a deployment runs.

    `status` is git's `(XY, path)` per changed file. Counted: any tracked change
    under the flows root or a watched path, and untracked Python files under the
    flows root (a new module is code the commit does not have). Untracked files
    elsewhere are not the deployed code.
    """
    root = flows_root.strip().strip("/").removeprefix("./")
    root = "" if root in ("", ".") else root

    def under(path: str, top: str) -> bool:
        return top == "" or path == top or path.startswith(top.rstrip("/") + "/")

    found = []
    for code, path in status:
        if code == "??":
            if under(path, root) and path.endswith(".py"):
                found.append(path)
        elif under(path, root) or any(under(path, w) for w in watched if w):
            found.append(path)
    return found


def dirty_commit(commit: str) -> str:
    """The version recorded for a checkout with uncommitted changes: never the clean one."""
    return commit if commit.endswith(DIRTY_SUFFIX) else commit + DIRTY_SUFFIX


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


def checkout_code_version(
    flow: FlowRecord,
    config: ProjectConfig,
    environment: Environment,
    context: DeployContext,
    parameter_schema: Mapping[str, Any] | None,
) -> CodeVersion:
    """The code version a deploy puts in place: the checkout, as this environment runs it."""
    static = config.flow_config(flow.key)
    version = VersionTags(config.project, context.branch, context.commit, context.package_version)
    return CodeVersion(
        flow_key=flow.key,
        flow_name=flow_name_for(config.flow_name_style, flow),
        entrypoint=flow.entrypoint,
        description=static.description if static.description is not None else flow.description,
        version=version_string(version, config.flow_name_style),
        naming_style=config.flow_name_style,
        version_tags=version,
        image=context.image or render_image(config.image_template, config.project, version),
        pull_steps=pull_steps_for(environment.config, context.project_root),
        parameter_schema=parameter_schema,
    )


def build_deploy_spec(
    flow: FlowRecord,
    config: ProjectConfig,
    environment: Environment,
    context: DeployContext,
    values: EnvValues,
    parameter_schema: Mapping[str, Any] | None,
) -> DeploymentSpec:
    code = checkout_code_version(flow, config, environment, context, parameter_schema)
    return deployment_spec(code, environment, config.flow_config(flow.key), values)


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
    environment: Environment,
    context: DeployContext,
    values: EnvValues,
    schemas: Mapping[str, Mapping[str, Any] | None],
    current: Sequence[DeployedState],
    adopt: bool = False,
) -> Plan:
    """Everything that can be wrong is reported at once, before anything is written.

    `adopt` takes over same-named deployments of unknown origin (see `make_plan`).
    """
    if invalid := context_problems(context):  # names and tags cannot be built from these
        raise PlanError(invalid)
    problems = missing_secret_problems(environment, values)
    specs = []
    for flow in flows:
        try:
            specs.append(build_deploy_spec(flow, config, environment, context, values,
                                           schemas.get(flow.entrypoint)))
        except PlanError as err:
            problems.extend(err.problems)
        except NameRuleError as err:
            problems.append(str(err))
    problems.extend(branch_conflicts(specs, current, context.branch))
    if problems:
        raise PlanError(problems)
    return make_plan(environment.name, specs, current, adopt=adopt)


def deployment_names(
    flows: Sequence[FlowRecord], project: str, branch: str, environment: Environment
) -> list[str]:
    return [DeploymentName.build(project, branch, f.key, environment.name).format() for f in flows]
