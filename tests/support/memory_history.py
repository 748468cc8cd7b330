"""An in-memory change history (the `HistoryPort` of the lifecycle use cases)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from portal_core.history import ChangeRecord, history_key, latest_by_deployment, newest_first
from support.memory_gateway import InMemoryGateway


@attrs.define
class MemoryHistory:
    records: list[ChangeRecord] = attrs.Factory(list)
    fail: bool = False  # every write fails, as an unreachable server would
    requests: int = 0

    def write(self, records: Sequence[ChangeRecord]) -> list[str]:
        self.requests += len(records)
        if self.fail:
            return [f"recording {r.deployment}: cannot reach the Prefect API" for r in records]
        self.records.extend(records)
        return []

    def read(self, key_like: str | None = None, keys: Sequence[str] | None = None,
             limit: int | None = None) -> list[ChangeRecord]:
        self.requests += 1
        wanted = set(keys) if keys is not None else None
        found = [r for r in newest_first(self.records)
                 if wanted is None or history_key(r.deployment) in wanted]
        return found[:limit] if limit is not None else found

    def latest(self, deployment_names: Sequence[str] = (),
               key_like: str | None = None) -> dict[str, ChangeRecord]:
        self.requests += 1
        latest = latest_by_deployment(self.records)
        if key_like is None:
            return {n: latest[n] for n in deployment_names if n in latest}
        return latest

    def delete_deployments(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        return list(ids), []


@attrs.define
class GatewayWithHistory(InMemoryGateway):
    history: MemoryHistory = attrs.Factory(MemoryHistory)
