"""In-memory stand-ins for the adapters `flowportal.bootstrap` wires in production.

`fake_dependencies` builds the same `Dependencies` value the CLI and the facade
get, with a fixed checkout, no schemas, and in-memory Prefect APIs per
environment (or one for all), so use cases run end to end without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from flowportal.bootstrap import Dependencies, GitHubActions
from flowportal.usecases.ports import ApiTarget, DeploymentGateway, WorkflowGateway
from flowportal.workspace import Workspace
from portal_core.environment import Environment
from portal_core.parameter_schema import SchemaResult


@attrs.frozen
class FixedCheckout:
    branch_name: str = "main"
    commit_hash: str = "abc1234"
    version: str | None = "1.0.0"
    changes: tuple[tuple[str, str], ...] = ()

    def branch(self, root: Path) -> str:
        return self.branch_name

    def commit(self, root: Path) -> str:
        return self.commit_hash

    def package_version(self, root: Path) -> str | None:
        return self.version

    def status(self, root: Path) -> list[tuple[str, str]]:
        return list(self.changes)


@attrs.frozen
class GatewayPerEnvironment:
    """Environment name -> gateway; `default` serves every other environment."""

    gateways: Mapping[str, DeploymentGateway] = attrs.Factory(dict)
    default: DeploymentGateway | None = None

    def __call__(
        self, workspace: Workspace, environment: Environment, notify: Callable[[str], None]
    ) -> tuple[ApiTarget, DeploymentGateway]:
        gateway = self.gateways.get(environment.name, self.default)
        if gateway is None:
            raise AssertionError(f"no in-memory gateway for environment {environment.name!r}")
        return ApiTarget(gateway.api_url), gateway


@attrs.frozen
class FixedGitHub:
    """A given workflow gateway (e.g. ghapi against the local stand-in) and default ref."""

    gateway: WorkflowGateway
    ref: str = "main"

    def default_ref(self, root: Path) -> str:
        return self.ref

    def connect(self, root: Path, repo: str | None) -> WorkflowGateway:
        return self.gateway


def history_of_gateway(gateway: Any, target: ApiTarget, write_concurrency: int) -> Any:
    """In memory, a gateway may carry its own history (see support.memory_history)."""
    return getattr(gateway, "history", None)


def no_schemas(root: Path, entrypoints: Sequence[str]) -> Mapping[str, SchemaResult]:
    return {entrypoint: SchemaResult(None) for entrypoint in entrypoints}


def fake_dependencies(
    gateway: DeploymentGateway | None = None,
    *,
    per_env: Mapping[str, DeploymentGateway] | None = None,
    checkout: FixedCheckout | None = None,
    schemas: Callable[[Path, Sequence[str]], Mapping[str, SchemaResult]] = no_schemas,
    github: FixedGitHub | None = None,
) -> Dependencies:
    return Dependencies(
        prefect=GatewayPerEnvironment(dict(per_env or {}), gateway),
        schemas=schemas,
        checkout=checkout or FixedCheckout(),
        github=github if github is not None else GitHubActions({}),
        history=history_of_gateway,
    )
