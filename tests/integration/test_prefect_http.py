"""The plain-HTTP gateway against a real local Prefect server (SQLite), no mocks.

A loopback recording proxy between the gateway and the server shows exactly
which requests went over the wire.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import urllib.request
from typing import Any

import pytest

from portal_core.deployments import DeploymentSpec, Schedule
from portal_io.prefect_gateway import PrefectGateway
from tests.support.projects import unique
from tests.support.recording_proxy import recording_proxy

pytestmark = pytest.mark.integration

POOL = "http-test-pool"
OK = range(200, 300)
BUSY = range(503, 504)  # what a busy SQLite server answers; retried by the gateway


def rich_spec(name: str, flow: str, **changes: Any) -> DeploymentSpec:
    """A spec that sets every writable field to something other than its default."""
    fields: dict[str, Any] = dict(
        name=name,
        flow_name=flow,
        entrypoint="flows/rich.py:rich",
        description="Rich flow: every field set",
        version="abc1234",
        tags=("PROJECT_NAME=rich", "team=data", "MANAGED_BY=flowportal"),
        work_pool_name=POOL,
        work_queue_name=None,
        job_variables={"env": {"APP_ENV": "dev", "DEPLOYMENT_NAME": "rich--dev", "TOKEN": "s3cr3t-value"},
                       "image": "ghcr.io/acme/rich:main-abc1234"},
        parameters={"count": 3, "label": "y", "nested": {"a": [1, 2]}},
        parameter_schema={"title": "Parameters", "type": "object",
                          "properties": {"count": {"title": "count", "default": 1, "type": "integer"},
                                         "label": {"title": "label", "default": "x", "type": "string"},
                                         "nested": {"title": "nested", "type": "object"}}},
        schedules=(Schedule("0 12 * * 1-5", "Europe/Paris", True), Schedule("30 6 * * *", "UTC", False)),
        paused=True,
        concurrency_limit=3,
        pull_steps=({"prefect.deployments.steps.set_working_directory": {"directory": "/srv/rich"}},),
        enforce_parameter_schema=False,
        flow_key="rich",
        secret_names=frozenset({"TOKEN"}),
    )
    fields.update(changes)
    return DeploymentSpec(**fields)


async def _create_with_prefect_client(url: str, spec: DeploymentSpec) -> str:
    """What the previous, client-based gateway did for one spec."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    async with PrefectClient(url) as client:
        flow_id = await client.create_flow_from_name(spec.flow_name)
        deployment_id = await client.create_deployment(
            flow_id=flow_id,
            name=spec.name,
            entrypoint=spec.entrypoint,
            description=spec.description,
            version=spec.version,
            tags=list(spec.tags),
            work_pool_name=spec.work_pool_name,
            work_queue_name=spec.work_queue_name,
            job_variables=json.loads(json.dumps(dict(spec.job_variables))),
            parameters=json.loads(json.dumps(dict(spec.parameters))),
            parameter_openapi_schema=(json.loads(json.dumps(dict(spec.parameter_schema)))
                                      if spec.parameter_schema else None),
            schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron=s.cron, timezone=s.timezone),
                                                active=s.active) for s in spec.schedules],
            paused=bool(spec.paused),
            concurrency_limit=spec.concurrency_limit,
            pull_steps=[dict(step) for step in spec.pull_steps],
            enforce_parameter_schema=spec.enforce_parameter_schema,
        )
        return str(deployment_id)


