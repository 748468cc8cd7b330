"""Change records as Prefect artifacts, and bulk deletes, over plain HTTP.

Why artifacts: they are part of the open-source server and of Cloud, are not
subject to event retention, are readable by anyone with API access (laptops,
CI, the VS Code extension) and are visible in the Prefect UI. The records of
one apply are one artifact (a `RecordBatch`), under one key per project and
environment (`portal_core.history.batch_key`): recording a deploy of 100 flows
is one request, and reading an environment's history is reading that key's
versions newest first, page by page, only as far as the reader needs.

Standard library only (no `prefect` import): a history or drift read is a
couple of requests and must not pay 1-2 s of import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portal_core.history import (
    RECORD_TYPE,
    ChangeRecord,
    Place,
    RecordBatch,
    batch_key,
    batches_for,
    key_pattern,
    legacy_known,
    place_of,
    places,
    stored_batch,
)
from portal_core.prune import batches
from portal_io.errors import HistoryError

PAGE_SIZE = 200  # the server's largest page
FIRST_PAGE = 5  # artifacts; a batch of a whole deploy can be a few hundred KB
BULK_DELETE_LIMIT = 50  # the server's cap on /deployments/bulk_delete
RETRIES = 6
RETRY_CODES = frozenset({429, 503})




def _wait(retry_after: str | None, attempt: int) -> float:
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), 30.0)
        except ValueError:
            pass
    return min(0.1 * (2**attempt), 10.0)


def _ours(key_filter: Mapping[str, Any]) -> dict[str, Any]:
    """An artifact filter: our records' type, and `key_filter` on the key."""
    return {"key": dict(key_filter), "type": {"any_": [RECORD_TYPE]}}


def _detail(body: bytes) -> str:
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        detail = body.decode("utf-8", "replace")
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return " ".join(text.split())[:200]


