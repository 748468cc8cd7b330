"""The seed SDK's deploy CLI (`aps-prefect-deploy`) as flowportal values.

CI pipelines written for the seed SDK call `aps-prefect-deploy deploy|promote`
with single-dash flags. These rules turn those flags into a project config and
request values for flowportal's own deploy and promote, so the deployments have
the names, flow names and tags the SDK gave them (the existing ones are updated
in place, not duplicated), while gaining plan-then-apply, idempotence and
discovery without importing flow code.

What the SDK did, and so what this reproduces:
* `-project-name` / `-branch-name` have `_` turned into `-`;
* job env vars come only from the dotenv file `{app}.{env}.{ver}.env` that
  acme-config's `ac fetch` wrote in the working directory;
* a flow's work pool is the static config's `work_pool_name`, else `ecs-pool`;
* each deployment gets `concurrency_limit: 1` and `paused: false` unless the
  static config says otherwise; the flow's cron applies in every environment;
* `--flows-to-deploy` is `all` or a comma-separated list of flow names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from portal_core.config import EnvironmentConfig, ProjectConfig, StaticFlowConfig
from portal_core.deploy import ALL
from portal_core.errors import PlanError
from portal_core.naming_style import SDK

DEFAULT_WORK_POOL = "ecs-pool"
ENV_FILE = "{app}.{env}.{ver}.env"
#: The SDK deployed one at a time; keep writes gentle on small servers.
WRITE_CONCURRENCY = 2


def name_part(value: str) -> str:
    """What the SDK's argument parser did to project and branch names."""
    return value.replace("_", "-")


def parse_flows_arg(value: str) -> tuple[str, ...]:
    """`all` or `a,b` (spaces around names ignored) -> the flows to deploy."""
    names = tuple(part.strip() for part in value.split(","))
    if not value.strip() or any(not n for n in names):
        raise PlanError([f"--flows-to-deploy {value!r}: give 'all' or flow names separated by "
                         "commas, without empty entries"])
    return (ALL,) if ALL in names else names


def with_sdk_defaults(static: StaticFlowConfig) -> StaticFlowConfig:
    return attrs.evolve(
        static,
        work_pool_name=static.work_pool_name or DEFAULT_WORK_POOL,
        concurrency_limit=static.concurrency_limit if static.concurrency_limit is not None else 1,
        paused=static.paused if static.paused is not None else False,
    )


def sdk_project_config(
    project: str,
    flows_root: str,
    envs: Iterable[str],
    static: Mapping[str, StaticFlowConfig],
    flow_keys: Iterable[str],
) -> ProjectConfig:
    """A project config equivalent to the SDK's behaviour for these flags.

    Every environment is the SDK's: no pool of its own (so the static config's
    pool applies), the acme-config dotenv file, the API from the shell's
    Prefect settings. Every discovered flow gets the SDK's defaults.
    """
    env_names = tuple(dict.fromkeys(envs))
    environment = EnvironmentConfig(env_file=ENV_FILE)
    flows = {key: with_sdk_defaults(static.get(key, StaticFlowConfig()))
             for key in (*static, *flow_keys)}
    return ProjectConfig(
        project=name_part(project),
        flows_root=flows_root,
        image_template=None,
        promotion_path=env_names,
        write_concurrency=WRITE_CONCURRENCY,
        environments=dict.fromkeys(env_names, environment),
        flows=flows,
        flow_name_style=SDK,
    )


# --------------------------------------------------------------------------- the extension's records
#
# The acme-portal VS Code extension reads FlowDetails / DeploymentDetails JSON
# records, joins deployments to flows on `flow_name == name`, groups them by
# branch then environment, and shows an error when two deployments fill one
# (flow, branch, env) slot. These rules shape what it is given.

_TEXT_FIELDS = ("project_name", "branch", "flow_name", "env", "commit_hash", "package_version",
                "created_at", "updated_at", "flow_id", "url", "id", "name")


def editor_flow_record(record: Mapping[str, Any], import_path: str) -> dict[str, Any]:
    """A flow record whose `import_path`/`module` are what Python imports (src/ layouts)."""
    child = dict(record.get("child_attributes") or {})
    child["import_path"] = import_path
    child["module"] = import_path.rsplit(".", 1)[-1]
    return {**record, "child_attributes": child}


def select_flow_records(
    records: Sequence[Mapping[str, Any]],
    wanted: Sequence[tuple[str, str]] | None,
    groups: Sequence[str] | None,
) -> list[Mapping[str, Any]]:
    """All records, or those named by (name, source_relative) plus those in a group, once each."""
    if wanted is None and groups is None:
        return list(records)
    keys = set(wanted or ())
    group_set = set(groups or ())
    return [r for r in records
            if (r["name"], r["source_relative"]) in keys
            or any(part in group_set for part in r.get("grouping") or ())]


def editor_deployment_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Text fields as text: the extension builds links and `new Date()`s from them."""
    return {**record, **{k: "" if record.get(k) is None else str(record[k])
                         for k in _TEXT_FIELDS if k in record}}


def one_per_slot(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """At most one deployment per (flow, branch, env): the most recently updated.

    Twins come from the same name filed under two Prefect flows (e.g. one made by
    the seed SDK, one by an older flowportal); the newest is the one last deployed.
    """
    best: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for record in records:
        slot = (str(record["flow_name"]), str(record["branch"]), str(record["env"]))
        current = best.get(slot)
        if current is None or (str(record["updated_at"]), str(record["id"])) > (
                str(current["updated_at"]), str(current["id"])):
            best[slot] = record
    return sorted(best.values(), key=lambda r: (str(r["flow_name"]), str(r["branch"]), str(r["env"])))


def select_deployment_records(
    records: Sequence[Mapping[str, Any]],
    ids: Sequence[str] | None,
    flow_names: Sequence[str] | None,
) -> list[Mapping[str, Any]]:
    """All records, or those asked for by id or by flow name."""
    if ids is None and flow_names is None:
        return list(records)
    id_set, names = set(ids or ()), set(flow_names or ())
    return [r for r in records if r["id"] in id_set or r["flow_name"] in names]
