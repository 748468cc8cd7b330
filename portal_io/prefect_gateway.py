"""The Prefect API, behind a few narrow methods.

The use cases see `DeployedState`/`DeploymentSpec` values only; Prefect's
client, schemas and exceptions stay in this module, which imports `prefect`
lazily so that commands which never talk to Prefect never pay for it.

Writes are bounded (`write_concurrency`): the SQLite-backed server answers 503
when more than a few writes overlap. Prefect's client itself retries 429/503
with backoff and honours `Retry-After` (PREFECT_CLIENT_MAX_RETRIES).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from portal_core.deployments import ApplyResult, DeployedState, DeploymentSpec, Schedule
from portal_core.errors import PortalError

PAGE_SIZE = 200  # the server's maximum page
RETRIES = 8  # for 429/503, on reads and writes
BASE_RETRY_WAIT = 0.1
MAX_RETRY_WAIT = 30.0
RETRY_CODES = frozenset({429, 503})


class PrefectApiError(PortalError):
    """The Prefect API could not be reached or refused a request."""


_STATUS_HINTS = {
    401: "the API key was rejected; check PREFECT_API_KEY (or the env's api_key_env)",
    403: "the API key may not do this",
    429: "rate limited even after retries; lower write_concurrency",
    503: "the server stayed unavailable after retries (SQLite busy?); lower write_concurrency",
}


def _describe_status(code: int, detail: str, api_url: str, what: str) -> str:
    if code == 404:
        hint = f"not found at {api_url}; check the environment's prefect_api_url"
    elif code == 422:
        hint = f"the server refused the request: {detail}"
    else:
        hint = _STATUS_HINTS.get(code, detail or "unexpected error")
    return f"{what}: Prefect API answered {code}: {hint}"


def _detail_of(body: bytes | str) -> str:
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        detail = body if isinstance(body, str) else body.decode("utf-8", "replace")
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return " ".join(text.split())[:300]


def _describe_http_error(err: Exception, api_url: str, what: str) -> str:
    """One line for any failure of the Prefect client (httpx underneath)."""
    import httpx

    if isinstance(err, httpx.HTTPStatusError):
        code = err.response.status_code
        return _describe_status(code, _detail_of(err.response.content), api_url, what)
    if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
        return f"{what}: cannot reach the Prefect API at {api_url} (is the server running?)"
    if isinstance(err, httpx.TimeoutException):
        return f"{what}: the Prefect API at {api_url} timed out"
    return f"{what}: {type(err).__name__}: {err}".splitlines()[0]


def retry_delay(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based): the server's `Retry-After`
    when it gives one, else short exponential backoff with jitter (SQLite 503s
    clear within a fraction of a second; Prefect's client default waits 2 s, 4 s...)."""
    if retry_after:
        with contextlib.suppress(ValueError):
            return min(max(float(retry_after), 0.0), MAX_RETRY_WAIT)
    return min(BASE_RETRY_WAIT * (2**attempt) * (1 + random.random()), MAX_RETRY_WAIT)


def _state_from(item: Mapping[str, Any], flow_names: Mapping[str, str]) -> DeployedState:
    """A deployment as the REST API returns it (JSON), as our value."""
    schedules = []
    for entry in item.get("schedules") or []:
        schedule = entry.get("schedule") or {}
        if schedule.get("cron") is not None:
            schedules.append(Schedule(cron=schedule["cron"],
                                      timezone=schedule.get("timezone") or "UTC",
                                      active=bool(entry.get("active", True))))
    limit = (item.get("global_concurrency_limit") or {}).get("limit")
    status = item.get("status")
    return DeployedState(
        name=item["name"],
        flow_name=flow_names.get(str(item.get("flow_id")), ""),
        entrypoint=item.get("entrypoint") or "",
        description=item.get("description") or "",
        version=item.get("version") or "",
        tags=tuple(item.get("tags") or ()),
        work_pool_name=item.get("work_pool_name") or "",
        work_queue_name=item.get("work_queue_name"),
        job_variables=dict(item.get("job_variables") or {}),
        parameters=dict(item.get("parameters") or {}),
        parameter_schema=item.get("parameter_openapi_schema"),
        schedules=tuple(schedules),
        paused=bool(item.get("paused")),
        concurrency_limit=limit,
        pull_steps=tuple(item.get("pull_steps") or ()),
        enforce_parameter_schema=bool(item.get("enforce_parameter_schema")),
        id=str(item["id"]),
        flow_id=str(item.get("flow_id") or ""),
        created=item.get("created"),
        updated=item.get("updated"),
        status=status if isinstance(status, str) else None,
    )


