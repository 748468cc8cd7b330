"""Errors of the effects: something outside the tool failed (a server, git, a file).

Rule violations (bad config, a plan that cannot be made, a bad argument) live
in `portal_core.errors`; these are the failures of the world the adapters talk
to. All are `PortalError`s, so the CLI turns each into one line.
"""

from __future__ import annotations

from portal_core.errors import PortalError


class PrefectApiError(PortalError):
    """The Prefect API could not be reached or refused a request."""


class HistoryError(PortalError):
    """The change history could not be read or written."""


class GitError(PortalError):
    """git could not tell what the checkout is (branch, commit, status)."""


class GitReadError(PortalError):
    """git could not read another branch, a remote or a file at a commit."""


class LocalServerError(PortalError):
    """The embedded server could not be started, reused or stopped; the message says why."""


class PortTakenError(LocalServerError):
    """Another server bound our port between our check and our server's bind."""
