"""How the Prefect gateway behaves when the API misbehaves.

A real Prefect server cannot be made to answer 401, HTML or a timed 503 on
demand, so these tests put a tiny HTTP stand-in on 127.0.0.1 in front of our
real gateway. Every failure must be one line that says why, never shows a
secret, and comes quickly: each test is bounded by short timeouts.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from portal_core.deployments import DeploymentSpec
from portal_core.redaction import Redactor
from portal_io.prefect_gateway import PrefectApiError, PrefectGateway, Timeouts

pytestmark = pytest.mark.integration

QUICK = Timeouts(connect=1.0, probe=1.0, read=1.0, write=1.0, budget_base=10.0, budget_per_write=0.0)
SECRET = 'pa"ss\\w0rd-Ünïcode-123'  # quotes, backslashes, non-ASCII: escaped differently in JSON
API_KEY = "pnu_this-key-must-not-be-shown"

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body (or bytes: sent as is), headers
HANG, DROP = "hang", "drop"


class StandIn:
    """Answers by route; by default a well-behaved, empty Prefect API."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        self.scripted: dict[str, list[Answer | str]] = {}  # "POST /deployments/" -> answers, in order
        self.fallback: Callable[[str, str, Any, dict[str, str]], Answer | str] | None = None
        self.url = ""
        self.targets: list[str] = []  # request targets as sent (absolute when sent to a proxy)
        self.release = threading.Event()  # ends HANG answers when the test is over

    def count(self, key: str) -> int:
        return sum(1 for method, path, _, _ in self.requests if f"{method} {path}" == key)

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer | str:
        key = f"{method} {path}"
        if self.scripted.get(key):
            return self.scripted[key].pop(0)
        if self.fallback is not None:
            return self.fallback(method, path, body, headers)
        if path == "/health":
            return 200, True, {}
        if path.endswith("/count"):
            return 200, 0, {}
        if path.endswith("/filter"):
            return 200, [], {}
        if method == "POST" and path in ("/flows/", "/deployments/", "/work_pools/"):
            return 201, {"id": f"id-{len(self.requests)}", **(body or {})}, {}
        return 404, {"detail": "Not Found"}, {}


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.targets.append(self.path)
            path = urllib.parse.urlsplit(self.path).path.removeprefix("/api")
            headers = dict(self.headers.items())
            state.requests.append((self.command, path, body, headers))
            answer = state.answer(self.command, path, body, headers)
            if answer == HANG:
                state.release.wait(10)
                return
            if answer == DROP:
                self.close_connection = True
                return
            assert not isinstance(answer, str)
            code, payload, extra = answer
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(code)
            if not isinstance(payload, bytes):
                self.send_header("Content-Type", "application/json")
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens


def spec(name: str = "proj--main--alpha--dev", secret: str = SECRET) -> DeploymentSpec:
    marked: dict[str, Any] = {"secret_names": {"TOKEN"}}  # (attrs' frozenset converter confuses mypy)
    return DeploymentSpec(name=name, flow_name="alpha", entrypoint="flows/alpha.py:alpha",
                          work_pool_name="pool", job_variables={"env": {"TOKEN": secret, "A": "b"}},
                          flow_key="alpha", **marked)


def one_line(err: pytest.ExceptionInfo[PrefectApiError] | str) -> str:
    message = err if isinstance(err, str) else str(err.value)
    assert "\n" not in message
    assert "Traceback" not in message and "Error:" not in message.split(":", 1)[0]
    return message


# ---------------------------------------------------------------- retries


