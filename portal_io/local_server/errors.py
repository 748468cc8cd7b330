"""Errors of the embedded server's lifecycle, each reported as one line."""

from __future__ import annotations

from portal_core.errors import PortalError


class LocalServerError(PortalError):
    """The embedded server could not be started, reused or stopped; the message says why."""


class PortTakenError(LocalServerError):
    """Another server bound our port between our check and our server's bind."""