class HistoryStore:
    """Reads and writes change records on one Prefect API; counts its requests."""

    def __init__(self, api_url: str, api_key: str | None = None, write_concurrency: int = 2) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.write_concurrency = max(1, write_concurrency)
        self.requests = 0

    def _call(self, method: str, path: str, body: Any, what: str) -> Any:
        import urllib.error  # here: a command that records nothing (a no-op deploy) never needs them
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in range(RETRIES + 1):
            self.requests += 1
            request = urllib.request.Request(self.api_url + path, data=data, headers=headers,
                                             method=method)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    raw = response.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as err:
                if err.code in RETRY_CODES and attempt < RETRIES:
                    time.sleep(_wait(err.headers.get("Retry-After"), attempt))
                    continue
                raise HistoryError(f"{what}: Prefect API answered {err.code}: "
                                   f"{_detail(err.read())}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                reason = getattr(err, "reason", err)
                raise HistoryError(f"{what}: cannot reach the Prefect API at {self.api_url} "
                                   f"({reason})") from None
            except ValueError:
                raise HistoryError(f"{what}: the answer from {self.api_url} is not JSON") from None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ writes

    def write(self, records: Sequence[ChangeRecord]) -> list[str]:
        """Store the records of one apply: one artifact per place (project and
        environment), each with its manifest, `write_concurrency` at a time.

        Returns one problem line per record that could not be stored; the
        caller decides whether that is a warning or an error.
        """
        def one(batch: RecordBatch) -> list[str]:
            first = batch.records[0]
            body = {
                "key": batch.key,
                "type": RECORD_TYPE,
                "description": batch.summary(),
                "data": batch.to_json(),
                "metadata_": {"verb": first.verb, "env": first.env[:400],
                              "deployments": str(len(batch.records))},
            }
            more = f" and {len(batch.records) - 1} more" if len(batch.records) > 1 else ""
            try:
                self._call("POST", "/artifacts/", body, f"recording {first.deployment}{more}")
            except HistoryError as err:
                return [str(err)] * len(batch.records)
            return []

        if not records:
            return []
        known: dict[Place, tuple[str, ...]] = {}
        problems: list[str] = []
        for place in places(records):
            try:
                known[place] = self.known(place)
            except HistoryError as err:  # nothing of this place is written without its manifest
                problems += [str(err)] * sum(1 for r in records if place_of(r) == place)
        logs: dict[str, list[RecordBatch]] = {}
        for batch in batches_for([r for r in records if place_of(r) in known], known):
            logs.setdefault(batch.key, []).append(batch)

        def in_order(batches: list[RecordBatch]) -> list[str]:
            """A log's batches one after another: each manifest builds on the one before,
            so the newest stored batch must be the last one (a failure stops the rest)."""
            for n, batch in enumerate(batches):
                if failed := one(batch):
                    return failed + [failed[0]] * sum(len(b.records) for b in batches[n + 1:])
            return []

        if logs:
            with ThreadPoolExecutor(max_workers=min(self.write_concurrency, len(logs))) as pool:
                problems += [p for found in pool.map(in_order, logs.values()) for p in found]
        return problems

    # ------------------------------------------------------------------ reads

    def known(self, place: Place) -> tuple[str, ...]:
        """The manifest of one place: the newest batch's (one request), or for a log
        only earlier versions wrote, from the newest record of each deployment."""
        newest = self._call("POST", "/artifacts/latest/filter", {
            "artifacts": _ours({"any_": [batch_key(*place)]}),
            "limit": 1,
        }, "reading the change history")
        for item in newest if isinstance(newest, list) else ():
            batch = stored_batch(str(item.get("key")), item.get("data"))
            if batch is not None and batch.known is not None:
                return batch.known
        legacy: list[ChangeRecord] = []
        offset = 0
        while True:
            page = self._call("POST", "/artifacts/latest/filter", {
                "artifacts": _ours({"like_": key_pattern(place)}),
                "sort": "KEY_ASC", "limit": PAGE_SIZE, "offset": offset,
            }, "reading the change history")
            page = page if isinstance(page, list) else []
            for item in page:
                batch = stored_batch(str(item.get("key")), item.get("data"))
                legacy += batch.records if batch is not None and batch.known is None else ()
            offset += len(page)
            if len(page) < PAGE_SIZE:
                return legacy_known(legacy, place)

    def scan(self, place: Place) -> Iterator[RecordBatch]:
        """The stored batches of one place (and look-alikes the caller filters out),
        newest first, read lazily: a reader that stops early stops the requests too.
        Pages start small and grow, because a batch can hold a hundred records and
        most readers need only the newest few.
        """
        seen: set[str] = set()
        offset, size = 0, FIRST_PAGE
        while True:
            page = self._call("POST", "/artifacts/filter", {
                "artifacts": _ours({"like_": key_pattern(place)}),
                "sort": "CREATED_DESC", "limit": size, "offset": offset,
            }, "reading the change history")
            if not isinstance(page, list):
                raise HistoryError(f"reading the change history: unexpected answer from {self.api_url}")
            for item in page:
                if not isinstance(item, Mapping) or str(item.get("id")) in seen:
                    continue  # not an artifact, or shifted into this page by a write meanwhile
                seen.add(str(item.get("id")))
                batch = stored_batch(str(item.get("key")), item.get("data"))
                if batch is not None:
                    yield batch
            if len(page) < size:
                return
            offset += len(page)
            size = min(size * 4, PAGE_SIZE)

    # ------------------------------------------------------------------ deletes

    def delete_deployments(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """Delete by id in batches of the server's bulk limit; (deleted ids, problems).

        Servers without `bulk_delete` (older or other Prefect APIs) get one
        DELETE per deployment instead. The automations a deployment owns (its
        triggers) go first: the server would keep them, running nothing, and it
        answers 503 to deleting them once their deployment is gone. A deployment
        whose automations could not be deleted is kept, so a re-run finishes it.
        """
        clear, problems = self._delete_each(ids, "/automations/owned-by/prefect.deployment.{}",
                                            "deleting the automations of deployment {}")
        deleted, more = self._delete_deployments(clear)
        return deleted, problems + more

    def _delete_each(self, ids: Iterable[str], path: str, what: str) -> tuple[list[str], list[str]]:
        """One DELETE per id (`path` and `what` formatted with it); (ids done, problems)."""
        done: list[str] = []
        problems: list[str] = []
        for item in ids:
            try:
                self._call("DELETE", path.format(item), None, what.format(item))
                done.append(item)
            except HistoryError as err:
                problems.append(str(err))
        return done, problems

    def _delete_deployments(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        deleted: list[str] = []
        problems: list[str] = []
        bulk = True
        for chunk in batches(ids, BULK_DELETE_LIMIT):
            if bulk:
                try:
                    answer = self._call("POST", "/deployments/bulk_delete", {
                        "deployments": {"id": {"any_": chunk}}, "limit": len(chunk),
                    }, "deleting deployments")
                    deleted.extend(str(i) for i in (answer or {}).get("deleted", []))
                    continue
                except HistoryError as err:
                    if " 404:" not in str(err) and " 405:" not in str(err):
                        problems.append(str(err))
                        continue
                    bulk = False
            one_by_one, failed = self._delete_each(chunk, "/deployments/{}", "deleting deployment {}")
            deleted += one_by_one
            problems += failed
        return deleted, problems