def test_503_with_retry_after_is_retried_until_it_succeeds(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/filter"] = [(503, {"detail": "busy"}, {"Retry-After": "0"})] * 2
    assert PrefectGateway(stand_in.url).read_deployments() == []
    assert stand_in.count("POST /deployments/filter") == 3


def test_writes_retry_503_and_429_and_none_is_lost(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [
        (503, {"detail": "busy"}, {}), (429, {"detail": "slow down"}, {"Retry-After": "0.05"}),
        (503, {"detail": "busy"}, {"Retry-After": "0"})]
    specs = [spec(f"proj--main--alpha-{i}--dev") for i in range(5)]
    results = PrefectGateway(stand_in.url, write_concurrency=4, timeouts=QUICK).apply(specs)
    assert [r.error for r in results] == [None] * 5
    assert stand_in.count("POST /deployments/") == 5 + 3
    assert stand_in.count("POST /flows/") == 1  # one new flow, however many deployments


def test_a_dropped_connection_is_retried_for_an_idempotent_upsert(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [DROP]
    (result,) = PrefectGateway(stand_in.url, timeouts=QUICK).apply([spec()])
    assert result.ok, result.error
    assert stand_in.count("POST /deployments/") == 2


def test_a_server_that_stays_busy_ends_within_the_time_budget(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [(503, {"detail": "busy"}, {"Retry-After": "0.2"})] * 1000
    budget = Timeouts(connect=1.0, probe=1.0, read=1.0, write=1.0, budget_base=1.5, budget_per_write=0.0)
    started = time.monotonic()
    results = PrefectGateway(stand_in.url, write_concurrency=2, timeouts=budget).apply(
        [spec(f"proj--main--b{i}--dev") for i in range(3)])
    assert time.monotonic() - started < 5  # the budget is 1.5 s
    assert not any(r.ok for r in results)
    for result in results:
        assert "time budget" in one_line(result.error or "")
        assert "503" in (result.error or "")


# ---------------------------------------------------------------- one line per reason


def test_401_is_one_clear_line_without_the_key(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/filter"] = [(401, {"detail": f"bad key {API_KEY}"}, {})]
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(stand_in.url, api_key=API_KEY).read_deployments()
    message = one_line(failure)
    assert "401" in message and "API key" in message
    assert API_KEY not in message


def test_connection_refused_is_one_line_with_the_url_password_masked() -> None:
    url = f"http://admin:hunter2-pw@127.0.0.1:{free_port()}/api"
    started = time.monotonic()
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(url, timeouts=QUICK).read_deployments()
    assert time.monotonic() - started < 2  # a refusal at first contact is not retried
    message = one_line(failure)
    assert "cannot reach the Prefect API" in message and "connection refused" in message
    assert "hunter2-pw" not in message and "admin:<secret>@127.0.0.1" in message


def test_wrong_scheme_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway("ftp://127.0.0.1:21/api").read_deployments()
    assert time.monotonic() - started < 1
    assert "must be http:// or https://, not ftp" in one_line(failure)


def test_connect_timeout_is_its_own_line() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # nobody accepts: once the backlog is full, connects hang
        address = listener.getsockname()
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.settimeout(0.2)
            with contextlib.suppress(OSError):
                filler.connect(address)
            fillers.append(filler)
        try:
            with pytest.raises(PrefectApiError) as failure:
                PrefectGateway(f"http://127.0.0.1:{address[1]}/api", timeouts=QUICK).read_deployments()
        finally:
            for filler in fillers:
                filler.close()
    assert "timed out connecting after 1 s" in one_line(failure)


def test_read_timeout_is_its_own_line(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [HANG]
    started = time.monotonic()
    (result,) = PrefectGateway(stand_in.url, timeouts=QUICK).apply([spec()])
    assert time.monotonic() - started < 5
    assert "timed out: no answer within 1 s" in one_line(result.error or "")


def test_tls_error_is_its_own_line(stand_in: StandIn) -> None:
    https = stand_in.url.replace("http://", "https://")  # TLS spoken to a plain-HTTP server
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(https, timeouts=QUICK).read_deployments()
    assert "TLS error talking to https://127.0.0.1" in one_line(failure)


def test_an_html_site_is_not_a_prefect_api(stand_in: StandIn) -> None:
    stand_in.fallback = lambda *_: (200, b"<!doctype html><html><body>Welcome</body></html>",
                                    {"Content-Type": "text/html"})
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(stand_in.url, timeouts=QUICK).read_deployments()
    message = one_line(failure)
    assert "is not a Prefect API (GET /health answered HTML)" in message
    assert "usually ends in /api" in message


def test_404_everywhere_is_not_a_prefect_api(stand_in: StandIn) -> None:
    stand_in.fallback = lambda *_: (404, {"detail": "Not Found"}, {})
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(stand_in.url, timeouts=QUICK).missing_work_pools(["pool"])
    assert "is not a Prefect API (GET /health answered 404)" in one_line(failure)


@pytest.mark.parametrize("wrong", [{"unexpected": True}, [{"no": "id"}], "text", None])
def test_a_200_of_the_wrong_shape_is_one_line(stand_in: StandIn, wrong: Any) -> None:
    stand_in.scripted["POST /deployments/filter"] = [(200, wrong, {})]
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(stand_in.url, timeouts=QUICK).read_deployments()
    message = one_line(failure)
    assert "unexpected answer from the Prefect API" in message and "deployments" in message
    assert "KeyError" not in message and "TypeError" not in message


def test_a_write_answer_of_the_wrong_shape_is_one_line(stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [(200, {"ok": True}, {})]
    (result,) = PrefectGateway(stand_in.url, timeouts=QUICK).apply([spec()])
    assert "unexpected answer from the Prefect API" in one_line(result.error or "")
    assert "expected a deployment with an id" in (result.error or "")


# ---------------------------------------------------------------- secrets


def test_a_422_echoing_the_secret_env_never_shows_the_secret(stand_in: StandIn) -> None:
    def echo(method: str, path: str, body: Any, headers: dict[str, str]) -> Answer | str:
        if path == "/deployments/":
            return 422, {"detail": [{"loc": ["body", "job_variables"], "msg": "bad",
                                     "input": body["job_variables"]}]}, {}
        return StandIn().answer(method, path, body, headers)

    stand_in.fallback = echo
    (result,) = PrefectGateway(stand_in.url, timeouts=QUICK).apply([spec()])
    message = one_line(result.error or "")
    assert "422" in message and "<secret>" in message
    assert SECRET not in message and json.dumps(SECRET)[1:-1] not in message
    assert "pa" + '\\"ss' not in message  # no JSON-escaped fragment of it either


def test_an_echoed_authorization_header_never_shows_the_key(stand_in: StandIn) -> None:
    def echo(method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        return 400, {"detail": f"bad request; headers were {headers}"}, {}

    stand_in.fallback = echo
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(stand_in.url, api_key=API_KEY, timeouts=QUICK).read_deployments()
    message = one_line(failure)
    assert "400" in message and "Bearer <secret>" in message and API_KEY not in message


def test_run_secrets_given_by_the_caller_are_masked_too(stand_in: StandIn) -> None:
    stand_in.fallback = lambda *_: (500, {"detail": "db password is s3cret-db-pw"}, {})
    gateway = PrefectGateway(stand_in.url, redactor=Redactor(("s3cret-db-pw",)), timeouts=QUICK)
    with pytest.raises(PrefectApiError) as failure:
        gateway.missing_work_pools(["pool"])
    assert "s3cret-db-pw" not in one_line(failure) and "<secret>" in str(failure.value)


def test_a_long_error_is_shortened_after_masking(stand_in: StandIn) -> None:
    long_secret = "x" * 40 + "-secret-value-" + "y" * 40
    detail = "a" * 280 + long_secret  # a cut at 300 characters would split the secret
    stand_in.scripted["POST /deployments/"] = [(400, {"detail": detail}, {})]
    (result,) = PrefectGateway(stand_in.url, timeouts=QUICK).apply([spec(secret=long_secret)])
    message = one_line(result.error or "")
    assert "-secret-value-" not in message and "x" * 20 not in message


# ---------------------------------------------------------------- CSRF


def test_a_server_with_csrf_protection_gets_a_token_once(stand_in: StandIn) -> None:
    """Like Prefect's client: fetch a token for our client id, send it on every POST."""
    tokens: list[str] = []

    def csrf(method: str, path: str, body: Any, headers: dict[str, str]) -> Answer | str:
        if path == "/csrf-token":
            tokens.append("token-1")
            client = stand_in.requests[-1][1]  # (the query string is not recorded)
            return 200, {"token": "token-1", "client": client, "expiration": "2099-01-01T00:00:00Z"}, {}
        if method == "POST" and headers.get("Prefect-Csrf-Token") != "token-1":
            return 403, {"detail": "Missing CSRF token."}, {}
        return StandIn().answer(method, path, body, headers)

    stand_in.fallback = csrf
    results = PrefectGateway(stand_in.url, timeouts=QUICK).apply(
        [spec(f"proj--main--c{i}--dev") for i in range(3)])
    assert [r.error for r in results] == [None] * 3
    assert tokens == ["token-1"]
    posted = [h for m, p, _, h in stand_in.requests if m == "POST" and p == "/deployments/"]
    assert len(posted) == 3 and all(h.get("Prefect-Csrf-Client") for h in posted)


def test_a_single_503_is_retried_and_lowers_the_ceiling_by_one_a_429_halves_the_window(
        stand_in: StandIn) -> None:
    stand_in.scripted["POST /deployments/"] = [(503, {"detail": "lost the race for the lock"}, {})]
    gateway = PrefectGateway(stand_in.url, write_concurrency=4, timeouts=QUICK)
    assert all(r.ok for r in gateway.apply([spec(f"proj--main--w{i}--dev") for i in range(4)]))
    assert gateway.last_pacing is not None
    assert (gateway.last_pacing.refusals, gateway.last_pacing.decreases) == (1, 1)
    assert gateway.last_pacing.lowest == 3  # one less, not halved

    stand_in.scripted["POST /deployments/"] = [(429, {"detail": "slow down"}, {})]
    assert all(r.ok for r in gateway.apply([spec(f"proj--main--v{i}--dev") for i in range(4)]))
    assert (gateway.last_pacing.refusals, gateway.last_pacing.decreases) == (1, 1)
    assert gateway.last_pacing.lowest == 2


def test_an_http_proxy_from_the_environment_is_used(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """As Prefect's client (httpx) does: HTTP(S)_PROXY and NO_PROXY from the environment."""
    proxy = stand_in.url.removesuffix("/api")
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "")
    assert PrefectGateway("http://prefect.example.invalid/api", timeouts=QUICK).read_deployments() == []
    assert stand_in.targets[0].startswith("http://prefect.example.invalid/api/deployments/")

    stand_in.targets.clear()
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")
    with pytest.raises(PrefectApiError, match="connection refused"):  # bypassed: straight to a dead port
        PrefectGateway(f"http://127.0.0.1:{free_port()}/api", timeouts=QUICK).read_deployments()
    assert stand_in.targets == []
