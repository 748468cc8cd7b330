"""Loopback probes: is a port free, does a server answer, whose server is it.

Standard library only (no httpx): this package is imported by every command
that might need an API, including ones that never do.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request

from portal_io.local_server.errors import LocalServerError


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def api_url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}/api"


def port_free(host: str, port: int) -> bool:
    """Whether the server could bind `host:port` right now.

    Binds the way uvicorn does (SO_REUSEADDR), so a port left in TIME_WAIT by
    a server we just stopped counts as free, exactly as it will for uvicorn.
    """
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LocalServerError(f"cannot resolve host {host!r}: {exc}") from exc
    family, socktype, proto, _, address = infos[0]
    with socket.socket(family, socktype, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def spare_port(host: str, avoid: int) -> int:
    """A port the OS says is free now (bind to port 0), never `avoid`; small race accepted."""
    family = socket.getaddrinfo(host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][0]
    for _ in range(5):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port != avoid:
            return port
    raise LocalServerError(f"the OS keeps handing out port {avoid} on {host}; pass --port")


def _opener() -> urllib.request.OpenerDirector:
    # Proxies bypassed explicitly: an http_proxy without a matching no_proxy
    # would otherwise send a loopback health check to the proxy.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def health_ok(url: str, timeout: float) -> bool:
    """Whether `GET <url>/health` answers `true` within `timeout` seconds."""
    try:
        with _opener().open(f"{url}/health", timeout=max(timeout, 0.05)) as response:
            return response.status == 200 and response.read(64).strip() == b"true"
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
        # Refused, reset, timed out, HTTP error, not HTTP at all: "not healthy (yet)".
        return False


def served_home(url: str, timeout: float) -> str | None:
    """PREFECT_HOME of the server answering at `url` (None if it does not say).

    A health check alone cannot tell our server from another one that grabbed
    the same port; the home directory can.
    """
    try:
        with _opener().open(f"{url}/admin/settings", timeout=max(timeout, 0.05)) as response:
            home = json.loads(response.read()).get("home")
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError, AttributeError):
        return None
    return str(home) if isinstance(home, str) else None
