"""An in-memory change history (the `HistoryPort` of the lifecycle use cases)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from portal_core.history import (
    ChangeRecord,
    Place,
    RecordBatch,
    in_scope,
    known_after,
    newest_first,
)
from support.memory_gateway import InMemoryGateway


@attrs.define
class MemoryHistory:
    records: list[ChangeRecord] = attrs.Factory(list)
    fail: bool = False  # every write fails, as an unreachable server would
    unreadable: bool = False  # every read fails
    requests: int = 0
    batches_read: int = 0  # batches handed out by `scan`, to tell a bounded read from a full one

    def write(self, records: Sequence[ChangeRecord]) -> list[str]:
        self.requests += len(records)
        if self.fail:
            return [f"recording {r.deployment}: cannot reach the Prefect API" for r in records]
        self.records.extend(records)
        return []

    def known(self, place: Place) -> tuple[str, ...]:
        self.requests += 1
        return known_after((), [r for r in reversed(newest_first(self.records))
                                if in_scope(r.deployment, *place)])

    def scan(self, place: Place) -> Iterator[RecordBatch]:
        """Every record, newest first, one batch each and without manifests: the use
        cases must do the exact scoping themselves (the real store's key pattern is
        only a pre-filter), and must not depend on a manifest to find what exists."""
        self.requests += 1
        if self.unreadable:
            raise ConnectionError("cannot reach the Prefect API")
        for record in newest_first(self.records):
            self.batches_read += 1
            yield RecordBatch("memory", (record,))

    def delete_deployments(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        return list(ids), []


@attrs.define
class GatewayWithHistory(InMemoryGateway):
    history: MemoryHistory = attrs.Factory(MemoryHistory)
