"""Error types raised by the core.

They carry enough structure (a key path, the offending value) for the shell to
turn them into one clear line that names file, line and key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest candidate, so a typo's fix is in the error line."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class PortalError(Exception):
    """Base of every error the tool reports as one line instead of a traceback."""


class NameRuleError(PortalError, ValueError):
    """A value cannot be turned into a legal Prefect name (e.g. it slugs to nothing)."""


class TagError(PortalError, ValueError):
    """A tag is not of the `KEY=VALUE` form where one is required."""


class ConfigError(PortalError):
    """Configuration data does not have the expected shape.

    `path` is the sequence of keys/indexes leading to the problem, so the shell can
    look up its line and column in the YAML document it came from.
    """

    def __init__(self, message: str, path: tuple[str | int, ...] = (), source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.source = source

    def __str__(self) -> str:
        where = self.source or "config"
        if self.path:
            where += f": {'.'.join(str(p) for p in self.path)}"
        return f"{where}: {self.message}"


class DiscoveryError(PortalError):
    """Flow discovery found something that makes its result unusable (e.g. key collisions)."""


class UsageError(PortalError, TypeError):
    """A caller passed an argument of the wrong kind (e.g. None where a name is needed)."""


class PlanError(PortalError):
    """A plan cannot be made: one line per problem in `problems`, nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
