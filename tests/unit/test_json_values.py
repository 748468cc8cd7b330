"""Laws of `json_like`: the one normaliser the core compares and hashes values through."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import json_scalars, json_values

from portal_core.deployments import Schedule
from portal_core.json_values import json_like


def as_tuples(value: Any) -> Any:
    """The same JSON value as an attrs-frozen value would hold it: tuples, read-only mappings."""
    if isinstance(value, dict):
        return MappingProxyType({k: as_tuples(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(as_tuples(v) for v in value)
    return value


#: Values mixing every container json_like takes apart.
frozen_like = st.recursive(
    json_scalars | st.builds(Schedule, cron=st.just("0 12 * * *")),
    lambda inner: (st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(st.text(max_size=8) | st.integers(0, 9), inner, max_size=3)),
    max_leaves=8,
)


@given(frozen_like)
def test_idempotent(value: Any) -> None:
    once = json_like(value)
    assert json_like(once) == once


@given(json_values)
def test_json_round_trip_is_equal_for_json_like_input(value: Any) -> None:
    plain = json_like(value)
    assert plain == value
    assert json.loads(json.dumps(plain)) == plain


@given(json_values)
def test_tuples_and_lists_are_equal_after_it(value: Any) -> None:
    assert json_like(as_tuples(value)) == json_like(value)


def test_attrs_values_become_dicts_of_their_fields_and_keys_become_text() -> None:
    schedule = Schedule(cron="0 12 * * *")
    assert json_like({1: (schedule,)}) == {"1": [attrs.asdict(schedule)]}
    assert json.loads(json.dumps(json_like(schedule))) == attrs.asdict(schedule)
