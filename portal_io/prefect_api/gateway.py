"""Deployments on one Prefect API, read and written over plain HTTP.

Why not Prefect's client: importing `prefect` costs ~1.5 s per command, its
retry loop sleeps ~2 s after a 503 while holding a write slot, and it posts
`/flows/` before every deployment although the flow ids are known from the
read. Here each change costs one request: flows are looked up once (from the
read, else one filter by name) and created only when they do not exist yet,
once per flow name.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from portal_core.automations import AutomationWrite, SeenAutomation, automation_body
from portal_core.deployments import ApplyResult, DeployedState, DeploymentSpec
from portal_core.redaction import Redactor
from portal_io.prefect_api.api import PrefectApiError, PrefectHttp, Timeouts
from portal_io.prefect_api.pacing import AdaptiveLimit, PacingStats
from portal_io.prefect_api.payloads import (
    count_of,
    deployment_body,
    flow_body,
    id_of,
    objects_of,
    seen_automation_of,
    state_of,
    work_pool_body,
)

PAGE_SIZE = 200  # the server's maximum page
READ_PARALLELISM = 4  # pages read at once: reads do not contend like writes do


class PrefectGateway:
    """Reads and writes deployments on one Prefect API (one environment's server)."""

    def __init__(
        self,
        api_url: str,
        api_key: str | None = None,
        write_concurrency: int = 2,
        *,
        redactor: Redactor | None = None,
        timeouts: Timeouts | None = None,
        read_parallelism: int = READ_PARALLELISM,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.write_concurrency = max(1, write_concurrency)
        self.read_parallelism = max(1, read_parallelism)
        self.page_size = max(1, min(page_size, PAGE_SIZE))
        self.http = PrefectHttp(self.api_url, api_key, redactor, timeouts)
        self.last_pacing: PacingStats | None = None  # how the write limit moved in the last apply
        self._flow_ids: dict[str, str] = {}  # flow name -> id, learned from reads and writes
        self._flows_lock = threading.Lock()

    # ------------------------------------------------------------------ reads

    def _post(self, path: str, body: Any, what: str, parse: Callable[[Any], Any],
              timeout: float | None = None) -> Any:
        return self.http.call("POST", path, body, what, parse,
                              timeout=timeout or self.http.timeouts.read)

    def _pages(self, path: str, body: Mapping[str, Any], total: int | None, first: Any,
               what: str, parse: Callable[[Any], list[Mapping[str, Any]]],
               pool: ThreadPoolExecutor) -> list[Mapping[str, Any]]:
        """Every page of a sorted filter: page 0 is already on its way; the others
        the count says exist are read in parallel, then more while pages come back full."""

        def page(offset: int) -> list[Mapping[str, Any]]:
            return self._post(path, {**body, "limit": self.page_size, "offset": offset}, what, parse)

        pages: list[list[Mapping[str, Any]]] = [first]
        wanted = math.ceil((total or 0) / self.page_size)
        pages += list(pool.map(page, [n * self.page_size for n in range(1, wanted)]))
        while len(pages[-1]) == self.page_size:  # written meanwhile: read on until a short page
            pages.append(page(len(pages) * self.page_size))
        items: dict[str, Mapping[str, Any]] = {}
        for item in (i for p in pages for i in p):
            items.setdefault(str(item["id"]), item)  # an item shifted by a write shows up twice
        return list(items.values())

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]:
        """Every deployment matching exact `names` (all if None) and all `tags_all`, every page.

        `/deployments/count` says how many pages there are, so they are read in
        parallel (bounded); the first page is read together with the count, so a
        small listing still takes one round trip. Pages are sorted by name so
        that concurrent writes cannot reorder items between pages.
        """
        if names is not None and not names:
            return []
        return self._read(names, tags_all)[0]

    def read_for_plan(
        self, names: Sequence[str], flow_names: Sequence[str] = ()
    ) -> tuple[list[DeployedState], list[SeenAutomation]]:
        """What planning a deploy needs from its target, in one round trip: the
        deployments of `names`, every automation, and the ids of `flow_names` (the
        flows the plan writes under, so the writes need no lookup either)."""
        states, seen = self._read(names, (), flow_names, automations=True)
        return states, seen or []

    def _read(
        self, names: Sequence[str] | None, tags_all: Sequence[str], flow_names: Sequence[str] = (),
        automations: bool = False,
    ) -> tuple[list[DeployedState], list[SeenAutomation] | None]:
        deployment_filter: dict[str, Any] = {}
        if names is not None:
            deployment_filter["name"] = {"any_": sorted(set(names))}
        if tags_all:
            deployment_filter["tags"] = {"all_": list(tags_all)}
        body = {"deployments": deployment_filter or None, "sort": "NAME_ASC"}
        what = "reading deployments"

        def deployments(answer: Any) -> list[Mapping[str, Any]]:
            return objects_of(answer, "deployments", "id", "name")

        try:
            with ThreadPoolExecutor(self.read_parallelism) as pool:
                if names is not None and not names:
                    items: list[Mapping[str, Any]] = []
                    counted = first = None
                else:
                    # Named deployments that fit one page need no count (the server's time
                    # for it is a tenth of an unchanged re-deploy's read).
                    one_page = names is not None and len(set(names)) <= self.page_size
                    counted = None if one_page else pool.submit(
                        self._post, "/deployments/count", {"deployments": body["deployments"]}, what, count_of)
                    first = pool.submit(self._post, "/deployments/filter",
                                        {**body, "limit": self.page_size, "offset": 0}, what, deployments)
                seen = pool.submit(self._automations, pool) if automations else None
                known = pool.submit(self._known_flows, sorted(set(flow_names))) if flow_names else None
                if first is not None:
                    items = self._pages("/deployments/filter", body,
                                        counted.result() if counted is not None else None, first.result(),
                                        what, deployments, pool)
                if known is not None:
                    known.result()
                flow_ids = sorted({str(i["flow_id"]) for i in items if i.get("flow_id")})
                with self._flows_lock:
                    names_of = {flow_id: name for name, flow_id in self._flow_ids.items()}
                names_of.update(self._flow_names([i for i in flow_ids if i not in names_of], pool))
                found = seen.result() if seen is not None else None
            try:
                return [state_of(item, names_of) for item in items], found
            except (ValueError, TypeError, KeyError) as err:
                raise self.http.fail(what, f"unexpected answer from the Prefect API at "
                                           f"{self.http.redactor.text(self.api_url)}: {err}") from None
        finally:
            self.http.close()

    def read_automations(self) -> list[SeenAutomation]:
        """Every automation, every page: the API cannot filter by owner or by the
        deployment an action runs, and a workspace has few automations."""
        try:
            with ThreadPoolExecutor(self.read_parallelism) as pool:
                return self._automations(pool)
        finally:
            self.http.close()

    def _automations(self, pool: ThreadPoolExecutor) -> list[SeenAutomation]:
        what = "reading automations"

        def automations(answer: Any) -> list[Mapping[str, Any]]:
            return objects_of(answer, "automations", "id", "name")

        body = {"sort": "NAME_ASC"}
        first = self._post("/automations/filter", {**body, "limit": self.page_size, "offset": 0},
                           what, automations)
        items = self._pages("/automations/filter", body, None, first, what, automations, pool)
        try:
            return [seen_automation_of(item) for item in items]
        except (ValueError, TypeError, KeyError) as err:
            raise self.http.fail(what, f"unexpected answer from the Prefect API at "
                                       f"{self.http.redactor.text(self.api_url)}: {err}") from None

    def _flow_names(self, flow_ids: Sequence[str], pool: ThreadPoolExecutor) -> dict[str, str]:
        """id -> name for `flow_ids`; also remembered name -> id for writes."""

        def chunk(start: int) -> list[Mapping[str, Any]]:
            return self._post("/flows/filter",
                              {"flows": {"id": {"any_": list(flow_ids[start:start + self.page_size])}},
                               "limit": self.page_size},
                              "reading flows", lambda a: objects_of(a, "flows", "id", "name"))

        names = {str(f["id"]): str(f["name"])
                 for found in pool.map(chunk, range(0, len(flow_ids), self.page_size)) for f in found}
        with self._flows_lock:
            self._flow_ids.update({name: flow_id for flow_id, name in names.items()})
        return names

    def _known_flows(self, names: Sequence[str]) -> None:
        """Look up the ids of flows the read did not meet (one filter by name per 200)."""
        for start in range(0, len(names), self.page_size):
            found = self._post("/flows/filter",
                               {"flows": {"name": {"any_": list(names[start:start + self.page_size])}},
                                "limit": self.page_size},
                               "reading flows", lambda a: objects_of(a, "flows", "id", "name"))
            with self._flows_lock:
                self._flow_ids.update({str(f["name"]): str(f["id"]) for f in found})

    def write_automations(self, deployment_id: str, writes: Sequence[AutomationWrite]) -> str | None:
        """Make a deployment's automations what its plan says: one request per write.

        Returns the first failure as one line (None when all were written): the
        caller marks that deployment's change failed, and a re-run converges
        because every automation carries the digest of what it should be.
        """
        try:
            for write in writes:
                what = f"automation {write.name!r}"
                if write.action == "delete":
                    self.http.call("DELETE", f"/automations/{write.automation_id}", None, what,
                                   lambda a: a, timeout=self.http.timeouts.write, accept={204, 404})
                    continue
                assert write.spec is not None
                body = automation_body(write.spec, deployment_id)
                if write.action == "update":  # in place: the id and the ownership stay
                    del body["owner_resource"]  # fixed at creation; the update refuses it
                    self.http.call("PUT", f"/automations/{write.automation_id}", body, what,
                                   lambda a: a, timeout=self.http.timeouts.write, accept={204})
                else:
                    self.http.call("POST", "/automations/", body, what, lambda a: id_of(a, "an automation"),
                                   timeout=self.http.timeouts.write)
        except PrefectApiError as err:
            return str(err)
        finally:
            self.http.close()
        return None

    def missing_work_pools(self, names: Iterable[str]) -> list[str]:
        """Which of `names` do not exist: one filter call."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        try:
            found = self._post("/work_pools/filter",
                               {"work_pools": {"name": {"any_": wanted}}, "limit": self.page_size},
                               "checking work pools", lambda a: objects_of(a, "work pools", "name"))
        finally:
            self.http.close()
        existing = {pool["name"] for pool in found}
        return [name for name in wanted if name not in existing]

    def create_work_pool(self, name: str, pool_type: str) -> None:
        """Create a pool; one created meanwhile by someone else (409) is what we wanted."""
        try:
            self.http.call("POST", "/work_pools/", work_pool_body(name, pool_type),
                           f"creating work pool {name!r}", lambda a: id_of(a, "a work pool"),
                           timeout=self.http.timeouts.write, accept={409})
        finally:
            self.http.close()

    # ------------------------------------------------------------------ writes

    def apply(
        self,
        specs: Sequence[DeploymentSpec],
        on_done: Callable[[ApplyResult], None] | None = None,
    ) -> list[ApplyResult]:
        """Upsert every spec, paced by an adaptive limit of at most `write_concurrency`.

        One failure does not stop the others: the caller reports exactly what was
        applied and what was not, and a re-run converges because upserts are
        idempotent by (flow, name). `on_done` is called on this thread, in
        completion order. The whole write phase has a time budget, so a server
        that keeps answering 503 ends the deploy instead of stalling it.
        """
        if not specs:
            return []
        self.http.redactor = self.http.redactor.with_secrets(_secret_values(specs))
        try:
            return self._apply(specs, on_done)
        finally:
            self.http.close()

    def _apply(self, specs: Sequence[DeploymentSpec],
               on_done: Callable[[ApplyResult], None] | None) -> list[ApplyResult]:
        flow_names = sorted({spec.flow_name for spec in specs})
        with self._flows_lock:
            unknown = [name for name in flow_names if name not in self._flow_ids]
        results: list[ApplyResult | None] = [None] * len(specs)

        def finish(index: int, result: ApplyResult) -> None:
            results[index] = result
            if on_done is not None:
                on_done(result)

        try:
            self._known_flows(unknown)
        except PrefectApiError as err:  # nothing written yet; every spec fails the same way
            for index, spec in enumerate(specs):
                finish(index, ApplyResult(spec.name, spec.flow_key, False, error=str(err)))
            return [r for r in results if r is not None]

        with self._flows_lock:
            missing = sum(1 for name in flow_names if name not in self._flow_ids)
        self.http.budget_seconds = self.http.timeouts.budget(len(specs) + missing)
        deadline = time.monotonic() + self.http.budget_seconds
        limit = AdaptiveLimit(self.write_concurrency)
        creating: dict[str, Future[str]] = {}

        def flow_id(name: str) -> str:
            """The flow's id; the first spec that needs a new flow creates it, the
            others wait for that one request (POST /flows/ answers the existing
            flow for a taken name, so a race with another writer is harmless)."""
            with self._flows_lock:
                if name in self._flow_ids:
                    return self._flow_ids[name]
                future = creating.get(name)
                mine = future is None
                if future is None:
                    future = creating[name] = Future()
            if not mine:
                return future.result()
            try:
                new_id = self.http.call("POST", "/flows/", flow_body(name), f"creating flow {name!r}",
                                        lambda a: id_of(a, "a flow"), timeout=self.http.timeouts.write,
                                        pacer=limit, deadline=deadline)
                assert new_id is not None
            except BaseException as err:
                future.set_exception(err)
                raise
            with self._flows_lock:
                self._flow_ids[name] = new_id
            future.set_result(new_id)
            return new_id

        def upsert(spec: DeploymentSpec) -> ApplyResult:
            try:
                body = deployment_body(spec, flow_id(spec.flow_name))
                deployment_id = self.http.call(
                    "POST", "/deployments/", body, spec.name, lambda a: id_of(a, "a deployment"),
                    timeout=self.http.timeouts.write, pacer=limit, deadline=deadline)
                return ApplyResult(spec.name, spec.flow_key, True, deployment_id)
            except PrefectApiError as err:
                return ApplyResult(spec.name, spec.flow_key, False, error=str(err))

        with ThreadPoolExecutor(self.write_concurrency) as pool:
            futures = {pool.submit(upsert, spec): index for index, spec in enumerate(specs)}
            for done in as_completed(futures):
                finish(futures[done], done.result())
        self.last_pacing = limit.stats
        return [r for r in results if r is not None]


def _secret_values(specs: Iterable[DeploymentSpec]) -> list[str]:
    """The values of the specs' secret env vars: masked in every error text of this gateway."""
    values: list[str] = []
    for spec in specs:
        env = spec.env_vars
        values += [str(env[name]) for name in spec.secret_names if env.get(name)]
    return values
