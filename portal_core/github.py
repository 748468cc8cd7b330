"""Decisions behind `--via github`: which repository, which inputs, which run is ours.

Everything here is pure so the risky parts of dispatching a workflow can be
tested without a network:

* inputs are built as strings that travel *as data* from the laptop to the
  workflow (JSON for the flow list, so names with spaces or commas survive), and
  are checked against GitHub's documented limits before anything is sent;
* the run we started is picked by evidence (event, branch, time, not one of the
  runs that already existed) instead of "the newest run", which is wrong as soon
  as anyone else pushes or dispatches;
* HTTP failures become one line that tells the user what to do, and never
  contain the token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from portal_core.errors import PlanError, PortalError

#: GitHub refuses a dispatch with more inputs than this.
MAX_INPUTS = 25
#: GitHub refuses a dispatch whose inputs exceed this many characters.
MAX_INPUTS_CHARS = 65_535

DEFAULT_API_URL = "https://api.github.com"
GITHUB_HOST = "github.com"

DEPLOY_INPUT_KEYS = ("flows", "env")
PROMOTE_INPUT_KEYS = ("flows", "src", "dst", "branch", "force")

#: Allowance between the server time we note before dispatching and the
#: `created_at` GitHub stamps on the run (clocks of different front ends and the
#: one-second resolution of HTTP `Date`).
DEFAULT_CLOCK_SKEW_SECONDS = 5.0

# GitHub owners: letters, digits and single hyphens; repositories also allow `.` and `_`.
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_REPO = re.compile(r"[A-Za-z0-9._-]+")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_SCP_LIKE = re.compile(r"(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s]+):(?P<path>[^\s]+)")


class GitHubError(PortalError):
    """Talking to GitHub failed; the message is one line and never contains the token.

    `status` is the HTTP status (None when GitHub could not be reached or the
    failure happened before any request), so callers can tell a transient 5xx
    from a refusal without parsing the message.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubWatchTimeout(GitHubError):
    """The run did not finish within the watch timeout (it may still finish later)."""


@attrs.frozen
class RepoRef:
    """A repository on github.com or on a GitHub Enterprise host.

    The host is kept so that an Enterprise remote leads to that host's API
    (`https://HOST/api/v3`) instead of silently dispatching on github.com.
    """

    owner: str
    name: str
    host: str = GITHUB_HOST

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def __str__(self) -> str:
        return self.full_name


@attrs.frozen
class DispatchResult:
    """The run a dispatch started, as far as we could identify it.

    `run_id` is None only when GitHub accepted the dispatch but the run could not
    be identified in time; `html_url` then points at the workflow's run list so
    the user still has somewhere to look. `found_by` says how the run was
    identified ("run_details" from the dispatch answer, "listing" from the
    fallback), which matters when reasoning about a wrong pick.
    """

    run_id: int | None
    html_url: str
    found_by: str
    run: Mapping[str, Any] | None = None


# --------------------------------------------------------------------------- repository


def _repo_from_path(host: str, path: str) -> RepoRef | None:
    parts = path.strip("/").split("/")
    if len(parts) != 2:
        return None
    owner, name = parts
    if name.endswith(".git"):
        name = name[: -len(".git")]
    if not _OWNER.fullmatch(owner) or not _REPO.fullmatch(name) or name in {".", ".."}:
        return None
    if not _HOST.fullmatch(host) or len(host) == 1:  # `C:/x/y` is a Windows path
        return None
    return RepoRef(owner=owner, name=name, host=_api_host(host.lower()))


def _api_host(host: str) -> str:
    """The host whose API serves a remote's host.

    `ssh.github.com` (ssh over 443) is github.com. A host without a dot is an
    ssh config alias (`github-work:o/r`); it says nothing about the API, and
    aliases overwhelmingly point at github.com. Anything else with a dot is taken
    for a GitHub Enterprise Server.
    """
    if host in {"ssh.github.com", "www.github.com"} or "." not in host:
        return GITHUB_HOST
    return host


