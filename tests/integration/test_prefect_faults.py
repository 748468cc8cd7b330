"""How the Prefect gateway behaves when the API misbehaves.

A real Prefect server cannot be made to answer 401 or a timed 503 on demand, so
these tests put a tiny HTTP stand-in on 127.0.0.1 in front of the real
Prefect client and our real gateway.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal_io.prefect_gateway import PrefectApiError, PrefectGateway

pytestmark = pytest.mark.integration


class Script:
    """Answers to give, in order, for POST /api/deployments/filter; then 200 []."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers = answers
        self.requests: list[str] = []


@pytest.fixture
def stand_in() -> Iterator[tuple[str, Script]]:
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            script.requests.append(self.path)
            if self.path.endswith("/deployments/filter") and script.answers:
                code, headers = script.answers.pop(0)
                self._send(code, {"detail": "scripted"}, headers)
            else:
                self._send(200, [])

        def do_GET(self) -> None:
            script.requests.append(self.path)
            if "/csrf-token" in self.path:  # like a server with CSRF protection off
                self._send(422, {"detail": "CSRF protection is disabled."})
            else:
                self._send(200, True)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", script
    finally:
        server.shutdown()
        server.server_close()


def test_503_with_retry_after_is_retried_until_it_succeeds(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    script.answers = [(503, {"Retry-After": "0"}), (503, {"Retry-After": "0"})]
    assert PrefectGateway(url).read_deployments() == []
    assert script.requests.count("/api/deployments/filter") == 3


def test_401_is_one_clear_line_without_the_key(stand_in: tuple[str, Script]) -> None:
    url, script = stand_in
    script.answers = [(401, {})]
    key = "pnu_this-key-must-not-be-shown"
    with pytest.raises(PrefectApiError) as failure:
        PrefectGateway(url, api_key=key).read_deployments()
    message = str(failure.value)
    assert "401" in message and "API key" in message
    assert "\n" not in message and key not in message


def test_unreachable_server_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    url = f"http://127.0.0.1:{port}/api"
    with pytest.raises(PrefectApiError, match="cannot reach the Prefect API"):
        PrefectGateway(url).read_deployments()
