"""A loopback HTTP proxy in front of a real Prefect server that records every request.

Tests point a gateway (or Prefect's own client) at the proxy's URL instead of
the server's, and then count exactly what went over the wire: which requests,
how many, with which JSON bodies. Nothing is mocked: answers come from the server.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.frozen
class Recorded:
    method: str
    path: str  # without the API's base path, e.g. "/deployments/"
    body: Any  # parsed JSON, or None
    status: int = 0  # the server's answer (0 until it came back)


@attrs.define
class Recording:
    url: str = ""
    requests: list[Recorded] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def count(self, statuses: range | None = None) -> Counter[str]:
        """Requests per "METHOD /path", optionally only those answered with one of `statuses`."""
        with self.lock:
            return Counter(f"{r.method} {r.path}" for r in self.requests
                           if statuses is None or r.status in statuses)

    def bodies(self, method: str, path: str, statuses: range | None = None) -> list[Any]:
        """Bodies sent to "METHOD /path", optionally only of requests answered with `statuses`
        (a busy server's 503 makes a client send the same body again)."""
        with self.lock:
            return [r.body for r in self.requests if (r.method, r.path) == (method, path)
                    and (statuses is None or r.status in statuses)]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


@contextmanager
def recording_proxy(upstream_api_url: str) -> Iterator[Recording]:
    """Serve on 127.0.0.1 (a free port) until the block ends; forwards to `upstream_api_url`."""
    upstream = urllib.parse.urlsplit(upstream_api_url)
    base = upstream.path.rstrip("/")
    recording = Recording()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            path = self.path[len(base):] if self.path.startswith(base) else self.path
            parsed = json.loads(data) if data else None
            connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port,
                                                    timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "keep-alive")}
                connection.request(self.command, self.path, body=data, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
            finally:
                connection.close()
            with recording.lock:
                recording.requests.append(
                    Recorded(self.command, path.split("?")[0], parsed, answer.status))
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recording.url = f"http://127.0.0.1:{server.server_address[1]}{base}"
    try:
        yield recording
    finally:
        server.shutdown()
        server.server_close()
