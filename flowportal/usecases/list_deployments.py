"""Read what is deployed in every environment, once per Prefect API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from flowportal.targets import ApiTarget, gateway_for, resolve_api
from flowportal.workspace import Workspace
from portal_core.inventory import Inventory, Matrix, build_matrix, classify, deployment_record
from portal_core.names import slugify
from portal_core.urls import deployment_url


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
    envs: Sequence[str] | None = None,
) -> DeploymentListing:
    config = workspace.config
    wanted = list(envs) if envs else list(config.promotion_path)
    for env in wanted:
        config.environment(env)
    targets: dict[str, ApiTarget] = {}
    for env in wanted:
        target = resolve_api(workspace, env)
        targets.setdefault(target.url, target)  # several environments may share a server
    states, urls = [], {}
    for target in targets.values():
        for state in gateway_for(workspace, target).read_deployments():
            states.append(state)
            urls[state.id] = deployment_url(target.url, state.id, target.ui_url)
    inventory = classify(states, config.project)
    if envs:
        keep = {slugify(e, "environment") for e in envs}
        inventory = attrs.evolve(
            inventory, managed=tuple(m for m in inventory.managed if m.name.env in keep)
        )
    path = [e for e in config.promotion_path if not envs or e in wanted]
    from flowportal.usecases.drift import known_drift
    from flowportal.usecases.history import now_utc

    matrix = build_matrix(inventory, path, now_utc(), known_drift(workspace.state_dir))
    return DeploymentListing(inventory, matrix, urls)
