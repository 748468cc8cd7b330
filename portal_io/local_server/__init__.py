"""Lifecycle of the embedded local Prefect server.

With no Prefect API configured, flowportal starts one `prefect server start`
process per project and reuses it from every later command. The package is
split by concern:

- `rules`: the pure decisions (is that process ours, which port, reuse,
  refuse or replace, what the server's environment holds), unit-tested;
- `record`: `server.json`, the record later commands find the server by;
- `files`: the private state directory, the command lock, the server's
  database lock and the log;
- `net`: loopback probes (free port, /health, whose server answers);
- `process`: spawning, describing and stopping the server process;
- `server`: `LocalServer`, which gathers facts, applies the rules and acts.

Imported by every command that might need an API, including ones that never
do, so it uses only the standard library and attrs: no prefect, no httpx.
POSIX only: process groups, signals, `fcntl.flock`, /proc where present.
"""

from __future__ import annotations

from portal_io.local_server.errors import LocalServerError, PortTakenError
from portal_io.local_server.rules import DEFAULT_PORT
from portal_io.local_server.server import LocalServer, ServerStatus

__all__ = ["DEFAULT_PORT", "LocalServer", "LocalServerError", "PortTakenError", "ServerStatus"]