def parse_remote_url(url: str) -> RepoRef | None:
    """The repository a git remote points at, or None if it is not a GitHub-shaped remote.

    Accepts `https://HOST/o/r(.git)`, `ssh://[user@]HOST[:port]/o/r(.git)`,
    `git://HOST/o/r(.git)` and scp-like `[user@]HOST:o/r(.git)`, for github.com
    and Enterprise hosts alike. Credentials embedded in an https remote are
    ignored (never copied into the result), so nothing derived from the remote
    can leak them.
    """
    text = url.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    if "://" in text:
        try:
            parts = urlsplit(text)
            _ = parts.port  # raises ValueError for a malformed port
        except ValueError:
            return None
        if parts.scheme.lower() not in {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}:
            return None
        if parts.query or parts.fragment or not parts.hostname:
            return None
        return _repo_from_path(parts.hostname, parts.path)
    match = _SCP_LIKE.fullmatch(text)
    if match is None:
        return None
    return _repo_from_path(match["host"], match["path"])


def parse_repo_override(text: str) -> RepoRef | None:
    """`owner/name` as typed on the command line (a full remote URL works too)."""
    text = text.strip()
    if "://" in text or ":" in text or "@" in text:
        return parse_remote_url(text)
    return _repo_from_path(GITHUB_HOST, text)


def api_url_for(repo: RepoRef) -> str:
    """The REST API root for a repository's host: github.com or Enterprise (`/api/v3`)."""
    if repo.host == GITHUB_HOST:
        return DEFAULT_API_URL
    return f"https://{repo.host}/api/v3"


def web_url_for(api_url: str) -> str:
    """The web root that matches an API root, for links to pages the API does not return."""
    parts = urlsplit(strip_credentials(api_url).rstrip("/"))
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path
    if path.endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def check_api_url(api_url: str) -> str:
    """The API root without a trailing slash; refuses anything but http(s)://host[...].

    Checked up front so a typo in GITHUB_API_URL is one clear line, not an
    exception from deep inside the HTTP client.
    """
    text = api_url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise GitHubError(
            f"GitHub API URL {strip_credentials(text)!r} is not an http(s) URL; "
            f"set GITHUB_API_URL like {DEFAULT_API_URL} or https://HOST/api/v3"
        )
    return text


def workflow_page_url(api_url: str, repo: RepoRef, workflow: str) -> str:
    return f"{web_url_for(api_url)}/{repo.full_name}/actions/workflows/{workflow}"


def run_page_url(api_url: str, repo: RepoRef, run_id: int) -> str:
    return f"{web_url_for(api_url)}/{repo.full_name}/actions/runs/{run_id}"


