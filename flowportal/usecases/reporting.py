"""How use cases tell their caller what is happening, without printing themselves."""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def plan(self, plan: Any) -> None: ...
    def step(self, message: str) -> None: ...
    def status(self, message: str) -> None: ...
    def applied(self, result: Any) -> None: ...
    def warning(self, message: str) -> None: ...


class SilentReporter:
    """For the Python facade: results come back as values."""

    def plan(self, plan: Any) -> None:
        pass

    def step(self, message: str) -> None:
        """Progress of our own work (connecting, starting a server, creating a pool)."""

    def status(self, message: str) -> None:
        """The state of something long-running elsewhere (a workflow run) as it changes."""

    def applied(self, result: Any) -> None:
        pass

    def warning(self, message: str) -> None:
        pass
