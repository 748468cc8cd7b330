"""Check that a project is ready to deploy: config, flows, servers, pools, secrets."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from flowportal.targets import gateway_for, resolve_api
from flowportal.workspace import Workspace
from portal_core.environment import missing_secrets
from portal_core.errors import PortalError


@attrs.frozen
class CheckReport:
    ok: tuple[str, ...]
    problems: tuple[str, ...]


def check(workspace: Workspace, envs: Sequence[str] | None, offline: bool = False) -> CheckReport:
    config = workspace.config
    ok = [f"config: project {config.project!r}, path {' -> '.join(config.promotion_path)}"]
    problems: list[str] = []
    discovery = workspace.discover()
    ok.append(f"flows: {len(discovery.flows)} found under {config.flows_root}")
    problems += [f"{c.format()}" for c in discovery.collisions]
    problems += [f"cannot parse {e}" for e in discovery.errors]
    for name in envs or list(config.environments):
        try:
            env = config.environment(name)
            values = workspace.env_values(name)
            problems += [f"{name}: secret {s!r} is not set" for s in missing_secrets(env, values)]
            if offline:
                continue
            target = resolve_api(workspace, name)
            gateway = gateway_for(workspace, target)
            gateway.read_deployments(names=["flowportal-check"])
            ok.append(f"{name}: Prefect API reachable at {target.url}")
            if env.work_pool is not None:
                missing = gateway.missing_work_pools([env.work_pool.name])
                if missing and not env.work_pool.create:
                    problems.append(f"{name}: work pool {env.work_pool.name!r} does not exist")
                else:
                    ok.append(f"{name}: work pool {env.work_pool.name!r} "
                              + ("will be created" if missing else "exists"))
        except PortalError as err:
            problems.append(f"{name}: {err}")
    return CheckReport(tuple(ok), tuple(problems))
