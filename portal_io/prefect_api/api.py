"""One Prefect API: JSON calls with retries, pacing, timeouts and one-line errors.

Every failure becomes a `PrefectApiError` whose text is a single line naming
what we were doing, where, and why, with secret values and URL credentials
masked by the run's `Redactor` (servers echo request bodies in 422 answers and
some proxies echo headers, so error bodies may carry secrets).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import attrs

from portal_core.redaction import NO_SECRETS, Redactor
from portal_io.errors import PrefectApiError
from portal_io.prefect_api import transport
from portal_io.prefect_api.pacing import AdaptiveLimit, BudgetExhausted, backoff, retry_after_seconds
from portal_io.prefect_api.payloads import BadShape
from portal_io.prefect_api.transport import BadApiUrl, Endpoint, Response, Transport, TransportError

T = TypeVar("T")

OVERLOADED = frozenset({429, 503})
OVERLOAD_RETRIES = 30  # with a deadline the time budget bounds these first
READ_RETRIES = 8  # reads have no budget: a few seconds of 503s at most
CONNECTION_RETRIES = 4
DETAIL_LIMIT = 300




@attrs.frozen
class Timeouts:
    """Seconds per phase of a request, sized per kind of call.

    Connecting is quick on any healthy network, so a dead host fails in
    seconds; answers may take longer on a busy (SQLite) server.
    """

    connect: float = 5.0
    probe: float = 5.0  # GET /health, counts
    read: float = 30.0  # a page of up to 200 deployments
    write: float = 30.0  # one upsert
    budget_base: float = 60.0  # a deploy's whole write phase: this plus ...
    budget_per_write: float = 1.0  # ... this per write it has to make

    def budget(self, writes: int) -> float:
        return self.budget_base + self.budget_per_write * writes


_STATUS_HINTS = {
    401: "the API key was rejected; check PREFECT_API_KEY (or the env's api_key_env)",
    403: "the API key may not do this",
    429: "rate limited even after retries; lower write_concurrency",
    503: "the server stayed unavailable after retries (SQLite busy?); lower write_concurrency",
}


def _csrf_token(answer: Any) -> str:
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        raise BadShape("expected a CSRF token")
    return str(answer["token"])


class PrefectHttp:
    """Calls on one API URL; thread-safe (one keep-alive connection per thread)."""

    def __init__(self, api_url: str, api_key: str | None = None, redactor: Redactor | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.redactor = (redactor or NO_SECRETS).with_secrets([api_key] if api_key else [])
        self.sent: Counter[str] = Counter()  # "POST /flows/" -> how many requests went out
        self._lock = threading.Lock()
        self._reached = False  # did this server ever answer? then a refused connection is transient
        self._health: str | None = None  # cached answer of the /health probe
        self._last_busy = ""  # the last 429/503, named when a time budget runs out
        self.budget_seconds: float | None = None  # the current write phase's budget, for its line
        self._csrf: dict[str, str] = {}  # headers for a server with CSRF protection on
        self._csrf_client = str(uuid.uuid4())
        headers = {"Accept": "application/json", "User-Agent": "flowportal"}
        parts = urllib.parse.urlsplit(self.api_url)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        elif parts.username is not None:  # http://user:pass@host: basic auth, as httpx does
            userinfo = urllib.parse.unquote(f"{parts.username}:{parts.password or ''}")
            self.redactor = self.redactor.with_secrets([parts.password or ""])
            headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
        self._headers = headers
        self._transport: Transport | None = None
        self._bad_url: str | None = None
        try:
            self._transport = Transport(Endpoint.parse(self.api_url), headers, self.timeouts.connect)
        except BadApiUrl as err:
            self._bad_url = str(err)

    # ------------------------------------------------------------------ lines

    def fail(self, what: str, reason: str) -> PrefectApiError:
        """The one line for a failure, redacted."""
        return PrefectApiError(self.redactor.text(" ".join(f"{what}: {reason}".split())))

    def _where(self) -> str:
        return self.redactor.text(self.api_url)

    def _transport_reason(self, err: TransportError, read_timeout: float) -> str:
        where = self._where()
        if err.kind == transport.REFUSED:
            return f"cannot reach the Prefect API at {where}: connection refused (is the server running?)"
        if err.kind == transport.CONNECT_TIMEOUT:
            return (f"cannot reach the Prefect API at {where}: timed out connecting after "
                    f"{self.timeouts.connect:g} s (host down or blocked by a firewall?)")
        if err.kind == transport.NAME:
            host = urllib.parse.urlsplit(self.api_url).hostname
            return f"cannot reach the Prefect API at {where}: host name {host!r} not found"
        if err.kind == transport.UNREACHABLE:
            return f"cannot reach the Prefect API at {where}: {err.detail}"
        if err.kind == transport.READ_TIMEOUT:
            return f"the Prefect API at {where} timed out: no answer within {read_timeout:g} s"
        if err.kind == transport.TLS:
            return f"TLS error talking to {where}: {err.detail} (is the scheme right, https vs http?)"
        if err.kind == transport.PROTOCOL:
            return f"{where} did not answer in HTTP ({err.detail}); check the environment's prefect_api_url"
        return f"the Prefect API at {where} dropped the connection ({err.detail})"

    def _detail(self, body: bytes) -> str:
        """The `detail` of an error answer, redacted before it is shortened (a cut
        secret would no longer match) and parsed first (JSON escapes would hide it)."""
        try:
            data = json.loads(body)
            detail = data.get("detail", data) if isinstance(data, dict) else data
        except ValueError:
            detail = body.decode("utf-8", "replace")
        detail = self.redactor.data(detail)
        text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
        text = " ".join(self.redactor.text(text).split())
        return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 3] + "..."

    def _status_reason(self, response: Response) -> str:
        code = response.status
        if code == 404:
            hint = f"not found at {self._where()}; check the environment's prefect_api_url"
        elif code == 422:
            hint = f"the server refused the request: {self._detail(response.body)}"
        else:
            hint = _STATUS_HINTS.get(code) or self._detail(response.body) or "unexpected error"
        return f"Prefect API answered {code}: {hint}"

    def _not_prefect(self) -> str | None:
        """Why this URL is not a Prefect API, or None if GET /health says it is.

        Asked only when an answer looks wrong (HTML, 404, not JSON), so a healthy
        run never pays for it."""
        with self._lock:
            if self._health is not None:
                return self._health or None
        assert self._transport is not None
        try:
            response = self._transport.send("GET", "/health", None, self.timeouts.probe)
            ok = response.status == 200 and not response.is_html and json.loads(response.body) is True
            seen = "HTML" if response.is_html else f"{response.status}"
        except (TransportError, ValueError):
            ok, seen = False, "nothing usable"
        verdict = "" if ok else (
            f"{self._where()} is not a Prefect API (GET /health answered {seen}); "
            "check the environment's prefect_api_url (it usually ends in /api)")
        with self._lock:
            self._health = verdict
        return verdict or None

    # ------------------------------------------------------------------ calls

    def call(
        self,
        method: str,
        path: str,
        body: Any,
        what: str,
        parse: Callable[[Any], T],
        *,
        timeout: float,
        pacer: AdaptiveLimit | None = None,
        deadline: float | None = None,
        accept: Collection[int] = (),
    ) -> T | None:
        """Send one idempotent call until it succeeds or fails for good; the parsed answer.

        Retries: 429/503 (honouring Retry-After), and a dropped or refused
        connection once this server has answered before (a refusal on first
        contact means nothing listens: fail at once). A status in `accept`
        returns None (e.g. 409 "already exists" for a create).
        """
        if self._transport is None:
            raise self.fail(what, f"prefect_api_url {self._where()} is not usable: {self._bad_url}")
        data = None if body is None else json.dumps(body).encode()
        overloads = lost = 0
        csrf_tried = False
        while True:
            read_timeout, clamped = timeout, False
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._budget(what)
                read_timeout, clamped = min(timeout, remaining), remaining < timeout
            ticket = 0
            if pacer is not None:
                try:
                    ticket = pacer.acquire(deadline)
                except BudgetExhausted:
                    raise self._budget(what) from None
            with self._lock:
                self.sent[f"{method} {path}"] += 1
            try:
                response = self._transport.send(method, path, data, read_timeout, self._csrf)
            except TransportError as err:
                transient = err.kind == transport.RESET or (
                    err.kind == transport.REFUSED and self._reached)
                if pacer is not None:
                    pacer.release(ticket, overloaded=transient)
                if err.kind == transport.READ_TIMEOUT and clamped:
                    raise self._budget(what) from None
                if transient and lost < CONNECTION_RETRIES:
                    self._sleep(backoff(lost), deadline, what)
                    lost += 1
                    continue
                raise self.fail(what, self._transport_reason(err, read_timeout)) from None
            self._reached = True
            if response.status in OVERLOADED:
                wait = retry_after_seconds(response.header("Retry-After"))
                self._last_busy = self._status_reason(response)
                if pacer is not None:
                    # A first 503 is usually a write that lost the race for SQLite's
                    # write lock: retried at once, it succeeds; the pacer lowers its
                    # ceiling (overlapping writes only queue there). A request refused
                    # again, a 429 or a Retry-After is the server saying "too much": shrink.
                    shrink = response.status == 429 or wait is not None or overloads >= 1
                    pacer.release(ticket, overloaded=shrink, refused=True, retry_after=wait,
                                  contended=response.status == 503)
                limit = OVERLOAD_RETRIES if deadline is not None else READ_RETRIES
                if overloads < limit:
                    self._sleep(backoff(overloads) if wait is None else wait, deadline, what,
                                last=self._status_reason(response))
                    overloads += 1
                    continue
                raise self.fail(what, self._status_reason(response))
            if pacer is not None:
                pacer.release(ticket, succeeded=response.status < 400)
            if response.status == 403 and b"CSRF token" in response.body and not csrf_tried:
                csrf_tried = True
                self._fetch_csrf_token(what, timeout)
                continue
            return self._answer(response, what, parse, accept)

    def _fetch_csrf_token(self, what: str, timeout: float) -> None:
        """A server with CSRF protection on (PREFECT_SERVER_CSRF_PROTECTION_ENABLED) wants a
        token on every POST, as Prefect's client sends it; fetched when first refused
        (or when it expired), so servers without protection never pay for it."""
        assert self._transport is not None
        path = f"/csrf-token?client={self._csrf_client}"
        try:
            response = self._transport.send("GET", path, None, timeout)
        except TransportError as err:
            raise self.fail(what, self._transport_reason(err, timeout)) from None
        token = self._answer(response, what, _csrf_token, ())
        self._csrf = {"Prefect-Csrf-Token": str(token), "Prefect-Csrf-Client": self._csrf_client}

    def _answer(self, response: Response, what: str, parse: Callable[[Any], T],
                accept: Collection[int]) -> T | None:
        if response.status in accept:
            return None
        if response.is_html or response.status in (404, 405):
            verdict = self._not_prefect()
            if verdict:
                raise self.fail(what, verdict)
        if response.status >= 300:
            raise self.fail(what, self._status_reason(response))
        try:
            payload = json.loads(response.body)
        except ValueError:
            raise self.fail(what, f"the answer from {self._where()} is not JSON "
                                  f"({response.header('Content-Type') or 'no content type'})") from None
        try:
            return parse(payload)
        except BadShape as err:
            raise self.fail(what, f"unexpected answer from the Prefect API at {self._where()}: "
                                  f"{err}") from None

    def _sleep(self, seconds: float, deadline: float | None, what: str, last: str = "") -> None:
        """Wait before a retry (never holding a write slot); not past the budget."""
        if deadline is not None and time.monotonic() + seconds >= deadline:
            raise self._budget(what, last)
        time.sleep(seconds)

    def _budget(self, what: str, last: str = "") -> PrefectApiError:
        last = last or self._last_busy
        why = f" (last answer: {last})" if last else ""
        seconds = f" of {self.budget_seconds:g} s" if self.budget_seconds else ""
        return self.fail(what, f"not done: the time budget{seconds} for writing to "
                               f"{self._where()} ran out{why}")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
