"""The invoke task collection shared by `tasks.py` and the `flowportal` console script.

Importing it must stay cheap (no `prefect`): task bodies import what they need.
The collection itself (`namespace`) is built on first access, so that the
modules of tasks the console script runs without invoke (`flowportal.tasks.without_invoke`)
can be imported without importing invoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invoke.collection import Collection

    namespace: Collection


__all__ = ["namespace"]  # `from flowportal.tasks import *` still gets it (built then)


def _build() -> Collection:
    from invoke.collection import Collection

    from flowportal.tasks import server
    from flowportal.tasks.checks import check_config
    from flowportal.tasks.deployments import DEPLOY, LIST_DEPLOYMENTS
    from flowportal.tasks.flows import LIST_FLOWS
    from flowportal.tasks.lifecycle import drift, history, prune, rollback
    from flowportal.tasks.promotion import DIFF, PROMOTE
    from flowportal.tasks.setup import init

    return Collection(
        init, LIST_FLOWS.invoke_task(), LIST_DEPLOYMENTS.invoke_task(), DEPLOY.invoke_task(),
        PROMOTE.invoke_task(), DIFF.invoke_task(), check_config, server.ns, history, rollback, drift, prune,
    )


def __getattr__(name: str) -> Any:
    if name == "namespace":
        built = _build()
        globals()["namespace"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
