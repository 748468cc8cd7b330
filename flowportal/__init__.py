"""flowportal: deploy Prefect flows per environment and promote the exact tested version.

`from flowportal import Portal` is the Python entry point. Importing this
package is cheap: nothing here imports `prefect`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flowportal.portal import Portal

__all__ = ["Portal", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Portal":
        from flowportal.portal import Portal

        return Portal
    raise AttributeError(name)
