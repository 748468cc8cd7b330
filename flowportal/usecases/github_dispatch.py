"""`deploy --via github` / `promote --via github`: run the verb as a GitHub Actions workflow.

The laptop only decides *what* to ask for; the workflow in the repository runs
the same deploy/promote code path with the environment's own secrets, behind
GitHub Environments' approvals. The use case reads as the rest of the shell:
gather (git branch, repository, token) -> decide (inputs, pure) -> dispatch (io)
-> report the exact run it started -> optionally watch it to its conclusion.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import attrs

from portal_core.github import (
    INPUT_PRESETS,
    DispatchResult,
    InputNames,
    api_url_for,
    deploy_inputs,
    promote_inputs,
    run_outcome,
)
from portal_io.github_gateway import GitHubGateway, current_branch, resolve_repo, resolve_token

DEFAULT_POLL_SECONDS = 5.0
DEFAULT_WATCH_TIMEOUT = 3600.0


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


def _console(console: Any) -> Any:
    if console is not None:
        return console
    from rich.console import Console

    return Console(highlight=False)


def _say(console: Any, text: str) -> None:
    """Print without rich markup: refs, workflow names and URLs are data, not markup."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _make_gateway(
    root: Path,
    repo: str | None,
    api_url: str | None,
    environ: Mapping[str, str],
    run: Callable[..., subprocess.CompletedProcess],
) -> GitHubGateway:
    repo_ref = resolve_repo(root, repo, run=run)
    url = api_url or environ.get("GITHUB_API_URL") or api_url_for(repo_ref)
    token = resolve_token(environ, run=run, hostname=repo_ref.host)
    return GitHubGateway(repo_ref.owner, repo_ref.name, token, url)


def _dispatch(
    *,
    root: Path,
    verb: str,
    workflow: str,
    ref: str | None,
    build_inputs: Callable[[str], dict[str, str]],
    watch: bool,
    repo: str | None,
    api_url: str | None,
    gateway: GitHubGateway | None,
    console: Any,
    environ: Mapping[str, str] | None,
    poll_seconds: float,
    timeout: float,
    run: Callable[..., subprocess.CompletedProcess],
) -> DispatchOutcome:
    environ = os.environ if environ is None else environ
    ref = ref or current_branch(root, run=run)
    inputs = build_inputs(ref)  # validated before any request: a bad plan sends nothing
    gateway = gateway or _make_gateway(root, repo, api_url, environ, run)
    out = _console(console)

    started: DispatchResult = gateway.dispatch(workflow, ref, inputs)
    where = f"{gateway.repo.full_name}@{ref}"
    outcome = DispatchOutcome(
        run_id=started.run_id,
        html_url=started.html_url,
        conclusion=None,
        exit_code=0,
        workflow=workflow,
        ref=ref,
        repo=gateway.repo.full_name,
        inputs=inputs,
        found_by=started.found_by,
    )
    if started.run_id is None:
        _say(out, f"Dispatched {workflow} ({verb}) on {where}, but could not identify the run yet.")
        _say(out, f"Runs of this workflow: {started.html_url}")
        if watch:
            _say(out, "Cannot watch a run that was not identified.")
            return attrs.evolve(outcome, exit_code=1)
        return outcome

    _say(out, f"Started {workflow} ({verb}) on {where}: run {started.run_id}")
    _say(out, started.html_url)
    if not watch:
        return outcome

    final = _watch(gateway, started.run_id, out, poll_seconds, timeout)
    _done, success, _summary = run_outcome(final)
    conclusion = final.get("conclusion")
    return attrs.evolve(
        outcome,
        conclusion=str(conclusion) if conclusion is not None else None,
        exit_code=0 if success else 1,
        html_url=str(final.get("html_url") or started.html_url),
    )


def _watch(
    gateway: GitHubGateway, run_id: int, out: Any, poll_seconds: float, timeout: float
) -> dict[str, Any]:
    """Poll to completion: a live status line on a terminal, one line per change in logs."""
    last: list[str] = []
    spinner = (
        out.status(f"run {run_id}: waiting for GitHub", spinner="dots")
        if getattr(out, "is_terminal", False)
        else nullcontext()
    )
    with spinner as status:

        def on_update(run: dict[str, Any]) -> None:
            _done, _success, summary = run_outcome(run)
            if status is not None:
                status.update(f"run {run_id}: {summary}")
            if not last or last[-1] != summary:
                last.append(summary)
                _say(out, f"run {run_id}: {summary}")

        return gateway.watch(run_id, poll_seconds=poll_seconds, timeout=timeout, on_update=on_update)


def dispatch_deploy(
    root: Path,
    flows: list[str],
    env: str,
    ref: str | None = None,
    watch: bool = False,
    workflow: str = "deploy.yml",
    repo: str | None = None,
    api_url: str | None = None,
    gateway: GitHubGateway | None = None,
    console: Any = None,
    *,
    extra_inputs: Mapping[str, str] | None = None,
    input_names: InputNames = INPUT_PRESETS["flowportal"],
    environ: Mapping[str, str] | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout: float = DEFAULT_WATCH_TIMEOUT,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> DispatchOutcome:
    """Dispatch the deploy workflow for `flows` into `env` on `ref` (default: current branch).

    `repo` (`OWNER/NAME`) overrides the `origin` remote; `api_url` overrides
    `GITHUB_API_URL` (set automatically inside Actions) and the default for the
    remote's host. Raises `GitHubError`/`PlanError` with one clear line.
    """
    return _dispatch(
        root=Path(root),
        verb="deploy",
        workflow=workflow,
        ref=ref,
        build_inputs=lambda r: deploy_inputs(list(flows), env, r, extra_inputs, input_names),
        watch=watch,
        repo=repo,
        api_url=api_url,
        gateway=gateway,
        console=console,
        environ=environ,
        poll_seconds=poll_seconds,
        timeout=timeout,
        run=run,
    )


def dispatch_promote(
    root: Path,
    flows: list[str],
    src: str,
    dst: str,
    branch: str | None = None,
    force: bool = False,
    ref: str | None = None,
    watch: bool = False,
    workflow: str = "promote.yml",
    repo: str | None = None,
    api_url: str | None = None,
    gateway: GitHubGateway | None = None,
    console: Any = None,
    *,
    extra_inputs: Mapping[str, str] | None = None,
    input_names: InputNames = INPUT_PRESETS["flowportal"],
    environ: Mapping[str, str] | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout: float = DEFAULT_WATCH_TIMEOUT,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> DispatchOutcome:
    """Dispatch the promote workflow (`src` -> `dst`); an empty `flows` promotes every flow.

    `branch` narrows the source deployments to one branch, as in the local
    promote; `ref` is what the workflow itself runs on (default: current branch).
    """
    return _dispatch(
        root=Path(root),
        verb="promote",
        workflow=workflow,
        ref=ref,
        build_inputs=lambda _ref: promote_inputs(
            list(flows), src, dst, branch, force, extra_inputs, input_names
        ),
        watch=watch,
        repo=repo,
        api_url=api_url,
        gateway=gateway,
        console=console,
        environ=environ,
        poll_seconds=poll_seconds,
        timeout=timeout,
        run=run,
    )
