"""Errors of the embedded server's lifecycle (defined with the other effect errors)."""

from __future__ import annotations

from portal_io.errors import LocalServerError, PortTakenError

__all__ = ["LocalServerError", "PortTakenError"]
