"""Deployment values: what we want deployed (`DeploymentSpec`) and what is (`DeployedState`).

Both carry the same writable fields, so a diff is a field-by-field comparison
and "apply" is one upsert that sends every field (Prefect's upsert clears
whatever is left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from portal_core.automations import AutomationSpec, OwnedAutomation
from portal_core.tags import VersionTags


@attrs.frozen
class Schedule:
    cron: str
    timezone: str = "UTC"
    active: bool = True


def _tags(value: Any) -> tuple[str, ...]:
    return tuple(value)


def _steps(value: Any) -> tuple[Mapping[str, Any], ...]:
    return tuple(value or ())


def _names(value: Any) -> frozenset[str]:
    return frozenset(value)


def _schedules(value: Any) -> tuple[Schedule, ...]:
    return tuple(value)


def _automations(value: Any) -> tuple[AutomationSpec, ...]:
    return tuple(value)


def _owned(value: Any) -> tuple[OwnedAutomation, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class DeploymentFields:
    """The writable fields of a deployment, shared by specs and states."""

    name: str
    flow_name: str
    entrypoint: str
    description: str = ""
    version: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    work_pool_name: str = ""
    work_queue_name: str | None = None
    job_variables: Mapping[str, Any] = attrs.Factory(dict)
    parameters: Mapping[str, Any] = attrs.Factory(dict)
    parameter_schema: Mapping[str, Any] | None = None
    schedules: tuple[Schedule, ...] = attrs.field(default=(), converter=_schedules)
    paused: bool | None = None
    concurrency_limit: int | None = None
    pull_steps: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_steps)
    enforce_parameter_schema: bool = True

    @property
    def env_vars(self) -> Mapping[str, str]:
        env = self.job_variables.get("env") or {}
        return env if isinstance(env, Mapping) else {}

    @property
    def image(self) -> str | None:
        image = self.job_variables.get("image")
        return image if isinstance(image, str) else None

    @property
    def version_tags(self) -> VersionTags | None:
        return VersionTags.from_tags(self.tags)


@attrs.frozen
class DeploymentSpec(DeploymentFields):
    """What a deployment should be. `paused=None` means "leave as deployed".

    `secret_names` lists the env vars whose values must never be shown;
    `automations` are the ones its triggers make (owned by the deployment).
    """

    flow_key: str = ""
    automations: tuple[AutomationSpec, ...] = attrs.field(default=(), converter=_automations)
    secret_names: frozenset[str] = attrs.field(default=frozenset(), converter=_names, repr=False)

    def __repr__(self) -> str:  # job_variables may hold secret values
        return f"DeploymentSpec(name={self.name!r}, version={self.version!r})"


@attrs.frozen
class DeployedState(DeploymentFields):
    """A deployment as the Prefect API reports it."""

    id: str = ""
    flow_id: str = ""
    created: str | None = None
    updated: str | None = None
    status: str | None = None
    #: The automations it owns; None when they were not read (then nothing is said of them).
    automations: tuple[OwnedAutomation, ...] | None = attrs.field(default=None, converter=_owned)

    def __repr__(self) -> str:
        return f"DeployedState(name={self.name!r}, id={self.id!r}, version={self.version!r})"


@attrs.frozen
class ApplyResult:
    """What one upsert did: the outcome of applying one spec of a plan.

    A value of the core (not of the gateway) because plans, outcomes and their
    exit codes are decided from it, whichever gateway wrote.
    """

    name: str
    flow_key: str
    ok: bool
    deployment_id: str | None = None
    error: str | None = None
