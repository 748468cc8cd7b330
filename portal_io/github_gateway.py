"""The GitHub REST API, through ghapi, narrowed to what `--via github` needs.

The gateway dispatches a workflow, identifies the run it started, reads and
watches that run, and turns every HTTP failure into one `GitHubError` line. The
decisions (which run is ours, what a failure means to the user) are taken by
`portal_core.github`; this module only performs requests and reads answers.

ghapi is imported inside the class, because importing it costs ~0.2 s and
building a client ~0.3 s: commands that never talk to GitHub pay nothing, and
those that do build one client and reuse it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from portal_core.github import (
    DEFAULT_API_URL,
    GITHUB_HOST,
    DispatchResult,
    GitHubError,
    GitHubWatchTimeout,
    RepoRef,
    check_api_url,
    check_inputs,
    describe_http_error,
    parse_remote_url,
    parse_repo_override,
    pick_dispatched_run,
    redact,
    run_outcome,
    run_page_url,
    strip_credentials,
    workflow_page_url,
)

__all__ = [
    "GitHubError",
    "GitHubGateway",
    "resolve_repo",
    "resolve_token",
]

Runner = Callable[..., subprocess.CompletedProcess]

#: Seconds to wait before each listing when the dispatch answer does not name
#: the run (GitHub needs a moment to create it). Bounded: ~30 s in total.
FIND_RUN_DELAYS: tuple[float, ...] = (0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 5.0, 5.0)

#: Consecutive transient failures (5xx, connection) tolerated while watching.
WATCH_TRANSIENT_FAILURES = 3

NO_TOKEN = (
    "no GitHub token: set GITHUB_TOKEN or GH_TOKEN, or install the GitHub CLI and run "
    "`gh auth login`"
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _plain(value: Any) -> Any:
    """ghapi answers (AttrDict, fastcore `L`) as plain dicts and lists.

    Callers get ordinary JSON-like data they can print, compare and serialise,
    independent of ghapi's container types.
    """
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (str, bytes)) or value is None:
        return value
    if isinstance(value, (int, float, bool)):
        return value
    try:
        return [_plain(v) for v in value]
    except TypeError:
        return value


class GitHubGateway:
    """Workflow dispatch and run reads for one repository, over one ghapi client."""

    def __init__(
        self,
        owner: str,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        find_run_delays: Sequence[float] = FIND_RUN_DELAYS,
    ) -> None:
        if not token:
            raise GitHubError(NO_TOKEN)
        from ghapi.core import GhApi  # lazy: see module docstring

        self.repo = RepoRef(owner=owner, name=repo)
        self.api_url = check_api_url(api_url)
        self._token = token  # kept only to scrub it from any text we pass on
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._find_run_delays = tuple(find_run_delays)
        self._api = GhApi(
            owner=owner,
            repo=repo,
            token=token,
            gh_host=self.api_url,
            sync=True,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"GitHubGateway({self.repo.full_name!r}, api_url={strip_credentials(self.api_url)!r})"

    # ------------------------------------------------------------------ calls

    def _call(
        self,
        action: str,
        operation: Callable[..., Any],
        *args: Any,
        workflow: str | None = None,
        run_id: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run one ghapi operation; any HTTP or connection failure becomes a GitHubError."""
        from fasttransport.errors import APIError

        try:
            return operation(*args, **kwargs)
        except APIError as exc:
            raise self._to_error(exc, action, workflow=workflow, run_id=run_id) from None

    def _to_error(
        self, exc: Any, action: str, *, workflow: str | None = None, run_id: int | None = None
    ) -> GitHubError:
        """One line for a ghapi `APIError`.

        The original exception is never chained (callers use `from None`): its
        text includes the response and request, and what reaches a user or a log
        must be one line that is known not to contain the token.
        """
        status = exc.status_code if isinstance(exc.status_code, int) else None
        message = redact(str(exc.message or ""), [self._token])
        if status is None and exc.error_type:
            message = f"{exc.error_type}: {message}" if message else str(exc.error_type)
        line = describe_http_error(
            status,
            message,
            action=action,
            repo=self.repo,
            workflow=workflow,
            run_id=run_id,
            api_url=self.api_url,
        )
        return GitHubError(line, status=status)

    def _server_time(self) -> datetime:
        """The time GitHub stamped its last answer with, else our clock.

        Using the server's `Date` to bound `created_at` (also server time) takes
        the laptop's clock error out of identifying our run.
        """
        headers = self._api.recv_hdrs or {}
        value = headers.get("date") if hasattr(headers, "get") else None
        if value:
            try:
                return parsedate_to_datetime(value).astimezone(timezone.utc)
            except (TypeError, ValueError):
                pass
        return self._now()

    def _list_dispatch_runs(self, workflow: str, ref: str) -> list[dict[str, Any]]:
        answer = self._call(
            "list workflow runs",
            self._api.actions.list_workflow_runs,
            workflow,
            branch=ref,
            event="workflow_dispatch",
            per_page=100,
            workflow=workflow,
        )
        runs = _plain((answer or {}).get("workflow_runs") or [])
        return [r for r in runs if isinstance(r, dict)]

    def _authenticated_login(self) -> str | None:
        """Who the token belongs to, to narrow the run search; None when not allowed.

        Tokens of GitHub Apps and Actions' own GITHUB_TOKEN cannot read `/user`;
        the search then relies on event, branch, time and the known ids.
        """
        try:
            who = self._call("read the token's user", self._api.users.get_authenticated)
        except GitHubError:
            return None
        login = (who or {}).get("login")
        return login if isinstance(login, str) and login else None

    # ------------------------------------------------------------------ API

    def dispatch(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> DispatchResult:
        """Start `workflow` on `ref` and identify the run it created.

        GitHub names the run in the answer when asked (`return_run_details`).
        Servers that do not (older GitHub Enterprise: 204, no body) get the
        fallback: the runs listed *before* dispatching are excluded and the
        earliest new matching run is ours, searched a bounded number of times.
        """
        inputs = check_inputs(inputs)
        known = self._list_dispatch_runs(workflow, ref)
        known_ids = {r["id"] for r in known if isinstance(r.get("id"), int)}
        dispatched_after = self._server_time()

        answer = self._dispatch_once(workflow, ref, inputs, run_details=True)
        details = _plain(answer) if isinstance(answer, Mapping) else {}
        run_id = details.get("workflow_run_id")
        if isinstance(run_id, int):
            html_url = details.get("html_url") or self._run_page(run_id)
            return DispatchResult(run_id=run_id, html_url=str(html_url), found_by="run_details")

        actor = self._authenticated_login()
        stamp = dispatched_after.isoformat()
        for delay in self._find_run_delays:
            if delay:
                self._sleep(delay)
            runs = self._list_dispatch_runs(workflow, ref)
            run = pick_dispatched_run(runs, stamp, ref, actor=actor, known_ids=known_ids)
            if run is not None:
                return DispatchResult(
                    run_id=int(run["id"]),
                    html_url=str(run.get("html_url") or self._run_page(int(run["id"]))),
                    found_by="listing",
                    run=run,
                )
        return DispatchResult(
            run_id=None,
            html_url=workflow_page_url(self.api_url, self.repo, workflow),
            found_by="not_found",
        )

    def _dispatch_once(
        self, workflow: str, ref: str, inputs: Mapping[str, str], run_details: bool
    ) -> Any:
        from fasttransport.errors import APIError

        extra = {"return_run_details": True} if run_details else {}
        try:
            return self._api.actions.create_workflow_dispatch(
                workflow, ref=ref, inputs=dict(inputs), **extra
            )
        except APIError as exc:
            # A server that predates `return_run_details` refuses the unknown key
            # with 422; nothing was dispatched, so asking again without it is safe.
            if run_details and exc.status_code == 422 and "return_run_details" in str(exc.message):
                return self._dispatch_once(workflow, ref, inputs, run_details=False)
            raise self._to_error(exc, "dispatch the workflow", workflow=workflow) from None

    def _run_page(self, run_id: int) -> str:
        return run_page_url(self.api_url, self.repo, run_id)

    def get_run(self, run_id: int) -> dict[str, Any]:
        run = self._call(
            "read the workflow run",
            self._api.actions.get_workflow_run,
            run_id,
            run_id=run_id,
        )
        return _plain(run) if isinstance(run, Mapping) else {}

    def watch(
        self,
        run_id: int,
        poll_seconds: float = 5.0,
        timeout: float = 3600.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it completes; returns the final run.

        Bounded by `timeout` (and by a matching number of polls, so a clock that
        does not move cannot make it spin forever). A few consecutive transient
        failures (5xx, lost connection) are ridden out; a refusal is raised at once.
        """
        poll = max(poll_seconds, 0.01)
        deadline = self._clock() + timeout
        max_polls = int(timeout / poll) + 2
        transient = 0
        summary = "not read yet"
        for _ in range(max_polls):
            try:
                run = self.get_run(run_id)
            except GitHubError as exc:
                retryable = exc.status is None or exc.status >= 500 or exc.status == 429
                transient += 1
                if not retryable or transient > WATCH_TRANSIENT_FAILURES:
                    raise
                self._sleep(poll)
                continue
            transient = 0
            if on_update is not None:
                on_update(run)
            done, _success, summary = run_outcome(run)
            if done:
                return run
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._sleep(min(poll, remaining))
        raise GitHubWatchTimeout(
            f"workflow run {run_id} is still {summary} after {timeout:g}s: {self._run_page(run_id)}"
        )


# ---------------------------------------------------------------------- local facts


def _run_quiet(run: Runner, argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=20)


def resolve_token(
    env: Mapping[str, str], run: Runner = subprocess.run, hostname: str | None = None
) -> str:
    """The token to dispatch with: GITHUB_TOKEN, else GH_TOKEN, else `gh auth token`.

    The same order as the GitHub CLI, so a user logged in with `gh` needs no
    extra setup. gh's own error text is not passed on: it is not needed to fix
    the problem and we do not control what it contains.
    """
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = (env.get(name) or "").strip()
        if value:
            return value
    argv = ["gh", "auth", "token"]
    if hostname and hostname != GITHUB_HOST:
        argv += ["--hostname", hostname]
    try:
        done = _run_quiet(run, argv)
    except FileNotFoundError:
        raise GitHubError(NO_TOKEN) from None
    except (subprocess.TimeoutExpired, OSError):
        raise GitHubError(NO_TOKEN + " (`gh auth token` did not answer)") from None
    token = (done.stdout or "").strip()
    if done.returncode != 0 or not token:
        raise GitHubError(
            "no GitHub token: set GITHUB_TOKEN or GH_TOKEN, or run `gh auth login` "
            "(`gh auth token` found none)"
        )
    return token


def resolve_repo(
    project_root: Path, override: str | None = None, run: Runner = subprocess.run
) -> RepoRef:
    """The repository to dispatch in: `--repo OWNER/NAME`, else the `origin` remote."""
    if override:
        ref = parse_repo_override(override)
        if ref is None:
            raise GitHubError(f"--repo {override!r} is not of the form OWNER/NAME")
        return ref
    try:
        done = _run_quiet(run, ["git", "remote", "get-url", "origin"], cwd=Path(project_root))
    except FileNotFoundError:
        raise GitHubError("git is not installed: pass --repo OWNER/NAME") from None
    except (subprocess.TimeoutExpired, OSError):
        raise GitHubError("`git remote get-url origin` failed: pass --repo OWNER/NAME") from None
    url = (done.stdout or "").strip()
    if done.returncode != 0 or not url:
        raise GitHubError(f"no git remote 'origin' in {project_root}: pass --repo OWNER/NAME")
    ref = parse_remote_url(url)
    if ref is None:
        raise GitHubError(
            f"remote origin ({strip_credentials(url)}) is not a GitHub repository: "
            "pass --repo OWNER/NAME"
        )
    return ref
