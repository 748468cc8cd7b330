"""A local stand-in for the few GitHub REST routes `--via github` uses.

It lets integration tests drive the real ghapi client (pointed at it through
`gh_host`) and assert on what was actually sent over HTTP, and script the
answers that matter: run details or a bare 204, 401/404/422/5xx with GitHub's
`{"message": ...}` bodies, unrelated runs that a "newest run" heuristic would
wrongly pick, runs that show up in listings only after a delay, and a run that
moves queued -> in_progress -> completed.

Only 127.0.0.1 is bound, on a free port, in a daemon thread; `stop()` (or
leaving the `with` block) shuts it down.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "dispatch",
        "POST",
        re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<wf>[^/]+)/dispatches"),
    ),
    (
        "list_runs",
        "GET",
        re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<wf>[^/]+)/runs"),
    ),
    ("get_run", "GET", re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<id>\d+)")),
    ("user", "GET", re.compile(r"/user")),
)

#: The states a dispatched run goes through, one per read of the run.
SUCCESS = (("queued", None), ("in_progress", None), ("completed", "success"))
FAILURE = (("queued", None), ("in_progress", None), ("completed", "failure"))

DEFAULT_MESSAGES = {
    401: "Bad credentials",
    403: "Resource not accessible by integration",
    404: "Not Found",
    422: "Unexpected inputs provided",
    500: "Server Error",
    503: "Service Unavailable",
}


@attrs.define
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    route: str


def github_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStandIn:
    """Scriptable fake of the GitHub REST API for one or more repositories.

    Attributes tests set before (or while) using it:

    * `dispatch_mode`: "details" (200 with `workflow_run_id`/`html_url`),
      "no_content" (204, as without `return_run_details`), or "legacy"
      (422 when `return_run_details` is sent, 204 otherwise: an older server);
    * `run_states`: the states each dispatched run goes through;
    * `hide_new_runs_for`: listings that do not yet show a newly dispatched run;
    * `on_dispatch`: called with (standin, new_run) right after a dispatch, e.g.
      to add a newer unrelated run;
    * `token`: when set, requests without `Authorization: token <token>` get 401;
    * `workflows`: the workflow files that exist (others get 404).
    """

    def __init__(
        self,
        owner: str = "octo-org",
        repo: str = "flows",
        workflows: tuple[str, ...] = ("deploy.yml", "promote.yml", "test.yml"),
        token: str | None = None,
        login: str = "octocat",
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.workflows = set(workflows)
        self.token = token
        self.login = login
        self.dispatch_mode = "details"
        self.run_states: tuple[tuple[str, str | None], ...] = SUCCESS
        self.hide_new_runs_for = 0
        self.on_dispatch: Callable[[GitHubStandIn, dict[str, Any]], None] | None = None
        self.user_status = 200
        self.requests: list[Recorded] = []
        self.runs: list[dict[str, Any]] = []
        self.dispatched: list[dict[str, Any]] = []
        self._failures: dict[str, list[tuple[int, dict[str, Any], int | None]]] = {}
        self._states: dict[int, list[tuple[str, str | None]]] = {}
        self._hidden: dict[int, int] = {}
        self._next_id = 9_000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("stand-in not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> GitHubStandIn:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting

    def fail(self, route: str, status: int, message: str | None = None, times: int | None = None) -> None:
        """Answer `route` with `status` and a GitHub-style body (`times` None: always)."""
        body = {
            "message": message if message is not None else DEFAULT_MESSAGES.get(status, "Error"),
            "documentation_url": "https://docs.github.com/rest",
        }
        with self._lock:
            self._failures.setdefault(route, []).append((status, body, times))

    def add_run(
        self,
        *,
        workflow: str = "deploy.yml",
        event: str = "workflow_dispatch",
        branch: str = "main",
        age_seconds: float = 0.0,
        actor: str | None = None,
        status: str = "completed",
        conclusion: str | None = "success",
    ) -> dict[str, Any]:
        """Add a run that exists independently of our dispatches (created `age_seconds` ago)."""
        created = datetime.now(timezone.utc) - timedelta(seconds=age_seconds)
        with self._lock:
            run = self._new_run(workflow, event, branch, created, actor or self.login)
            run["status"], run["conclusion"] = status, conclusion
            return run

    def requests_to(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    # ------------------------------------------------------------ internals

    def _new_run(
        self, workflow: str, event: str, branch: str, created: datetime, actor: str
    ) -> dict[str, Any]:
        self._next_id += 1
        run_id = self._next_id
        run = {
            "id": run_id,
            "name": workflow.rsplit(".", 1)[0],
            "path": f".github/workflows/{workflow}",
            "event": event,
            "head_branch": branch,
            "status": "queued",
            "conclusion": None,
            "created_at": github_time(created),
            "updated_at": github_time(created),
            "html_url": f"https://github.com/{self.owner}/{self.repo}/actions/runs/{run_id}",
            "url": f"{self.url}/repos/{self.owner}/{self.repo}/actions/runs/{run_id}",
            "actor": {"login": actor},
            "triggering_actor": {"login": actor},
        }
        self.runs.append(run)
        return run

    def _failure_for(self, route: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            queue = self._failures.get(route) or []
            for index, (status, body, times) in enumerate(queue):
                if times is None:
                    return status, body
                if times > 0:
                    if times == 1:
                        queue.pop(index)
                    else:
                        queue[index] = (status, body, times - 1)
                    return status, body
        return None

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        """Route one request; returns (status, JSON body or None)."""
        parts = urlsplit(raw_path)
        route, match = "unknown", None
        for name, verb, pattern in ROUTES:
            found = pattern.fullmatch(parts.path)
            if found and verb == method:
                route, match = name, found
                break
        with self._lock:
            self.requests.append(
                Recorded(method, parts.path, parse_qs(parts.query), dict(headers), body, route)
            )
        if match is None:
            return 404, {"message": "Not Found"}
        if self.token is not None:
            given = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
            if given != f"token {self.token}":
                return 401, {"message": "Bad credentials"}
        failure = self._failure_for(route)
        if failure is not None:
            return failure
        groups = match.groupdict()
        if "owner" in groups and (groups["owner"], groups["repo"]) != (self.owner, self.repo):
            return 404, {"message": "Not Found"}
        if "wf" in groups and groups["wf"] not in self.workflows:
            return 404, {"message": "Not Found"}
        return getattr(self, f"_{route}")(groups, parse_qs(parts.query), body)

    def _dispatch(self, groups: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("ref"), str):
            return 422, {"message": "Invalid request. ref is required"}
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
            return 422, {"message": "Invalid request. inputs values must be strings"}
        wants_details = body.get("return_run_details") is True
        if self.dispatch_mode == "legacy" and "return_run_details" in body:
            return 422, {"message": "Invalid request. return_run_details is not a permitted key."}
        with self._lock:
            run = self._new_run(
                groups["wf"], "workflow_dispatch", body["ref"], datetime.now(timezone.utc), self.login
            )
            self._states[run["id"]] = list(self.run_states)
            self._hidden[run["id"]] = self.hide_new_runs_for
            self.dispatched.append(run)
            if self.on_dispatch is not None:
                self.on_dispatch(self, run)
        if self.dispatch_mode == "details" and wants_details:
            return 200, {
                "workflow_run_id": run["id"],
                "run_url": run["url"],
                "html_url": run["html_url"],
            }
        return 204, None

    def _list_runs(self, groups: dict[str, str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        branch, event = first("branch"), first("event")
        per_page = int(first("per_page") or 30)
        with self._lock:
            shown = []
            for run in self.runs:
                if run["path"] != f".github/workflows/{groups['wf']}":
                    continue
                if branch is not None and run["head_branch"] != branch:
                    continue
                if event is not None and run["event"] != event:
                    continue
                if self._hidden.get(run["id"], 0) > 0:
                    self._hidden[run["id"]] -= 1
                    continue
                shown.append(dict(run))
        shown.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        return 200, {"total_count": len(shown), "workflow_runs": shown[:per_page]}

    def _get_run(self, groups: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
        run_id = int(groups["id"])
        with self._lock:
            run = next((r for r in self.runs if r["id"] == run_id), None)
            if run is None:
                return 404, {"message": "Not Found"}
            states = self._states.get(run_id)
            if states:
                run["status"], run["conclusion"] = states.pop(0) if len(states) > 1 else states[0]
            return 200, dict(run)

    def _user(self, groups: Any, query: Any, body: Any) -> tuple[int, Any]:
        if self.user_status != 200:
            return self.user_status, {"message": DEFAULT_MESSAGES.get(self.user_status, "Error")}
        return 200, {"login": self.login}


def _make_handler(standin: GitHubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            status, answer = standin.handle(self.command, self.path, dict(self.headers.items()), body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-RateLimit-Remaining", "4999")
            self.send_header("X-RateLimit-Limit", "5000")
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: test output should show the code under test, not access logs."""

    return Handler
