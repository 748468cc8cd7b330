"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import settings

from portal_io.local_server import LocalServer

# --------------------------------------------------------------------------- hypothesis profiles
#
# The only place profiles are registered. `quick` (the default) keeps a local
# `scripts/test unit` run short enough to run on every change; `thorough` is
# what CI runs (`HYPOTHESIS_PROFILE=thorough`, or `--hypothesis-profile
# thorough`, which the hypothesis pytest plugin applies after this file is
# imported, so the option wins over the variable). Tests do not set
# `max_examples` themselves: the profile governs them all, and a test that
# deserves more examples asks for a multiple of the profile's number
# (`examples(2)`), so it keeps its extra weight under both profiles.
# No deadline in either profile: data generation time varies with machine
# load, and a flaky "too slow" is not a finding about the code.
# `HYPOTHESIS_DERANDOMIZE=1` (set by `.ci/run`) makes either profile draw the same
# examples on every run: CI is a gate, so red there must mean "this change broke a
# law", never "this run drew a new example". Exploration with fresh randomness is
# what every local run does, and what it finds becomes a fix before it lands.
_fixed = os.environ.get("HYPOTHESIS_DERANDOMIZE") == "1"
settings.register_profile("quick", max_examples=30, deadline=None, derandomize=_fixed)
settings.register_profile("thorough", max_examples=200, deadline=None, print_blob=True,
                          derandomize=_fixed)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "quick")


def free_port() -> int:
    """A loopback port nobody is listening on right now (tiny race accepted).

    Tests never use 4200: a developer's own Prefect server may be there.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Database of the session's server: unset means a fresh SQLite file; CI sets a
#: PostgreSQL URL (`postgresql+asyncpg://...`) to run the integration suite on
#: the other backend Prefect supports.
DATABASE_URL_VARIABLE = "FLOWPORTAL_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """API URL of one real local Prefect server shared by the whole session.

    Starting a server costs ~8 s with a new database, so every test that needs
    an API shares this one; tests must therefore use unique names for what they
    create (which also makes a reused PostgreSQL database safe). The server
    lives in a temporary directory and is stopped by pid at the end of the
    session, even if tests fail.
    """
    server = LocalServer(
        tmp_path_factory.mktemp("prefect-server"),
        port=free_port(),
        database_url=os.environ.get(DATABASE_URL_VARIABLE) or None,
    )
    url = server.ensure_running(timeout=120)
    try:
        yield url
    finally:
        server.stop()
