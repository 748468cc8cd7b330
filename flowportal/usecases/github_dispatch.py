"""`deploy --via github` / `promote --via github`: run the verb as a GitHub Actions workflow.

The laptop only decides *what* to ask for; the workflow in the repository runs
the same deploy/promote code path with the environment's own secrets, behind
GitHub Environments' approvals. The use case reads as the rest of the shell:
gather (ref, repository, token) -> decide (inputs, pure; a bad request sends
nothing) -> dispatch (io) -> report the exact run it started -> optionally
watch it to its conclusion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from flowportal.usecases.ports import WorkflowGateway
from flowportal.usecases.reporting import Reporter, SilentReporter
from portal_core.github import (
    INPUT_PRESETS,
    DispatchResult,
    InputNames,
    deploy_inputs,
    promote_inputs,
    run_outcome,
)

if TYPE_CHECKING:
    from pathlib import Path

    from flowportal.bootstrap import Dependencies

DEFAULT_POLL_SECONDS = 5.0
DEFAULT_WATCH_TIMEOUT = 3600.0


@attrs.frozen
class WorkflowDeploy:
    """Ask the deploy workflow to deploy `flows` to `env`."""

    flows: tuple[str, ...]
    env: str
    workflow: str = "deploy.yml"
    verb = "deploy"

    def inputs(self, ref: str, extra: Mapping[str, str], names: InputNames) -> dict[str, str]:
        return deploy_inputs(list(self.flows), self.env, ref, extra, names)


@attrs.frozen
class WorkflowPromote:
    """Ask the promote workflow to promote `src` to `dst` (every flow when `flows` is empty).

    `branch` narrows the source deployments to one branch, as in the local promote.
    """

    flows: tuple[str, ...]
    src: str
    dst: str
    branch: str | None = None
    force: bool = False
    workflow: str = "promote.yml"
    verb = "promote"

    def inputs(self, ref: str, extra: Mapping[str, str], names: InputNames) -> dict[str, str]:
        return promote_inputs(list(self.flows), self.src, self.dst, self.branch, self.force, extra, names)


@attrs.frozen
class DispatchRequest:
    """`ref` is what the workflow runs on (default: the checkout's branch)."""

    action: WorkflowDeploy | WorkflowPromote
    ref: str | None = None
    watch: bool = False
    repo: str | None = None  # OWNER/NAME; default: the origin remote
    extra_inputs: Mapping[str, str] = attrs.Factory(dict)
    input_names: InputNames = INPUT_PRESETS["flowportal"]  # the workflow's input names
    poll_seconds: float = DEFAULT_POLL_SECONDS
    timeout: float = DEFAULT_WATCH_TIMEOUT


@attrs.frozen
class DispatchOutcome:
    """What a `--via github` command did.

    `conclusion` is GitHub's conclusion when the run was watched to the end,
    else None. `exit_code` is 0 when the dispatch went through and (if watched)
    the run succeeded, 1 when the watched run did not succeed or the run to
    watch could not be identified.
    """

    run_id: int | None
    html_url: str
    conclusion: str | None
    exit_code: int
    workflow: str
    ref: str
    repo: str
    inputs: Mapping[str, str] = attrs.field(factory=dict)
    found_by: str = ""


def dispatch(
    root: Path, request: DispatchRequest, deps: Dependencies, reporter: Reporter | None = None
) -> DispatchOutcome:
    reporter = reporter or SilentReporter()
    action = request.action
    ref = request.ref or deps.github.default_ref(root)
    inputs = action.inputs(ref, request.extra_inputs, request.input_names)  # validated before sending
    gateway = deps.github.connect(root, request.repo)

    started: DispatchResult = gateway.dispatch(action.workflow, ref, inputs)
    where = f"{gateway.repo.full_name}@{ref}"
    outcome = DispatchOutcome(
        run_id=started.run_id,
        html_url=started.html_url,
        conclusion=None,
        exit_code=0,
        workflow=action.workflow,
        ref=ref,
        repo=gateway.repo.full_name,
        inputs=inputs,
        found_by=started.found_by,
    )
    if started.run_id is None:
        reporter.status(f"Dispatched {action.workflow} ({action.verb}) on {where}, "
                        "but could not identify the run yet.")
        reporter.status(f"Runs of this workflow: {started.html_url}")
        if request.watch:
            reporter.status("Cannot watch a run that was not identified.")
            return attrs.evolve(outcome, exit_code=1)
        return outcome

    reporter.status(f"Started {action.workflow} ({action.verb}) on {where}: run {started.run_id}")
    reporter.status(started.html_url)
    if not request.watch:
        return outcome

    final = _watch(gateway, started.run_id, request, reporter)
    _done, success, _summary = run_outcome(final)
    conclusion = final.get("conclusion")
    return attrs.evolve(
        outcome,
        conclusion=str(conclusion) if conclusion is not None else None,
        exit_code=0 if success else 1,
        html_url=str(final.get("html_url") or started.html_url),
    )


def _watch(
    gateway: WorkflowGateway, run_id: int, request: DispatchRequest, reporter: Reporter
) -> dict[str, Any]:
    """Poll to completion, telling the reporter each time the run's status changes."""
    last: list[str] = []

    def on_update(run: dict[str, Any]) -> None:
        _done, _success, summary = run_outcome(run)
        if not last or last[-1] != summary:
            last.append(summary)
            reporter.status(f"run {run_id}: {summary}")

    return gateway.watch(run_id, poll_seconds=request.poll_seconds, timeout=request.timeout,
                         on_update=on_update)