def strip_credentials(url: str) -> str:
    """`url` without a `user:password@` part, for showing a URL in a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


# --------------------------------------------------------------------------- inputs


def check_cli_value(what: str, value: str) -> None:
    """Refuse values the workflow could not hand to the CLI unchanged.

    A value starting with `-` would be read by the CLI's parser as an option
    (e.g. a flow called `--force`), and NUL cannot travel in an environment
    variable. Everything else (`;`, `$(...)`, quotes, spaces, unicode) is passed
    literally, because it never meets a shell.
    """
    if not isinstance(value, str):
        raise PlanError([f"{what} must be text, got {type(value).__name__}"])
    if "\x00" in value:
        raise PlanError([f"{what} {value!r} contains a NUL character"])
    if value.startswith("-"):
        raise PlanError([f"{what} {value!r} starts with '-'; the workflow would read it as an option"])


def _check_required(what: str, value: str) -> None:
    check_cli_value(what, value)
    if not value.strip():
        raise PlanError([f"{what} must not be empty"])


def encode_flows(flows: Iterable[str]) -> str:
    """The flow list as one JSON array string (one input, any characters in names)."""
    names = list(flows)
    for name in names:
        _check_required("flow name", name)
    return json.dumps(names, ensure_ascii=False, separators=(",", ":"))


def decode_flows(text: str) -> list[str]:
    """Inverse of `encode_flows`, strict about the shape (used on the workflow side)."""
    try:
        value = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise PlanError([f"FLOWS is not a JSON array of names: {exc.msg} at column {exc.colno}"]) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlanError(["FLOWS must be a JSON array of strings, e.g. [\"hello_world\"]"])
    for name in value:
        _check_required("flow name", name)
    return value


def inputs_size(inputs: Mapping[str, str]) -> int:
    """Characters the inputs take in the request body (compact JSON, as sent)."""
    return len(json.dumps(dict(inputs), ensure_ascii=False, separators=(",", ":")))


def check_inputs(inputs: Mapping[str, str]) -> dict[str, str]:
    """Validate against GitHub's dispatch limits so a refusal happens here, with a
    useful message, instead of as a bare 422 from the API."""
    problems = []
    for key, value in inputs.items():
        if not isinstance(key, str) or not key:
            problems.append(f"input name {key!r} must be non-empty text")
        if not isinstance(value, str):
            problems.append(f"input {key!r} must be text, got {type(value).__name__}")
    if len(inputs) > MAX_INPUTS:
        problems.append(f"{len(inputs)} workflow inputs; GitHub accepts at most {MAX_INPUTS}")
    if not problems:
        size = inputs_size(inputs)
        if size > MAX_INPUTS_CHARS:
            problems.append(
                f"workflow inputs take {size:,} characters; GitHub accepts at most {MAX_INPUTS_CHARS:,}"
            )
    if problems:
        raise PlanError(problems)
    return dict(inputs)


def _merge_extra(inputs: dict[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    for key, value in (extra or {}).items():
        if key in inputs:
            raise PlanError([f"extra input {key!r} would replace a standard input"])
        inputs[key] = value
    return check_inputs(inputs)


@attrs.frozen
class InputNames:
    """Which workflow input carries each value of a dispatch; None: the value is not sent.

    Our shipped workflows take `flows` (a JSON array, so any name survives) and
    the other values under their own names. Workflows written for the seed SDK
    take `flows-to-deploy` as a comma list (`a,b` or `all`), `env-label`,
    `source-env` and `target-env`, and have no branch/force inputs.
    """

    flows: str | None = "flows"
    env: str | None = "env"
    src: str | None = "src"
    dst: str | None = "dst"
    branch: str | None = "branch"
    force: str | None = "force"
    flows_format: str = "json"  # "json" or "comma"


INPUT_PRESETS: Mapping[str, InputNames] = {
    "flowportal": InputNames(),
    "sdk": InputNames(flows="flows-to-deploy", env="env-label", src="source-env",
                      dst="target-env", branch=None, force=None, flows_format="comma"),
}
_INPUT_FIELDS = ("flows", "env", "src", "dst", "branch", "force")


def parse_input_names(spec: str | None) -> InputNames:
    """A preset name (`flowportal`, `sdk`) or `value=input,...` pairs, e.g.
    `flows=flows-to-deploy,env=env-label,format=comma`; `value=` leaves a value out.
    Pairs start from our own names, so only what differs needs saying."""
    text = (spec or "").strip()
    if not text:
        return INPUT_PRESETS["flowportal"]
    if text in INPUT_PRESETS:
        return INPUT_PRESETS[text]
    if "=" not in text:
        raise PlanError([f"unknown inputs preset {text!r}; use one of {', '.join(INPUT_PRESETS)} "
                         "or value=input pairs such as flows=flows-to-deploy,format=comma"])
    changes: dict[str, str | None] = {}
    for pair in text.split(","):
        key, _, value = (part.strip() for part in pair.partition("="))
        if key == "format":
            if value not in ("json", "comma"):
                raise PlanError([f"inputs format {value!r} must be 'json' or 'comma'"])
            changes["flows_format"] = value
        elif key in _INPUT_FIELDS:
            if value:
                _check_required(f"input name for {key}", value)
            changes[key] = value or None
        else:
            raise PlanError([f"unknown value {key!r} in inputs {text!r}; the values are "
                             f"{', '.join(_INPUT_FIELDS)} (and format)"])
    return attrs.evolve(INPUT_PRESETS["flowportal"], **changes)  # type: ignore[arg-type]


def encode_flows_comma(flows: Iterable[str]) -> str:
    """The seed SDK's flow list: `a,b`, or `all` for every flow (and for none given)."""
    names = list(flows)
    for name in names:
        _check_required("flow name", name)
        if "," in name:
            raise PlanError([f"flow name {name!r} contains ','; a comma-list input cannot carry it"])
    return ",".join(names) if names else "all"


