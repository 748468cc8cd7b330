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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from portal_core.deployments import DeployedState, DeploymentSpec, Schedule
from portal_core.errors import PortalError

PAGE_SIZE = 200  # the server's maximum page


class PrefectApiError(PortalError):
    """The Prefect API could not be reached or refused a request."""


@attrs.frozen
class ApplyResult:
    name: str
    flow_key: str
    ok: bool
    deployment_id: str | None = None
    error: str | None = None


def _describe_http_error(err: Exception, api_url: str, what: str) -> str:
    import httpx

    if isinstance(err, httpx.HTTPStatusError):
        code = err.response.status_code
        try:
            detail = err.response.json().get("detail", "")
        except Exception:
            detail = err.response.text[:200]
        detail = detail if isinstance(detail, str) else str(detail)[:300]
        hints = {
            401: "the API key was rejected; check PREFECT_API_KEY (or the env's api_key_env)",
            403: "the API key may not do this",
            404: f"not found at {api_url}; check the environment's prefect_api_url",
            422: f"the server refused the request: {detail}",
            429: "rate limited even after retries; lower write_concurrency",
            503: "the server stayed unavailable after retries (SQLite busy?); lower write_concurrency",
        }
        return f"{what}: Prefect API answered {code}: {hints.get(code, detail or 'unexpected error')}"
    if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
        return f"{what}: cannot reach the Prefect API at {api_url} (is the server running?)"
    if isinstance(err, httpx.TimeoutException):
        return f"{what}: the Prefect API at {api_url} timed out"
    return f"{what}: {type(err).__name__}: {err}"


def _state_from(response: Any, flow_names: dict[str, str]) -> DeployedState:
    schedules = []
    for item in response.schedules or []:
        cron = getattr(item.schedule, "cron", None)
        if cron is not None:
            schedules.append(
                Schedule(cron=cron, timezone=item.schedule.timezone or "UTC", active=item.active)
            )
    limit = response.global_concurrency_limit.limit if response.global_concurrency_limit else None
    return DeployedState(
        name=response.name,
        flow_name=flow_names.get(str(response.flow_id), ""),
        entrypoint=response.entrypoint or "",
        description=response.description or "",
        version=response.version or "",
        tags=tuple(response.tags or ()),
        work_pool_name=response.work_pool_name or "",
        work_queue_name=response.work_queue_name,
        job_variables=dict(response.job_variables or {}),
        parameters=dict(response.parameters or {}),
        parameter_schema=response.parameter_openapi_schema,
        schedules=tuple(schedules),
        paused=bool(response.paused),
        concurrency_limit=limit,
        pull_steps=tuple(response.pull_steps or ()),
        enforce_parameter_schema=bool(response.enforce_parameter_schema),
        id=str(response.id),
        flow_id=str(response.flow_id),
        created=response.created.isoformat() if response.created else None,
        updated=response.updated.isoformat() if response.updated else None,
        status=str(response.status.value) if getattr(response, "status", None) else None,
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

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]:
        """Every deployment matching exact `names` (all if None) and all `tags_all`, every page."""
        if names is not None and not names:
            return []
        return self._run("reading deployments", lambda c: self._read_all(c, names, tags_all))

    async def _read_all(
        self, client: Any, names: Sequence[str] | None, tags_all: Sequence[str]
    ) -> list[DeployedState]:
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterName,
            DeploymentFilterTags,
            FlowFilter,
            FlowFilterId,
        )
        from prefect.client.schemas.sorting import DeploymentSort

        deployment_filter = DeploymentFilter(
            name=DeploymentFilterName(any_=list(names)) if names is not None else None,
            tags=DeploymentFilterTags(all_=list(tags_all)) if tags_all else None,
        )
        responses: list[Any] = []
        offset = 0
        while True:
            page = await client.read_deployments(
                deployment_filter=deployment_filter,
                sort=DeploymentSort.NAME_ASC,
                limit=PAGE_SIZE,
                offset=offset,
            )
            responses.extend(page)
            if len(page) < PAGE_SIZE:
                break
            offset += PAGE_SIZE
        flow_ids = sorted({r.flow_id for r in responses}, key=str)
        flow_names: dict[str, str] = {}
        for start in range(0, len(flow_ids), PAGE_SIZE):
            chunk = flow_ids[start : start + PAGE_SIZE]
            flows = await client.read_flows(
                flow_filter=FlowFilter(id=FlowFilterId(any_=chunk)), limit=PAGE_SIZE
            )
            flow_names.update({str(f.id): f.name for f in flows})
        return [_state_from(r, flow_names) for r in responses]

    def missing_work_pools(self, names: Iterable[str]) -> list[str]:
        async def work(client: Any) -> list[str]:
            from prefect.exceptions import ObjectNotFound

            missing = []
            for name in sorted(set(names)):
                try:
                    await client.read_work_pool(name)
                except ObjectNotFound:
                    missing.append(name)
            return missing

        return self._run("checking work pools", work)

    def create_work_pool(self, name: str, pool_type: str) -> None:
        async def work(client: Any) -> None:
            from prefect.client.schemas.actions import WorkPoolCreate
            from prefect.exceptions import ObjectAlreadyExists

            # created meanwhile by someone else: that is what we wanted
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))

        self._run(f"creating work pool {name!r}", work)

    def health(self) -> bool:
        async def work(client: Any) -> bool:
            return (await client.api_healthcheck()) is None

        return self._run("checking the Prefect API", work)

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

            async def one(spec: DeploymentSpec) -> ApplyResult:
                async with gate:
                    try:
                        deployment_id = await client.create_deployment(
                            flow_id=await flow_id(spec.flow_name), **_upsert_fields(spec)
                        )
                        result = ApplyResult(spec.name, spec.flow_key, True, str(deployment_id))
                    except Exception as err:
                        message = _describe_http_error(err, self.api_url, spec.name)
                        result = ApplyResult(spec.name, spec.flow_key, False, error=message)
                if on_done is not None:
                    on_done(result)
                return result

            return list(await asyncio.gather(*(one(spec) for spec in specs)))

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


def parameter_schemas(root: Path, entrypoints: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """Each flow's parameter schema, read from source by Prefect without running the module.

    A flow whose signature Prefect cannot read gets None (the server then accepts
    any parameters) rather than failing the whole deploy.
    """
    import warnings

    from prefect.utilities.callables import parameter_schema_from_entrypoint

    schemas: dict[str, dict[str, Any] | None] = {}
    for entrypoint in entrypoints:
        path, _, function = entrypoint.rpartition(":")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydantic's "shadows an attribute" noise
                schema = parameter_schema_from_entrypoint(f"{root / path}:{function}")
            schemas[entrypoint] = schema.model_dump_for_openapi()
        except Exception:
            schemas[entrypoint] = None
    return schemas
