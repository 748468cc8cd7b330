"""The Prefect API, behind a few narrow methods (see `portal_io.prefect_api`).

The use cases see `DeployedState`/`DeploymentSpec` values only. Reads and
writes go over plain HTTP, so no command imports `prefect` to talk to a server.
"""

from __future__ import annotations

from portal_io.prefect_api import PrefectApiError, PrefectGateway, Timeouts

__all__ = ["PrefectApiError", "PrefectGateway", "Timeouts"]