def _named(names: InputNames, values: Mapping[str, str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for field, value in values.items():
        input_name = getattr(names, field)
        if input_name is not None:
            inputs[input_name] = value
    return inputs


def _flows_value(names: InputNames, flows: list[str]) -> str:
    return encode_flows_comma(flows) if names.flows_format == "comma" else encode_flows(flows)


def deploy_inputs(
    flows: list[str], env: str, ref: str, extra: Mapping[str, str] | None = None,
    names: InputNames = INPUT_PRESETS["flowportal"],
) -> dict[str, str]:
    """Inputs of the deploy workflow.

    `ref` is not an input: it is the branch or tag the workflow runs on, and the
    workflow takes branch and commit from its own checkout. It is checked here so
    a plan without a ref fails before anything is sent. `extra` carries inputs of
    a customised workflow; it may not shadow the standard ones.
    """
    _check_required("ref", ref)
    _check_required("environment", env)
    if not flows:
        raise PlanError(["no flow given: pass --flow NAME (repeatable) or --flow all"])
    inputs = _named(names, {"flows": _flows_value(names, flows), "env": env})
    return _merge_extra(inputs, extra)


def promote_inputs(
    flows: list[str],
    src: str,
    dst: str,
    branch: str | None,
    force: bool,
    extra: Mapping[str, str] | None = None,
    names: InputNames = INPUT_PRESETS["flowportal"],
) -> dict[str, str]:
    """Inputs of the promote workflow; an empty flow list means "every flow deployed in src"."""
    _check_required("source environment", src)
    _check_required("target environment", dst)
    if branch:
        check_cli_value("branch", branch)
    if names.branch is None and branch:
        raise PlanError([f"the workflow's inputs have no branch; it promotes the branch it runs on "
                         f"(give --ref {branch} instead of --branch)"])
    if names.force is None and force:
        raise PlanError(["the workflow's inputs have no force switch; promote one step at a time"])
    inputs = _named(names, {
        "flows": _flows_value(names, flows),
        "src": src,
        "dst": dst,
        "branch": branch or "",
        "force": "true" if force else "false",
    })
    return _merge_extra(inputs, extra)


# --------------------------------------------------------------------------- runs


def parse_github_time(text: str) -> datetime:
    """GitHub's `2024-05-01T12:00:00Z` (and any ISO form) as an aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _actor_login(run: Mapping[str, Any]) -> str | None:
    for field in ("triggering_actor", "actor"):
        who = run.get(field)
        if isinstance(who, Mapping) and isinstance(who.get("login"), str):
            return who["login"]
    return None


def pick_dispatched_run(
    runs: Iterable[Mapping[str, Any]],
    dispatched_after: str,
    branch: str,
    actor: str | None = None,
    known_ids: Collection[int] = frozenset(),
    clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS,
) -> dict[str, Any] | None:
    """The run our dispatch created, or None if it is not listed yet.

    A candidate must be a `workflow_dispatch` run on `branch`, created no earlier
    than `dispatched_after` (less the skew allowance), by `actor` when known, and
    must not be one of `known_ids` (the runs listed just before dispatching). Of
    several candidates the *earliest* wins: a run that appeared after ours was
    started by someone after us, so "newest" is exactly the wrong rule.
    """
    since = parse_github_time(dispatched_after) - timedelta(seconds=clock_skew_seconds)
    known = set(known_ids)
    candidates: list[tuple[datetime, int, Mapping[str, Any]]] = []
    for run in runs:
        run_id = run.get("id")
        if not isinstance(run_id, int) or run_id in known:
            continue
        if run.get("event") != "workflow_dispatch" or run.get("head_branch") != branch:
            continue
        if actor is not None and _actor_login(run) not in (None, actor):
            continue
        created = run.get("created_at")
        if not isinstance(created, str):
            continue
        try:
            created_at = parse_github_time(created)
        except ValueError:
            continue
        if created_at < since:
            continue
        candidates.append((created_at, run_id, run))
    if not candidates:
        return None
    return dict(min(candidates, key=lambda c: (c[0], c[1]))[2])


_STATUS_WORDS = {
    "queued": "queued",
    "in_progress": "in progress",
    "waiting": "waiting for approval (environment protection rules)",
    "requested": "requested",
    "pending": "pending",
}


def run_outcome(run: Mapping[str, Any]) -> tuple[bool, bool, str]:
    """`(done, success, summary)` for a workflow run as GitHub describes it.

    Only `completed` is final. `waiting` gets its own words because a prod
    environment with required reviewers parks the run there until someone
    approves, which a user watching the run needs to know.
    """
    status = str(run.get("status") or "unknown")
    conclusion = run.get("conclusion")
    if status != "completed":
        return False, False, _STATUS_WORDS.get(status, status.replace("_", " "))
    conclusion_text = str(conclusion or "unknown")
    return True, conclusion_text == "success", f"completed: {conclusion_text.replace('_', ' ')}"


# --------------------------------------------------------------------------- errors


def describe_http_error(
    status: int | None,
    message: str,
    *,
    action: str,
    repo: RepoRef,
    workflow: str | None = None,
    run_id: int | None = None,
    api_url: str = "",
) -> str:
    """One line for an HTTP failure of `action` ("dispatch", "list runs", "read run").

    The wording says what to do next. `message` is GitHub's own explanation from
    the response body; the caller must have removed the token from it already
    (GitHub never echoes it, but we do not rely on that).
    """
    detail = " ".join(message.split())
    if len(detail) > 300:
        detail = detail[:297] + "..."
    where = repo.full_name
    if status == 401:
        return (
            "GitHub rejected the token (401): set GITHUB_TOKEN or GH_TOKEN to a token "
            "with actions:write"
        )
    if status == 403:
        if "rate limit" in detail.lower():
            return f"GitHub rate limit exceeded (403): {detail or 'try again later'}"
        return (
            f"GitHub refused access to {where} (403): the token needs actions:write"
            + (f"; GitHub says: {detail}" if detail else "")
        )
    if status == 404:
        if run_id is not None:
            return f"workflow run {run_id} not found in {where} (404)"
        target = f"workflow {workflow}" if workflow else "repository"
        return (
            f"{target} not found in {where} (404): check that .github/workflows/"
            f"{workflow or '<file>'} exists on the default branch and the token can see the "
            "repository"
        )
    if status == 422:
        return f"GitHub refused the inputs (422): {detail or 'no reason given'}"
    if status == 429:
        return f"GitHub rate limit exceeded (429): {detail or 'try again later'}"
    if status is not None and status >= 500:
        return f"GitHub is unavailable ({status}) while trying to {action}: try again later"
    if status is not None:
        return f"GitHub answered {status} while trying to {action}" + (
            f": {detail}" if detail else ""
        )
    at = f" at {strip_credentials(api_url)}" if api_url else ""
    return f"cannot reach GitHub{at} while trying to {action}" + (f": {detail}" if detail else "")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced, for messages built from foreign text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
