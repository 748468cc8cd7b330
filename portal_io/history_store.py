"""Change records as Prefect artifacts, and bulk deletes, over plain HTTP.

Why artifacts: they are part of the open-source server and of Cloud, are not
subject to event retention, are readable by anyone with API access (laptops,
CI, the VS Code extension) and are visible in the Prefect UI. Each record is
one artifact; the key is per deployment (`portal_core.history.history_key`),
so the server keeps every version under that key and its "latest" view gives
the last applied spec of many deployments in one filter request.

Standard library only (no `prefect` import): a history or drift read is a
couple of requests and must not pay 1-2 s of import.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portal_core.history import RECORD_TYPE, ChangeRecord, history_key
from portal_core.prune import batches
from portal_io.errors import HistoryError

PAGE_SIZE = 200  # the server's largest page
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
        """Store each record (one artifact each, `write_concurrency` at a time).

        Returns one problem line per record that could not be stored; the
        caller decides whether that is a warning or an error.
        """
        def one(record: ChangeRecord) -> str | None:
            body = {
                "key": history_key(record.deployment),
                "type": RECORD_TYPE,
                "description": record.summary(),
                "data": record.to_json(),
                "metadata_": {"verb": record.verb, "deployment": record.deployment[:400]},
            }
            try:
                self._call("POST", "/artifacts/", body, f"recording {record.deployment}")
            except HistoryError as err:
                return str(err)
            return None

        if not records:
            return []
        with ThreadPoolExecutor(max_workers=min(self.write_concurrency, len(records))) as pool:
            return [p for p in pool.map(one, records) if p]

    # ------------------------------------------------------------------ reads

    @staticmethod
    def _records(items: Iterable[Mapping[str, Any]]) -> list[ChangeRecord]:
        found = []
        for item in items:
            try:
                found.append(ChangeRecord.from_json(item.get("data") or {}))
            except ValueError:
                continue  # an artifact under a look-alike key that is not ours
        return found

    def read(self, key_like: str | None = None, keys: Sequence[str] | None = None,
             limit: int | None = None) -> list[ChangeRecord]:
        """Records newest first, by key pattern or exact keys; `limit` bounds the pages read."""
        key_filter: dict[str, Any] = {}
        if key_like is not None:
            key_filter["like_"] = key_like
        if keys is not None:
            if not keys:
                return []
            key_filter["any_"] = sorted(set(keys))
        if limit is not None and limit <= 0:
            return []
        records: list[ChangeRecord] = []
        offset = 0
        while True:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - offset)
            page = self._call("POST", "/artifacts/filter", {
                "artifacts": {"key": key_filter, "type": {"any_": [RECORD_TYPE]}},
                "sort": "CREATED_DESC", "limit": size, "offset": offset,
            }, "reading the change history")
            records.extend(self._records(page))
            offset += len(page)
            if len(page) < size or (limit is not None and offset >= limit):
                return records

    def latest(self, deployment_names: Sequence[str] = (),
               key_like: str | None = None) -> dict[str, ChangeRecord]:
        """The newest record of each deployment, by exact names or by key pattern:
        one request per 200 deployments (the server keeps a "latest" row per key)."""
        latest: dict[str, ChangeRecord] = {}
        if key_like is not None:
            offset = 0
            while True:
                page = self._latest_page({"like_": key_like}, offset)
                for record in self._records(page):
                    latest.setdefault(record.deployment, record)
                offset += len(page)
                if len(page) < PAGE_SIZE:
                    break
        keys = {history_key(name): name for name in deployment_names}
        for chunk in batches(sorted(keys), PAGE_SIZE):
            for record in self._records(self._latest_page({"any_": chunk}, 0)):
                if keys.get(history_key(record.deployment)) == record.deployment:
                    latest[record.deployment] = record
        return latest

    def _latest_page(self, key_filter: Mapping[str, Any], offset: int) -> Any:
        return self._call("POST", "/artifacts/latest/filter", {
            "artifacts": {"key": dict(key_filter), "type": {"any_": [RECORD_TYPE]}},
            "sort": "KEY_ASC", "limit": PAGE_SIZE, "offset": offset,
        }, "reading the change history")

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
