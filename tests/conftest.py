"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from portal_io.local_server import LocalServer


def free_port() -> int:
    """A loopback port nobody is listening on right now (tiny race accepted).

    Tests never use 4200: a developer's own Prefect server may be there.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """API URL of one real local Prefect server shared by the whole session.

    Starting a server costs ~8 s with a new database, so every test that needs
    an API shares this one; tests must therefore use unique names for what they
    create. The server lives in a temporary directory and is stopped by pid at
    the end of the session, even if tests fail.
    """
    server = LocalServer(tmp_path_factory.mktemp("prefect-server"), port=free_port())
    url = server.ensure_running(timeout=120)
    try:
        yield url
    finally:
        server.stop()
