"""The change history: recording applied changes, and `history` to read them back."""

from __future__ import annotations

import datetime
import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowportal.usecases.ports import ApiTarget, HistoryPort
from flowportal.usecases.reporting import Reporter
from portal_core.errors import PlanError
from portal_core.history import (
    Actor,
    ChangeRecord,
    in_scope,
    place_for,
    record_for_change,
    records_of,
)
from portal_core.names import normalize_flow_key
from portal_core.redaction import Redactor

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies
    from flowportal.usecases.ports import DeploymentGateway
    from flowportal.workspace import Workspace
    from portal_core.deployments import ApplyResult
    from portal_core.environment import Environment
    from portal_core.plan import Plan

DEFAULT_LIMIT = 20


def history_for(
    workspace: Workspace, environment: Environment, deps: Dependencies, reporter: Reporter
) -> tuple[ApiTarget, DeploymentGateway, HistoryPort]:
    """An environment's API and the change history on it; no history is one clear error."""
    target, gateway = deps.prefect(workspace, environment, reporter.step)
    store = deps.history(gateway, target, workspace.config.writes_at_once(target.embedded))
    if store is None:
        raise PlanError([f"environment {environment.name!r} has no change history "
                         f"(its API at {target.url} is not a Prefect server)"])
    return target, gateway, store


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def current_actor(root: Path | None, environ: Mapping[str, str] | None = None) -> Actor:
    """GitHub Actions' actor and run URL in CI; the git user (else the OS user) elsewhere."""
    environ = os.environ if environ is None else environ
    ci_url = None
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
        ci_url = f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    who = environ.get("GITHUB_ACTOR") or None
    if who is None:
        from portal_io.git import user_name

        who = user_name(root or Path.cwd())
    return Actor(who or environ.get("USER") or environ.get("USERNAME") or "unknown", ci_url)


def redactor_for(plan: Plan, target: ApiTarget) -> Redactor:
    values = [spec.env_vars.get(name, "") for spec in (c.spec for c in plan.changes)
              for name in spec.secret_names]
    return Redactor((*values, *([target.api_key] if target.api_key else [])))


def record_applied(
    plan: Plan,
    results: Sequence[ApplyResult],
    store: HistoryPort | None,
    target: ApiTarget,
    reporter: Reporter,
    verb: str | None = None,
    root: Path | None = None,
) -> str | None:
    """One record per successfully applied change; a failure is one warning, returned."""
    if store is None:
        return None
    ok = {r.name: r for r in results if r.ok}
    changes = [c for c in plan.pending if c.name in ok]
    if not changes:
        return None
    actor, when, redactor = current_actor(root), now_utc(), redactor_for(plan, target)
    verb = verb or ("promote" if plan.source_env else "deploy")
    records = [record_for_change(c, verb, when, actor, plan.source_env,
                                 ok[c.name].deployment_id, redactor) for c in changes]
    try:
        problems = store.write(records)
    except Exception as err:  # recording must never turn a done apply into a crash
        problems = [f"{type(err).__name__}: {err}"]
    if not problems:
        return None
    message = redactor.text(
        f"the change history was not recorded for {len(problems)} of {len(records)} "
        f"deployment(s): {problems[0]}")
    reporter.warning(message)
    return message


# --------------------------------------------------------------------------- history verb


@attrs.frozen
class HistoryListing:
    env: str
    flow: str | None
    records: tuple[ChangeRecord, ...]
    requests: int = 0

    @property
    def exit_code(self) -> int:
        return 0

    def to_json(self) -> dict[str, Any]:
        return {"env": self.env, "flow": self.flow,
                "records": [r.to_json() for r in self.records]}


def history(
    workspace: Workspace,
    env: str,
    flow: str | None,
    limit: int,
    deps: Dependencies,
    reporter: Reporter | None = None,
) -> HistoryListing:
    """Records of one environment (and flow), newest first: the history is read only
    until `limit` records are found (usually one request)."""
    from flowportal.usecases.reporting import SilentReporter
    reporter = reporter or SilentReporter()
    config = workspace.config
    environment = config.environment(env)
    if limit < 1:
        raise PlanError(["--limit must be at least 1"])
    flow_key = normalize_flow_key(flow) if flow else None
    store = history_for(workspace, environment, deps, reporter)[2]
    place = place_for(config.project, env)
    kept = itertools.islice((r for r in records_of(store.scan(place))
                             if in_scope(r.deployment, *place, flow_key)), limit)
    return HistoryListing(env, flow_key, tuple(kept), store.requests)