def stored(url: str, deployment_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/deployments/{deployment_id}", timeout=30) as answer:
        data: dict[str, Any] = json.loads(answer.read())
    return data


VOLATILE = {"id", "created", "updated", "name", "deployment_id", "created_by", "updated_by"}


def comparable(value: Any) -> Any:
    """The stored deployment without what differs by construction (ids, times, its name)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def test_gateway_stores_exactly_what_prefects_client_stores(prefect_api_url: str) -> None:
    flow = unique("rich-flow")
    by_client, by_gateway = unique("by-client"), unique("by-gateway")
    with recording_proxy(prefect_api_url) as wire:
        gateway = PrefectGateway(wire.url)
        gateway.create_work_pool(POOL, "process")
        client_id = asyncio.run(_create_with_prefect_client(wire.url, rich_spec(by_client, flow)))
        (result,) = gateway.apply([rich_spec(by_gateway, flow)])
        assert result.ok, result.error
        client_body, gateway_body = wire.bodies("POST", "/deployments/", OK)
        # the client posted the flow; the gateway found it by name and posted nothing
        assert wire.bodies("POST", "/flows/", OK) == [{"name": flow, "tags": [], "labels": {}}]
        assert wire.count(OK)["POST /flows/filter"] == 1

    # the same request body, field for field (only the name differs)
    assert {**client_body, "name": "-"} == {**gateway_body, "name": "-"}

    # and the same stored deployment
    from_client, from_gateway = stored(prefect_api_url, client_id), stored(prefect_api_url, str(result.deployment_id))
    assert from_client["name"] == by_client and from_gateway["name"] == by_gateway
    assert comparable(from_client) == comparable(from_gateway)
    # the concurrency limit is stored as a global concurrency limit
    assert from_gateway["global_concurrency_limit"]["limit"] == 3
    (state,) = PrefectGateway(prefect_api_url).read_deployments(names=[by_gateway])
    assert state.concurrency_limit == 3 and state.paused and len(state.schedules) == 2


def test_defaults_match_the_client_too(prefect_api_url: str) -> None:
    """A bare spec (no schema, schedules, limit, steps): the client's defaults fill in alike."""
    flow = unique("bare-flow")
    bare: dict[str, Any] = {"parameter_schema": None, "schedules": (), "concurrency_limit": None, "pull_steps": (),
            "paused": None, "job_variables": {}, "parameters": {}, "tags": (), "description": "",
            "enforce_parameter_schema": True, "work_queue_name": "default"}
    with recording_proxy(prefect_api_url) as wire:
        PrefectGateway(wire.url).create_work_pool(POOL, "process")
        client_id = asyncio.run(_create_with_prefect_client(
            wire.url, rich_spec(unique("bare-client"), flow, **bare)))
        (result,) = PrefectGateway(wire.url).apply([rich_spec(unique("bare-gateway"), flow, **bare)])
        client_body, gateway_body = wire.bodies("POST", "/deployments/", OK)
    assert {**client_body, "name": "-"} == {**gateway_body, "name": "-"}
    assert comparable(stored(prefect_api_url, client_id)) == comparable(
        stored(prefect_api_url, str(result.deployment_id)))


def test_one_request_per_change_and_flows_posted_once_per_name(prefect_api_url: str) -> None:
    flows = [unique("f-one"), unique("f-two")]
    specs = [rich_spec(unique("dep"), flows[i % 2]) for i in range(6)]
    with recording_proxy(prefect_api_url) as wire:
        PrefectGateway(prefect_api_url).create_work_pool(POOL, "process")
        first = PrefectGateway(wire.url, write_concurrency=3)
        first.read_deployments(names=[s.name for s in specs])
        assert all(r.ok for r in first.apply(specs))
        sent, retried = wire.count(OK), wire.count(BUSY)
        assert sent["POST /flows/"] == 2  # once per new flow name, not per deployment
        assert sent["POST /deployments/"] == 6
        assert sent["POST /flows/filter"] == 1  # the flows the read did not meet, by name
        assert sum(wire.count().values()) == sum(sent.values()) + sum(retried.values())

        # a later run (new process, new gateway) updating every deployment
        wire.clear()
        later = PrefectGateway(wire.url, write_concurrency=3)
        later.read_deployments(names=[s.name for s in specs])
        updated = [rich_spec(s.name, s.flow_name, version="def5678") for s in specs]
        assert all(r.ok for r in later.apply(updated))
        sent, everything = wire.count(OK), wire.count()
        assert sum(everything.values()) == sum(sent.values()) + sum(wire.count(BUSY).values())
    assert everything["POST /flows/"] == 0  # ids known from the read
    assert sent["POST /deployments/"] == 6
    writes = sum(n for key, n in sent.items() if not key.endswith(("/filter", "/count")))
    assert writes == 6  # one request per change (plus retries of 503s, if the server was busy)
    states = PrefectGateway(prefect_api_url).read_deployments(names=[s.name for s in specs])
    assert {s.version for s in states} == {"def5678"}


def test_listing_counts_first_then_reads_every_page(prefect_api_url: str) -> None:
    tag = unique("PROJECT_NAME=paged")
    specs = [rich_spec(unique(f"paged-{i}"), unique("paged-flow"), tags=(tag,)) for i in range(7)]
    PrefectGateway(prefect_api_url).create_work_pool(POOL, "process")
    assert all(r.ok for r in PrefectGateway(prefect_api_url, write_concurrency=4).apply(specs))
    with recording_proxy(prefect_api_url) as wire:
        states = PrefectGateway(wire.url, page_size=2).read_deployments(tags_all=[tag])
        sent = wire.count(OK)
        offsets = sorted(b["offset"] for b in wire.bodies("POST", "/deployments/filter", OK))
    assert sorted(s.name for s in states) == sorted(s.name for s in specs)
    assert {s.flow_name for s in states} == {s.flow_name for s in specs}
    assert sent["POST /deployments/count"] == 1
    assert offsets == [0, 2, 4, 6]  # exactly the pages the count announced
    assert sent["POST /flows/filter"] == 4  # 7 flow ids, 2 per page


def test_named_deployments_that_fit_a_page_are_read_in_one_request(prefect_api_url: str) -> None:
    specs = [rich_spec(unique(f"named-{i}"), unique("named-flow")) for i in range(5)]
    PrefectGateway(prefect_api_url).create_work_pool(POOL, "process")
    assert all(r.ok for r in PrefectGateway(prefect_api_url).apply(specs))
    present = [s.name for s in specs]
    absent = [*present, unique("named-absent")]
    # (names, page size, counts sent, pages read): names that fit a page need no count;
    # a full page is read on until a short one; more names than a page: count, then pages
    for names, page_size, counts, pages in ((absent, 6, 0, 1), (present, 5, 0, 2), (absent, 5, 1, 2),
                                            (absent, 2, 1, 3)):
        with recording_proxy(prefect_api_url) as wire:
            states = PrefectGateway(wire.url, page_size=page_size).read_deployments(names=names)
            sent = wire.count(OK)
        assert sorted(s.name for s in states) == sorted(present), page_size
        assert (sent["POST /deployments/count"], sent["POST /deployments/filter"]) == (counts, pages), (
            len(names), page_size)


def test_no_write_is_lost_at_high_concurrency(prefect_api_url: str) -> None:
    """16 writers against SQLite: 503s are expected, lost writes are not."""
    flow = unique("busy-flow")
    specs = [rich_spec(unique(f"busy-{i}"), flow, concurrency_limit=None) for i in range(40)]
    PrefectGateway(prefect_api_url).create_work_pool(POOL, "process")
    gateway = PrefectGateway(prefect_api_url, write_concurrency=16)
    results = gateway.apply(specs)
    assert [r.error for r in results if not r.ok] == []
    assert [r.name for r in results] == [s.name for s in specs]
    found = PrefectGateway(prefect_api_url).read_deployments(names=[s.name for s in specs])
    assert len(found) == 40


def test_reads_and_writes_never_import_prefect(prefect_api_url: str) -> None:
    flow = unique("noimport-flow")
    probe = textwrap.dedent(f"""
        import sys
        from portal_io.prefect_gateway import PrefectGateway
        from tests.integration.test_prefect_http import rich_spec
        gateway = PrefectGateway({prefect_api_url!r})
        gateway.create_work_pool({POOL!r}, "process")
        assert gateway.missing_work_pools([{POOL!r}]) == []
        specs = [rich_spec("noimport-" + {flow!r} + str(i), {flow!r}) for i in range(3)]
        gateway.read_deployments(names=[s.name for s in specs])
        assert all(r.ok for r in gateway.apply(specs))
        assert len(gateway.read_deployments(names=[s.name for s in specs])) == 3
        print(sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect.")))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
