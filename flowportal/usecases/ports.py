"""The narrow interface use cases need from a Prefect API (real or in-memory)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from portal_core.deployments import ApplyResult, DeployedState, DeploymentSpec


class DeploymentGateway(Protocol):
    api_url: str

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]: ...

    def missing_work_pools(self, names: Iterable[str]) -> list[str]: ...

    def create_work_pool(self, name: str, pool_type: str) -> None: ...

    def apply(
        self,
        specs: Sequence[DeploymentSpec],
        on_done: Callable[[ApplyResult], None] | None = None,
    ) -> list[ApplyResult]: ...
