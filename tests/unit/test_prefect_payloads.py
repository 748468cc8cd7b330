"""Law: for any spec, the gateway sends the very body Prefect's own client sends.

Prefect's real `PrefectClient` is pointed at a tiny in-process ASGI app that
records each request and answers with an id, so no server is needed and
nothing of the client is replaced: its models, defaults and exclusions run as
they would against a server. (Integration tests compare stored deployments on
a real server too.)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from portal_core.deployments import DeploymentSpec
from portal_io.prefect_api.payloads import deployment_body, flow_body, work_pool_body
from tests.support.strategies import deployment_specs

Captured = list[tuple[str, str, Any]]


def recording_app(captured: Captured) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        captured.append((scope["method"], scope["path"], json.loads(body) if body else None))
        status, answer = 200, {"id": str(uuid.uuid4()), "name": "x", "type": "process"}
        if scope["path"].endswith("/csrf-token"):  # as a server with CSRF protection off answers
            status, answer = 422, {"detail": "CSRF protection is disabled."}
        data = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})

    return app


def client_bodies(spec: DeploymentSpec) -> Captured:
    """What Prefect's client sends to create `spec`'s flow and deployment."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    captured: Captured = []
    plain = lambda value: json.loads(json.dumps(value))  # noqa: E731 - frozen mappings as JSON

    async def create() -> None:
        async with PrefectClient(recording_app(captured)) as client:
            flow_id = await client.create_flow_from_name(spec.flow_name)
            await client.create_deployment(
                flow_id=flow_id, name=spec.name, entrypoint=spec.entrypoint,
                description=spec.description, version=spec.version, tags=list(spec.tags),
                work_pool_name=spec.work_pool_name, work_queue_name=spec.work_queue_name,
                job_variables=plain(dict(spec.job_variables)), parameters=plain(dict(spec.parameters)),
                parameter_openapi_schema=plain(dict(spec.parameter_schema)) if spec.parameter_schema else None,
                schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron=s.cron, timezone=s.timezone),
                                                    active=s.active) for s in spec.schedules],
                paused=bool(spec.paused), concurrency_limit=spec.concurrency_limit,
                pull_steps=[plain(dict(step)) for step in spec.pull_steps],
                enforce_parameter_schema=spec.enforce_parameter_schema,
            )

    asyncio.run(create())
    return [entry for entry in captured if not entry[1].endswith("/csrf-token")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=deployment_specs())
def test_deployment_and_flow_bodies_equal_the_clients(spec: DeploymentSpec) -> None:
    from pydantic import ValidationError

    try:
        (flow_call, deployment_call) = client_bodies(spec)
    except ValidationError:
        assume(False)  # the client refuses it before sending; the server would answer 422 to us
        raise
    assert flow_call[:2] == ("POST", "/api/flows/")
    assert flow_call[2] == flow_body(spec.flow_name)
    assert deployment_call[:2] == ("POST", "/api/deployments/")
    sent = deployment_call[2]
    assert sent == deployment_body(spec, sent["flow_id"])


def test_work_pool_body_equals_the_clients() -> None:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import WorkPoolCreate

    captured: Captured = []

    async def create() -> None:
        async with PrefectClient(recording_app(captured)) as client:
            await client.create_work_pool(WorkPoolCreate(name="pool-a", type="process"))

    asyncio.run(create())
    (call,) = [c for c in captured if c[0] == "POST"]
    assert call == ("POST", "/api/work_pools/", work_pool_body("pool-a", "process"))


@pytest.mark.parametrize("schema", [None, {}])
def test_no_schema_is_sent_as_the_clients_empty_object_schema(schema: Any) -> None:
    spec = DeploymentSpec(name="n", flow_name="f", entrypoint="a.py:f", parameter_schema=schema)
    assert deployment_body(spec, "id")["parameter_openapi_schema"] == {"type": "object", "properties": {}}