class PrefectGateway:
    """Reads and writes deployments on one Prefect API (one environment's server)."""

    def __init__(self, api_url: str, api_key: str | None = None, write_concurrency: int = 2) -> None:
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        self.write_concurrency = max(1, write_concurrency)

    # ------------------------------------------------------------------ plumbing

    def _client(self) -> Any:
        from prefect.client.orchestration import PrefectClient

        return PrefectClient(self.api_url, api_key=self._api_key)

    def _run(self, what: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            async with self._client() as client:
                return await work(client)

        try:
            return asyncio.run(main())
        except PortalError:
            raise
        except Exception as err:
            raise PrefectApiError(_describe_http_error(err, self.api_url, what)) from err

    # ------------------------------------------------------------------ reads

    def _post(self, path: str, body: Mapping[str, Any], what: str) -> Any:
        """POST JSON to the API with the standard library, retrying 429/503.

        Reads need no `prefect` import (1-2 s): an unchanged re-deploy or a
        listing is a handful of these calls.
        """
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(self.api_url + path, data=data, headers=headers,
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                if err.code in RETRY_CODES and attempt < RETRIES:
                    time.sleep(retry_delay(err.headers.get("Retry-After"), attempt))
                    continue
                raise PrefectApiError(
                    _describe_status(err.code, _detail_of(err.read()), self.api_url, what)
                ) from None
            except (urllib.error.URLError, ConnectionError) as err:
                raise PrefectApiError(
                    f"{what}: cannot reach the Prefect API at {self.api_url} "
                    f"(is the server running?)"
                ) from err
            except TimeoutError as err:
                raise PrefectApiError(f"{what}: the Prefect API at {self.api_url} timed out") from err
            except ValueError as err:
                raise PrefectApiError(f"{what}: the answer from {self.api_url} is not JSON") from err
        raise AssertionError("unreachable")

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]:
        """Every deployment matching exact `names` (all if None) and all `tags_all`, every page.

        The server pages at 200 at most; pages are read until a short one, sorted by
        name so that concurrent writes cannot shift items between pages unnoticed.
        """
        if names is not None and not names:
            return []
        deployment_filter: dict[str, Any] = {}
        if names is not None:
            deployment_filter["name"] = {"any_": sorted(set(names))}
        if tags_all:
            deployment_filter["tags"] = {"all_": list(tags_all)}
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._post(
                "/deployments/filter",
                {"deployments": deployment_filter or None, "sort": "NAME_ASC",
                 "limit": PAGE_SIZE, "offset": offset},
                "reading deployments",
            )
            items.extend(page)
            if len(page) < PAGE_SIZE:
                break
            offset += PAGE_SIZE
        flow_ids = sorted({str(i["flow_id"]) for i in items if i.get("flow_id")})
        flow_names: dict[str, str] = {}
        for start in range(0, len(flow_ids), PAGE_SIZE):
            flows = self._post(
                "/flows/filter",
                {"flows": {"id": {"any_": flow_ids[start : start + PAGE_SIZE]}},
                 "limit": PAGE_SIZE},
                "reading flows",
            )
            flow_names.update({str(f["id"]): f["name"] for f in flows})
        return [_state_from(item, flow_names) for item in items]

    def missing_work_pools(self, names: Iterable[str]) -> list[str]:
        """Which of `names` do not exist: one filter call, no prefect import."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        found = self._post(
            "/work_pools/filter",
            {"work_pools": {"name": {"any_": wanted}}, "limit": PAGE_SIZE},
            "checking work pools",
        )
        existing = {pool["name"] for pool in found}
        return [name for name in wanted if name not in existing]

    def create_work_pool(self, name: str, pool_type: str) -> None:
        async def work(client: Any) -> None:
            from prefect.client.schemas.actions import WorkPoolCreate
            from prefect.exceptions import ObjectAlreadyExists

            # created meanwhile by someone else: that is what we wanted
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))

        self._run(f"creating work pool {name!r}", work)

    # ------------------------------------------------------------------ writes

    def apply(
        self,
        specs: Sequence[DeploymentSpec],
        on_done: Callable[[ApplyResult], None] | None = None,
    ) -> list[ApplyResult]:
        """Upsert every spec, at most `write_concurrency` at a time.

        One failure does not stop the others: the caller reports exactly what was
        applied and what was not, and a re-run converges because upserts are
        idempotent by (flow, name).
        """
        if not specs:
            return []

        async def work(client: Any) -> list[ApplyResult]:
            gate = asyncio.Semaphore(self.write_concurrency)
            flow_ids: dict[str, Any] = {}
            flow_locks: dict[str, asyncio.Lock] = {}

            async def flow_id(name: str) -> Any:
                lock = flow_locks.setdefault(name, asyncio.Lock())
                async with lock:
                    if name not in flow_ids:
                        flow_ids[name] = await client.create_flow_from_name(name)
                    return flow_ids[name]

            async def upsert(spec: DeploymentSpec) -> Any:
                import httpx

                for attempt in range(RETRIES + 1):
                    try:
                        return await client.create_deployment(
                            flow_id=await flow_id(spec.flow_name), **_upsert_fields(spec)
                        )
                    except httpx.HTTPStatusError as err:
                        if err.response.status_code not in RETRY_CODES or attempt == RETRIES:
                            raise
                        retry_after = err.response.headers.get("Retry-After")
                        await asyncio.sleep(retry_delay(retry_after, attempt))
                raise AssertionError("unreachable")

            async def one(spec: DeploymentSpec) -> ApplyResult:
                async with gate:
                    try:
                        deployment_id = await upsert(spec)
                        result = ApplyResult(spec.name, spec.flow_key, True, str(deployment_id))
                    except Exception as err:
                        message = _describe_http_error(err, self.api_url, spec.name)
                        result = ApplyResult(spec.name, spec.flow_key, False, error=message)
                if on_done is not None:
                    on_done(result)
                return result

            return list(await asyncio.gather(*(one(spec) for spec in specs)))

        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        # Our retry above is quicker and honours Retry-After; the client's would
        # stack its own 2 s, 4 s, ... waits under it.
        with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}):
            return self._run("applying deployments", work)


def _upsert_fields(spec: DeploymentSpec) -> dict[str, Any]:
    """Every writable field, always: Prefect's upsert clears what is left out."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    return {
        "name": spec.name,
        "entrypoint": spec.entrypoint,
        "description": spec.description,
        "version": spec.version,
        "tags": list(spec.tags),
        "work_pool_name": spec.work_pool_name,
        "work_queue_name": spec.work_queue_name,
        "job_variables": _plain(spec.job_variables),
        "parameters": _plain(spec.parameters),
        "parameter_openapi_schema": _plain(spec.parameter_schema) if spec.parameter_schema else None,
        "schedules": [
            DeploymentScheduleCreate(
                schedule=CronSchedule(cron=s.cron, timezone=s.timezone), active=s.active
            )
            for s in spec.schedules
        ],
        "paused": bool(spec.paused),
        "concurrency_limit": spec.concurrency_limit,
        "pull_steps": [_plain(step) for step in spec.pull_steps],
        "enforce_parameter_schema": spec.enforce_parameter_schema,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
