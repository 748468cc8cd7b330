"""Check that a project is ready to deploy: config, flows, servers, pools, secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.environment import missing_secret_problems, pools_to_create
from portal_core.errors import PortalError

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class CheckReport:
    ok: tuple[str, ...]
    problems: tuple[str, ...]


def check(
    workspace: Workspace,
    envs: Sequence[str] | None,
    deps: Dependencies,
    offline: bool = False,
    reporter: Reporter | None = None,
) -> CheckReport:
    reporter = reporter or SilentReporter()
    config = workspace.config
    ok = [f"config: project {config.project!r}, path {' -> '.join(config.promotion_path)}"]
    problems: list[str] = []
    discovery = workspace.discover()
    ok.append(f"flows: {len(discovery.flows)} found under {config.flows_root}")
    problems += [f"{c.format()}" for c in discovery.collisions]
    problems += [f"cannot parse {e}" for e in discovery.errors]
    for name in envs or list(config.environments):
        try:
            environment = config.environment(name)
            values = workspace.env_values(environment)
            problems += [f"{name}: {p}" for p in missing_secret_problems(environment, values)]
            if offline:
                continue
            target, gateway = deps.prefect(workspace, environment, reporter.step)
            gateway.read_deployments(names=["flowportal-check"])
            ok.append(f"{name}: Prefect API reachable at {target.url}")
            pool = environment.config.work_pool
            if pool is not None:
                create, missing = pools_to_create(environment, gateway.missing_work_pools([pool.name]))
                problems += [f"{name}: {p}" for p in missing]
                if not missing:
                    ok.append(f"{name}: work pool {pool.name!r} " + ("will be created" if create else "exists"))
        except PortalError as err:
            problems.append(f"{name}: {err}")
    return CheckReport(tuple(ok), tuple(problems))
