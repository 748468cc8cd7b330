"""The Prefect API, behind a few narrow methods (see `portal_io.prefect_api`).

The use cases see `DeployedState`/`DeploymentSpec` values only. Reads and
writes go over plain HTTP, so no command imports `prefect` to talk to a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from portal_io.prefect_api import PrefectApiError, PrefectGateway, Timeouts

__all__ = ["PrefectApiError", "PrefectGateway", "Timeouts", "parameter_schemas"]


def parameter_schemas(root: Path, entrypoints: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """Each flow's parameter schema, read from source by Prefect without running the module.

    A flow whose signature Prefect cannot read gets None (the server then accepts
    any parameters) rather than failing the whole deploy.
    """
    import warnings

    from prefect.utilities.callables import parameter_schema_from_entrypoint

    schemas: dict[str, dict[str, Any] | None] = {}
    for entrypoint in entrypoints:
        path, _, function = entrypoint.rpartition(":")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydantic's "shadows an attribute" noise
                schema = parameter_schema_from_entrypoint(f"{root / path}:{function}")
            schemas[entrypoint] = schema.model_dump_for_openapi()
        except Exception:
            schemas[entrypoint] = None
    return schemas
