"""Request bodies and answers of the Prefect REST API, as plain JSON.

The bodies are exactly what Prefect's own client sends for the same calls
(`PrefectClient.create_deployment`, `create_flow_from_name`, `create_work_pool`
in Prefect 3): the same fields, the same defaults, the same fields left out.
An integration test creates one spec both ways and compares what the server
stored, so a Prefect upgrade that changes the client's body shows up there.

Answers are checked for the shape we rely on; anything else raises `BadShape`
with a short reason, which the gateway reports as one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal_core.automations import SeenAutomation
from portal_core.deployments import DeployedState, DeploymentSpec, Schedule
from portal_core.json_values import json_like

# What Prefect's client sends when a deployment has no parameter schema.
EMPTY_PARAMETER_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}


class BadShape(ValueError):
    """An answer parsed as JSON but is not what this endpoint returns."""


def deployment_body(spec: DeploymentSpec, flow_id: str) -> dict[str, Any]:
    """Every writable field, always: the upsert clears what is left out.

    Field for field what `DeploymentCreate(...).model_dump(mode="json")` gives
    for the arguments the previous, client-based gateway passed: `version_info`,
    `branch`, `base` and `root` are None there and so left out; `paused`,
    `pull_steps` and `enforce_parameter_schema` are never None here so they are sent.
    """
    return {
        "name": spec.name,
        "flow_id": flow_id,
        "paused": bool(spec.paused),
        "schedules": [_schedule_body(s) for s in spec.schedules],
        "concurrency_limit": spec.concurrency_limit,
        "concurrency_options": None,
        "enforce_parameter_schema": bool(spec.enforce_parameter_schema),
        "parameter_openapi_schema": json_like(spec.parameter_schema) or dict(EMPTY_PARAMETER_SCHEMA),
        "parameters": json_like(spec.parameters),
        "tags": [str(tag) for tag in spec.tags],
        "labels": {},
        "pull_steps": [json_like(step) for step in spec.pull_steps],
        "work_queue_name": spec.work_queue_name,
        "work_pool_name": spec.work_pool_name,
        "storage_document_id": None,
        "infrastructure_document_id": None,
        "description": spec.description,
        "path": None,
        "entrypoint": spec.entrypoint,
        "job_variables": json_like(spec.job_variables),
        "version": spec.version,
    }


def _schedule_body(schedule: Schedule) -> dict[str, Any]:
    # DeploymentScheduleCreate(schedule=CronSchedule(cron, timezone), active)
    return {
        "schedule": {"cron": schedule.cron, "timezone": schedule.timezone, "day_or": True},
        "active": schedule.active,
        "max_scheduled_runs": None,
        "parameters": {},
        "slug": None,
        "replaces": None,
    }


def flow_body(name: str) -> dict[str, Any]:
    """`FlowCreate(name=name)`: the server answers with the existing flow if the name is taken."""
    return {"name": name, "tags": [], "labels": {}}


def work_pool_body(name: str, pool_type: str) -> dict[str, Any]:
    """`WorkPoolCreate(name=name, type=pool_type)` with unset fields left out."""
    return {"name": name, "type": pool_type}


# ---------------------------------------------------------------- answers


def id_of(answer: Any, what: str) -> str:
    """The `id` of a created or upserted object."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str) or not answer["id"]:
        raise BadShape(f"expected {what} with an id, got {_kind(answer)}")
    return str(answer["id"])


def count_of(answer: Any) -> int:
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
        raise BadShape(f"expected a count, got {_kind(answer)}")
    return answer


def objects_of(answer: Any, what: str, *keys: str) -> list[Mapping[str, Any]]:
    """A page of objects, each with string values for `keys`."""
    if not isinstance(answer, list):
        raise BadShape(f"expected a list of {what}, got {_kind(answer)}")
    for item in answer:
        if not isinstance(item, Mapping) or not all(isinstance(item.get(k), str) for k in keys):
            raise BadShape(f"expected a list of {what} (each with {', '.join(keys)}), "
                           f"got an item that is {_kind(item)}")
    return answer


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(k) for k in value)[:5])
        return f"an object with keys [{keys}]" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "null" if value is None else f"a {type(value).__name__}"


def _mapping(item: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadShape(f"expected {key} to be an object, got {_kind(value)}")
    return dict(value)


def _list(item: Mapping[str, Any], key: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadShape(f"expected {key} to be a list, got {_kind(value)}")
    return value


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise BadShape(f"expected {key} to be text, got {_kind(value)}")
    return value


def state_of(item: Mapping[str, Any], flow_names: Mapping[str, str]) -> DeployedState:
    """A deployment as the REST API returns it, as our value."""
    schedules = []
    for entry in _list(item, "schedules"):
        if not isinstance(entry, Mapping):
            raise BadShape(f"expected each schedule to be an object, got {_kind(entry)}")
        schedule = _mapping(entry, "schedule")
        if schedule.get("cron") is not None:
            schedules.append(Schedule(cron=str(schedule["cron"]),
                                      timezone=schedule.get("timezone") or "UTC",
                                      active=bool(entry.get("active", True))))
    limit = _mapping(item, "global_concurrency_limit").get("limit")
    schema = item.get("parameter_openapi_schema")
    if schema is not None and not isinstance(schema, Mapping):
        raise BadShape(f"expected parameter_openapi_schema to be an object, got {_kind(schema)}")
    steps = _list(item, "pull_steps")
    if not all(isinstance(step, Mapping) for step in steps):
        raise BadShape("expected pull_steps to be a list of objects")
    flow_id = str(item.get("flow_id") or "")
    return DeployedState(
        name=str(item["name"]),
        flow_name=flow_names.get(flow_id, ""),
        entrypoint=_text(item, "entrypoint") or "",
        description=_text(item, "description") or "",
        version=_text(item, "version") or "",
        tags=tuple(str(t) for t in _list(item, "tags")),
        work_pool_name=_text(item, "work_pool_name") or "",
        work_queue_name=_text(item, "work_queue_name"),
        job_variables=_mapping(item, "job_variables"),
        parameters=_mapping(item, "parameters"),
        parameter_schema=schema,
        schedules=tuple(schedules),
        paused=bool(item.get("paused")),
        concurrency_limit=limit if isinstance(limit, int) else None,
        pull_steps=tuple(steps),
        enforce_parameter_schema=bool(item.get("enforce_parameter_schema")),
        id=str(item["id"]),
        flow_id=flow_id,
        created=_text(item, "created"),
        updated=_text(item, "updated"),
        status=item.get("status") if isinstance(item.get("status"), str) else None,
    )


def seen_automation_of(item: Mapping[str, Any]) -> SeenAutomation:
    """An automation from `/automations/filter`: its id, name, tags and the deployments
    its run-deployment actions start (only `source: selected` names one)."""
    runs = []
    for action in _list(item, "actions"):
        if not isinstance(action, Mapping):
            raise BadShape(f"expected each action to be an object, got {_kind(action)}")
        if action.get("type") == "run-deployment" and action.get("source") == "selected" \
                and isinstance(action.get("deployment_id"), str):
            runs.append(action["deployment_id"])
    return SeenAutomation(id=str(item["id"]), name=str(item["name"]),
                          tags=tuple(str(t) for t in _list(item, "tags")), runs=tuple(runs))
