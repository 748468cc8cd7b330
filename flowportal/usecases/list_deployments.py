"""Read what is deployed in every environment, once per Prefect API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from flowportal.usecases.ports import DeploymentGateway
from flowportal.usecases.reporting import Reporter, SilentReporter
from flowportal.workspace import Workspace
from portal_core.deployments import DeployedState
from portal_core.inventory import Inventory, Matrix, build_matrix, classify, deployment_record
from portal_core.urls import deployment_url

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


@attrs.frozen
class DeploymentListing:
    inventory: Inventory
    matrix: Matrix
    urls: Mapping[str, str]  # deployment id -> UI URL

    def records(self, include_others: bool = False) -> list[dict[str, Any]]:
        url = self.urls.get
        records = [deployment_record(m, lambda i: url(i, "")) for m in self.inventory.managed]
        if include_others:
            records += [deployment_record(s, lambda i: url(i, "")) for s in self.inventory.others]
        return records


def list_deployments(
    workspace: Workspace,
    envs: Sequence[str] | None,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> DeploymentListing:
    reporter = reporter or SilentReporter()
    config = workspace.config
    wanted = [config.environment(e) for e in (envs or config.promotion_path)]
    apis: dict[str, tuple[str | None, DeploymentGateway]] = {}
    for environment in wanted:
        target, gateway = deps.prefect(workspace, environment, reporter.step)
        apis.setdefault(target.url, (target.ui_url, gateway))  # environments may share a server
    states: list[DeployedState] = []
    urls = {}
    for api_url, (ui_url, gateway) in apis.items():
        for state in gateway.read_deployments():
            states.append(state)
            urls[state.id] = deployment_url(api_url, state.id, ui_url)
    inventory = classify(states, config.project)
    if envs:
        keep = {e.slug for e in wanted}
        inventory = attrs.evolve(
            inventory, managed=tuple(m for m in inventory.managed if m.name.env in keep)
        )
    path = [e for e in config.promotion_path if not envs or e in envs]
    from flowportal.usecases.drift import known_drift
    from flowportal.usecases.history import now_utc

    matrix = build_matrix(inventory, path, now_utc(), known_drift(workspace.state_dir))
    return DeploymentListing(inventory, matrix, urls)
