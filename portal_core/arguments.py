"""Checking and converting what callers pass in, in one place.

Requests are built by the CLI tasks, the `Portal` facade and the acme-portal
objects alike; their fields convert and validate here, so a wrong argument is
one clear `UsageError` at the boundary, whoever the caller, instead of a bare
TypeError (or a flow list of single characters) deep inside a use case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from portal_core.errors import UsageError


def as_flow_names(value: object) -> tuple[str, ...]:
    """`--flow` values as the request holds them, from any caller.

    A single string is one flow name (not its characters: `deploy("hello_world", ...)`
    must not ask for flows 'h', 'e', ...); anything else must be an iterable of strings.
    """
    if isinstance(value, str):
        return (value,)
    if value is None or not isinstance(value, Iterable):
        raise UsageError(f"flows must be a flow name or a list of flow names, not {type(value).__name__}")
    names = tuple(value)
    wrong = [n for n in names if not isinstance(n, str)]
    if wrong:
        raise UsageError(f"flow names must be strings, not {type(wrong[0]).__name__} ({wrong[0]!r})")
    return names


def check_name(what: str, value: object, *, optional: bool = False) -> None:
    """A required name (environment, ...) is a non-empty string; an optional one may be None."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        shown = "None" if value is None else repr(value)
        raise UsageError(f"{what} must be a non-empty string, not {shown}")


def name_validator(*, optional: bool = False) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: the field holds a name (or None, when `optional`)."""

    def validate(_instance: Any, attribute: Any, value: Any) -> None:
        check_name(attribute.name, value, optional=optional)

    return validate


required_name = name_validator()
optional_name = name_validator(optional=True)
