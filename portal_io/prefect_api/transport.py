"""HTTP to one Prefect API with the standard library only.

Why not Prefect's client: importing it costs ~1.5 s and its retry loop sleeps
while holding our write slot. Why not httpx (installed with Prefect): importing
it costs ~0.2 s and we need nothing it adds. `http.client` gives keep-alive
connections (one per worker thread, so a deploy does one TCP/TLS handshake per
thread, not per request), a connect timeout distinct from the read timeout,
and exceptions precise enough to say in one line *why* a call failed.

Proxies from the environment (`HTTP(S)_PROXY`, `NO_PROXY`) are honoured like
Prefect's own client does, so a machine that reaches Prefect Cloud through a
proxy keeps working.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import sys
import threading
import urllib.parse
from collections.abc import Mapping

import attrs

# What went wrong, as a short reason the gateway turns into one line.
REFUSED = "refused"
CONNECT_TIMEOUT = "connect-timeout"
READ_TIMEOUT = "read-timeout"
TLS = "tls"
NAME = "name"
RESET = "reset"
PROTOCOL = "protocol"
UNREACHABLE = "unreachable"

# Failures after which the same request may simply be sent again (the server
# dropped a connection, or refused one while restarting).
CONNECTION_LOST = frozenset({REFUSED, RESET})


class TransportError(Exception):
    """A request got no HTTP answer; `kind` says why, `detail` is the low-level reason."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class BadApiUrl(ValueError):
    """The API URL itself is unusable (wrong scheme, no host)."""


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def is_html(self) -> bool:
        kind = (self.header("Content-Type") or "").lower()
        return "html" in kind or self.body.lstrip()[:1] == b"<"


@attrs.frozen
class Endpoint:
    """Where requests go: scheme, host, port, base path, and a proxy if any."""

    scheme: str
    host: str
    port: int
    base_path: str
    proxy: tuple[str, int] | None = None

    @classmethod
    def parse(cls, api_url: str, proxies: Mapping[str, str] | None = None) -> Endpoint:
        parts = urllib.parse.urlsplit(api_url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise BadApiUrl(f"the scheme must be http:// or https://, not {scheme or 'missing'}")
        try:
            port = parts.port
        except ValueError as err:
            raise BadApiUrl(f"the port is not a number ({err})") from None
        if not parts.hostname:
            raise BadApiUrl("it names no host")
        port = port or (443 if scheme == "https" else 80)
        proxy = _proxy_for(scheme, parts.hostname, proxies)
        return cls(scheme, parts.hostname, port, parts.path.rstrip("/"), proxy)

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def _proxy_for(scheme: str, host: str, proxies: Mapping[str, str] | None) -> tuple[str, int] | None:
    if proxies is None:
        if sys.platform.startswith("linux") and not any(name.lower().endswith("_proxy") for name in os.environ):
            return None  # what `getproxies` finds on Linux, without importing urllib.request
        import urllib.request

        proxies = urllib.request.getproxies()
        if not proxies or urllib.request.proxy_bypass(host):
            return None
    proxy_url = proxies.get(scheme)
    if not proxy_url:
        return None
    parts = urllib.parse.urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or 80


class Transport:
    """Sends requests to one endpoint over per-thread keep-alive connections."""

    def __init__(self, endpoint: Endpoint, headers: Mapping[str, str], connect_timeout: float) -> None:
        self.endpoint = endpoint
        self._headers = dict(headers)
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []
        self._tls = ssl.create_default_context() if endpoint.scheme == "https" else None

    # ------------------------------------------------------------ connections

    def _new_connection(self) -> http.client.HTTPConnection:
        end = self.endpoint
        host, port = end.proxy or (end.host, end.port)
        connection: http.client.HTTPConnection
        if self._tls is not None:
            connection = http.client.HTTPSConnection(host, port, timeout=self._connect_timeout,
                                                     context=self._tls)
            if end.proxy:
                connection.set_tunnel(end.host, end.port)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        try:
            connection.connect()
        except BaseException as err:
            connection.close()
            raise _connect_failure(err) from err
        with self._lock:
            self._open.append(connection)
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            connection.close()

    # ------------------------------------------------------------ requests

    def target(self, path: str) -> str:
        """The request target: a path, or an absolute URL when talking to a plain-HTTP proxy."""
        full = self.endpoint.base_path + path
        if self.endpoint.proxy and self.endpoint.scheme == "http":
            return self.endpoint.origin + full
        return full

    def send(self, method: str, path: str, body: bytes | None, read_timeout: float,
             headers: Mapping[str, str] | None = None) -> Response:
        """One request and its whole answer; a kept-alive connection the server has
        meanwhile closed is replaced once, transparently (nothing was processed)."""
        reused: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if reused is not None and reused.sock is None:  # closed meanwhile by `close()`
            self._drop(reused)
            reused = None
        if reused is not None:
            try:
                return self._exchange(reused, method, path, body, read_timeout, headers)
            except _StaleConnection:
                self._drop(reused)
        connection = self._new_connection()
        self._local.connection = connection
        try:
            return self._exchange(connection, method, path, body, read_timeout, headers)
        except _StaleConnection as err:
            raise TransportError(RESET, err.detail) from None

    def _exchange(self, connection: http.client.HTTPConnection, method: str, path: str,
                  body: bytes | None, read_timeout: float,
                  extra: Mapping[str, str] | None) -> Response:
        headers = {**self._headers, **(extra or {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
        sent = False
        try:
            if connection.sock is not None:
                connection.sock.settimeout(read_timeout)
            connection.request(method, self.target(path), body=body, headers=headers)
            sent = True
            answer = connection.getresponse()
            data = answer.read()
        except BaseException as err:
            self._drop(connection)
            stale = isinstance(err, (http.client.RemoteDisconnected, ConnectionResetError,
                                     BrokenPipeError, ConnectionAbortedError))
            if stale and (not sent or isinstance(err, http.client.RemoteDisconnected)):
                raise _StaleConnection(str(err) or type(err).__name__) from err
            raise _exchange_failure(err) from err
        if answer.will_close:
            self._drop(connection)
        return Response(answer.status, dict(answer.getheaders()), data)


class _StaleConnection(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _connect_failure(err: BaseException) -> BaseException:
    if isinstance(err, ConnectionRefusedError):
        return TransportError(REFUSED, "connection refused")
    if isinstance(err, TimeoutError):
        return TransportError(CONNECT_TIMEOUT, "no connection")
    if isinstance(err, ssl.SSLError):
        return TransportError(TLS, _tls_reason(err))
    if isinstance(err, socket.gaierror):
        return TransportError(NAME, "host name not found")
    if isinstance(err, (ConnectionError, http.client.HTTPException)):
        return TransportError(RESET, str(err) or type(err).__name__)
    if isinstance(err, OSError):
        return TransportError(UNREACHABLE, err.strerror or str(err))
    return err


def _exchange_failure(err: BaseException) -> BaseException:
    if isinstance(err, TimeoutError):
        return TransportError(READ_TIMEOUT, "no answer")
    if isinstance(err, ssl.SSLError):
        return TransportError(TLS, _tls_reason(err))
    if isinstance(err, ConnectionError):
        return TransportError(RESET, str(err) or type(err).__name__)
    if isinstance(err, http.client.HTTPException):
        return TransportError(PROTOCOL, type(err).__name__)
    if isinstance(err, OSError):
        return TransportError(UNREACHABLE, err.strerror or str(err))
    return err


def _tls_reason(err: ssl.SSLError) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({err.verify_message})"
    return (err.reason or str(err)).replace("_", " ").lower()
