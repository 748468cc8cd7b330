"""One way to turn the core's values into plain JSON containers.

The core's values are attrs-frozen, so they hold tuples and read-only mappings
(hashable, never mutated in place), while JSON, the Prefect API and the change
records hold lists and dicts. Comparing, hashing or printing the two must not
see a difference that is only the container type: `("a",)` and `["a"]` are the
same JSON value. Every module that compares or serialises such values goes
through `json_like`, so they all agree on what "the same" means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


def json_like(value: Any) -> Any:
    """`value` with plain JSON containers, recursively.

    Mappings become dicts with `str` keys (JSON object keys are text), tuples
    and lists become lists, attrs instances become dicts of their fields.
    Anything else (numbers, text, None, unknown objects) is returned as it is,
    so a caller serialising the result still decides how to show those.
    Idempotent: a result passed through again comes back equal.
    """
    if isinstance(value, Mapping):
        return {str(k): json_like(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_like(v) for v in value]
    if attrs.has(type(value)):
        return {f.name: json_like(getattr(value, f.name)) for f in attrs.fields(type(value))}
    return value
