"""An in-memory stand-in for one Prefect API, implementing `DeploymentGateway`.

It is the only test double the unit tests use for our own code's boundary: it
keeps deployments in a dict, answers reads the way the real gateway does
(exact names, all-of tags, sorted by name), and turns every upsert into the
`DeployedState` the server would report back. Every write attempt is recorded,
so a test can assert that nothing was written, or exactly what was.

`fail_on` names deployments whose write fails (as a 422/503 would), to
simulate a failure in the middle of an apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence

import attrs

from portal_core.automations import AutomationWrite, SeenAutomation
from portal_core.deployments import ApplyResult, DeployedState, DeploymentSpec

_IDS = uuid.UUID("6f1d3c2e-8a4b-4c5d-9e6f-0a1b2c3d4e5f")  # namespace for deterministic ids


def deployment_id_for(api_url: str, name: str) -> str:
    """The id a deployment gets when first created: uuid-like and deterministic."""
    return str(uuid.uuid5(_IDS, f"deployment:{api_url}:{name}"))


def flow_id_for(api_url: str, flow_name: str) -> str:
    return str(uuid.uuid5(_IDS, f"flow:{api_url}:{flow_name}"))


def state_from_spec(spec: DeploymentSpec, deployment_id: str, flow_id: str) -> DeployedState:
    """What the server reports after an upsert of `spec`.

    Mirrors the real gateway: `paused` is sent as `bool(spec.paused)`, every other
    writable field as given (the upsert replaces all of them).
    """
    return DeployedState(
        name=spec.name,
        flow_name=spec.flow_name,
        entrypoint=spec.entrypoint,
        description=spec.description,
        version=spec.version,
        tags=spec.tags,
        work_pool_name=spec.work_pool_name,
        work_queue_name=spec.work_queue_name,
        job_variables=spec.job_variables,
        parameters=spec.parameters,
        parameter_schema=spec.parameter_schema,
        schedules=spec.schedules,
        paused=bool(spec.paused),
        concurrency_limit=spec.concurrency_limit,
        pull_steps=spec.pull_steps,
        enforce_parameter_schema=spec.enforce_parameter_schema,
        id=deployment_id,
        flow_id=flow_id,
    )


@attrs.define
class InMemoryGateway:
    """One environment's Prefect API, held in memory."""

    api_url: str = "memory://"
    states: dict[str, DeployedState] = attrs.Factory(dict)
    pools: set[str] = attrs.Factory(set)
    fail_on: set[str] = attrs.Factory(set)
    #: names of deployments successfully written, in write order
    writes: list[str] = attrs.Factory(list)
    #: names of every write attempted, failed ones included
    attempts: list[str] = attrs.Factory(list)
    #: (name, type) of every pool created through `create_work_pool`
    created_pools: list[tuple[str, str]] = attrs.Factory(list)
    #: the arguments of every `read_deployments` call
    reads: list[tuple[tuple[str, ...] | None, tuple[str, ...]]] = attrs.Factory(list)
    #: automations by id, as the server lists them
    automations: dict[str, SeenAutomation] = attrs.Factory(dict)
    #: (deployment id, action, automation name) of every automation write, in order
    automation_log: list[tuple[str, str, str]] = attrs.Factory(list)

    # ------------------------------------------------------------------ setup helpers

    def seed(self, states: Iterable[DeployedState]) -> None:
        """Put deployments in place as if someone else had made them (not a recorded write)."""
        for state in states:
            self.states[state.name] = state

    def set_paused(self, name: str, paused: bool) -> None:
        """What pausing a deployment in the Prefect UI does."""
        self.states[name] = attrs.evolve(self.states[name], paused=paused)

    # ------------------------------------------------------------------ DeploymentGateway

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]:
        self.reads.append((tuple(names) if names is not None else None, tuple(tags_all)))
        wanted = set(names) if names is not None else None
        return [
            state
            for name, state in sorted(self.states.items())
            if (wanted is None or name in wanted) and all(t in state.tags for t in tags_all)
        ]

    def read_for_plan(
        self, names: Sequence[str], flow_names: Sequence[str] = ()
    ) -> tuple[list[DeployedState], list[SeenAutomation]]:
        return self.read_deployments(names=names), self.read_automations()

    def read_automations(self) -> list[SeenAutomation]:
        return sorted(self.automations.values(), key=lambda a: a.name)

    def write_automations(self, deployment_id: str, writes: Sequence[AutomationWrite]) -> str | None:
        """What the server does with each write: tags carry the digest, as the real bodies do."""
        from portal_core.automations import automation_body

        for write in writes:
            self.automation_log.append((deployment_id, write.action, write.name))
            if write.action == "delete":
                self.automations.pop(write.automation_id or "", None)
                continue
            assert write.spec is not None
            body = automation_body(write.spec, deployment_id)
            key = write.automation_id or str(uuid.uuid5(_IDS, f"automation:{len(self.automation_log)}"))
            self.automations[key] = SeenAutomation(key, body["name"], tuple(body["tags"]), (deployment_id,))
        return None

    def missing_work_pools(self, names: Iterable[str]) -> list[str]:
        return sorted(set(names) - self.pools)

    def create_work_pool(self, name: str, pool_type: str) -> None:
        self.created_pools.append((name, pool_type))
        self.pools.add(name)

    def apply(
        self,
        specs: Sequence[DeploymentSpec],
        on_done: Callable[[ApplyResult], None] | None = None,
    ) -> list[ApplyResult]:
        results = []
        for spec in specs:
            self.attempts.append(spec.name)
            if spec.name in self.fail_on:
                result = ApplyResult(
                    spec.name, spec.flow_key, False,
                    error=f"{spec.name}: Prefect API answered 422: simulated write failure",
                )
            else:
                current = self.states.get(spec.name)
                deployment_id = current.id if current else deployment_id_for(self.api_url, spec.name)
                state = state_from_spec(spec, deployment_id, flow_id_for(self.api_url, spec.flow_name))
                self.states[spec.name] = state
                self.writes.append(spec.name)
                result = ApplyResult(spec.name, spec.flow_key, True, deployment_id)
            if on_done is not None:
                on_done(result)
            results.append(result)
        return results
