"""Applying a plan, shared by deploy and promote: pools first, then bounded upserts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from flowportal.usecases.ports import ApiTarget, DeploymentGateway, HistoryPort
from flowportal.usecases.reporting import Reporter
from portal_core.automations import cloud_only_problems
from portal_core.deployments import ApplyResult
from portal_core.environment import Environment, pools_to_create
from portal_core.errors import PlanError
from portal_core.history import Place, latest_records, place_of_deployment
from portal_core.plan import Plan, shown_env_values, without_former_secrets
from portal_core.urls import deployment_url, is_prefect_cloud


@attrs.frozen
class Outcome:
    """A plan and what applying it did (nothing, for a dry run)."""

    plan: Plan
    results: tuple[ApplyResult, ...] = ()
    applied: bool = False
    urls: Mapping[str, str] = attrs.Factory(dict)
    history_error: str | None = None  # the change history could not be recorded (a warning)

    @property
    def failed(self) -> tuple[ApplyResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def exit_code(self) -> int:
        """0 done / nothing to do, 1 a write failed, 2 dry run with changes pending."""
        if self.failed:
            return 1
        if not self.applied and self.plan.has_changes:
            return 2
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "applied": self.applied,
            "results": [
                {
                    "name": r.name,
                    "flow": r.flow_key,
                    "ok": r.ok,
                    "id": r.deployment_id,
                    "url": self.urls.get(r.name),
                    "error": r.error,
                }
                for r in self.results
            ],
            "history_error": self.history_error,
            "exit_code": self.exit_code,
        }


def existing_urls(plan: Plan, target: ApiTarget) -> dict[str, str]:
    return {c.name: deployment_url(target.url, c.current.id, target.ui_url)
            for c in plan.changes if c.current is not None}


def apply_plan(
    plan: Plan,
    gateway: DeploymentGateway,
    target: ApiTarget,
    reporter: Reporter,
    pools: list[tuple[str, str]],
    verb: str | None = None,
    history: HistoryPort | None = None,
) -> Outcome:
    for name, pool_type in pools:
        reporter.step(f"creating work pool {name!r} ({pool_type})")
        gateway.create_work_pool(name, pool_type)
    results = gateway.apply([c.spec for c in plan.pending], on_done=reporter.applied)
    results = write_automations(plan, results, gateway, reporter)
    urls = existing_urls(plan, target)
    urls.update({
        r.name: deployment_url(target.url, r.deployment_id, target.ui_url)
        for r in results
        if r.ok and r.deployment_id
    })
    from flowportal.usecases.history import record_applied

    # one record per applied deployment, on the target's own server
    history_error = record_applied(plan, results, history, target, reporter, verb)
    return Outcome(plan=plan, results=tuple(results), applied=True, urls=urls,
                   history_error=history_error)


def write_automations(
    plan: Plan, results: list[ApplyResult], gateway: DeploymentGateway, reporter: Reporter
) -> list[ApplyResult]:
    """After the upserts, the automations of each deployment written (they need its id).

    A deployment whose automations could not be written counts as failed, so the
    exit code says so and a re-run finishes the job.
    """
    writes = {c.name: c.automation_writes for c in plan.pending if c.automation_writes}
    done = []
    for result in results:
        pending = writes.get(result.name, ())
        if result.ok and result.deployment_id and pending:
            reporter.step(f"{result.name}: automations "
                          + ", ".join(w.describe() for w in pending))
            error = gateway.write_automations(result.deployment_id, pending)
            if error is not None:
                result = attrs.evolve(result, ok=False, error=f"automations: {error}")
        done.append(result)
    return done


def check_pools(
    plan: Plan, gateway: DeploymentGateway, environment: Environment
) -> list[tuple[str, str]]:
    """Pools the plan needs: missing ones are created if allowed, else the plan fails."""
    needed = {c.spec.work_pool_name for c in plan.pending}
    if not needed:
        return []
    create, problems = pools_to_create(environment, gateway.missing_work_pools(needed))
    if problems:
        raise PlanError(problems)
    return create


def check_automations(plan: Plan, target: ApiTarget) -> None:
    """What the target's server would refuse of the plan's automations, before anything is written."""
    if is_prefect_cloud(target.url):
        return
    if problems := cloud_only_problems((c.name, c.automation_writes) for c in plan.pending):
        raise PlanError(problems)


def finish(
    plan: Plan,
    gateway: DeploymentGateway,
    target: ApiTarget,
    reporter: Reporter,
    pools: list[tuple[str, str]],
    dry_run: bool,
    verb: str | None = None,
    history: HistoryPort | None = None,
) -> Outcome:
    """Show the plan, then stop (dry run, or nothing to do) or apply it and record it."""
    plan = without_secrets_of_old(plan, history)
    reporter.plan(plan)
    if dry_run or not plan.has_changes:
        return Outcome(plan=plan, applied=not dry_run, urls=existing_urls(plan, target))
    return apply_plan(plan, gateway, target, reporter, pools, verb, history)


def without_secrets_of_old(plan: Plan, history: HistoryPort | None) -> Plan:
    """The plan as it may be shown and recorded: the server's value of a variable that was
    a secret when last applied (and is plain config now) is masked like any secret.

    Only a plan that would show such a value asks the history (usually none does):
    the newest records of those deployments say which variables were secrets. When
    the history cannot be read, every such value is masked: not knowing is no
    reason to print what may be a secret.
    """
    shown = shown_env_values(plan)
    if not shown or history is None:
        return plan
    by_place: dict[Place, set[str]] = {}
    for name in shown:
        if (place := place_of_deployment(name)) is not None:
            by_place.setdefault(place, set()).add(name)
    former: dict[str, frozenset[str]] = {}
    try:
        for place, names in by_place.items():
            latest = latest_records(history.scan(place), names.__contains__, names)
            for name, record in latest.items():
                applied = record.applied or {}
                former[name] = shown[name] & frozenset(applied.get("secret_names") or ())
    except Exception:  # an unreadable history must not stop a deploy, nor reveal a value
        former = shown
    return without_former_secrets(plan, former)
