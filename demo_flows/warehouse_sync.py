"""A flow whose module needs a package that is not installed here.

Discovery never imports user code, so this flow is still listed; only a worker
that runs it needs the dependency.
"""

from __future__ import annotations

import snowflake_connector_that_is_not_installed  # type: ignore[import-not-found]
from prefect import flow


@flow
def warehouse_sync(schema: str = "analytics") -> int:
    """Copy tables into the warehouse."""
    connection = snowflake_connector_that_is_not_installed.connect(schema=schema)
    return int(connection.sync())
