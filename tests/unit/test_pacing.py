"""Laws of the adaptive write limit and of retry waits."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_io.prefect_api.pacing import (
    MAX_BACKOFF_WAIT,
    MAX_RETRY_AFTER,
    AdaptiveLimit,
    BudgetExhausted,
    backoff,
    retry_after_seconds,
)

# one step: ("ok" | "busy" | "contended" | "neutral", how many requests to start first)
steps = st.lists(st.tuples(st.sampled_from(["ok", "busy", "contended", "neutral"]), st.integers(0, 3)),
                 max_size=60)


@given(ceiling=st.integers(1, 32), script=steps)
def test_limit_stays_between_one_and_the_ceiling_and_in_flight_under_it(
    ceiling: int, script: list[tuple[str, int]]
) -> None:
    limit = AdaptiveLimit(ceiling)
    tickets: list[int] = []
    for outcome, starts in script:
        for _ in range(starts):
            in_flight, window = len(tickets), limit.limit
            try:
                tickets.append(limit.acquire(deadline=time.monotonic()))  # never waits
                assert in_flight < window  # granted only inside the window
            except BudgetExhausted:
                assert in_flight >= window  # refused only when the window is full
        ceiling_before = limit.ceiling
        if tickets:
            limit.release(tickets.pop(0), overloaded=outcome == "busy", succeeded=outcome == "ok",
                          contended=outcome == "contended", refused=outcome in ("busy", "contended"))
        assert 1 <= limit.limit <= limit.ceiling <= ceiling_before <= ceiling  # a ceiling only comes down
    assert limit.stats.peak_in_flight <= ceiling


@given(ceiling=st.integers(1, 16), burst=st.integers(1, 16))
def test_contention_lowers_the_ceiling_by_one_per_window_for_good(ceiling: int, burst: int) -> None:
    """A 503 from a lost race for a write lock: overlapping writes only queue there."""
    limit = AdaptiveLimit(ceiling)
    tickets = [limit.acquire() for _ in range(min(burst, ceiling))]
    for ticket in tickets:  # a burst from one window counts once
        limit.release(ticket, contended=True, refused=True)
    assert limit.ceiling == max(1, ceiling - 1)
    for _ in range(ceiling * ceiling + 1):  # successes never raise it again
        limit.release(limit.acquire(), succeeded=True)
    assert limit.limit == limit.ceiling == max(1, ceiling - 1)
    limit.release(limit.acquire(), contended=True, refused=True)  # a later window: one more down
    assert limit.ceiling == max(1, ceiling - 2)
    assert limit.stats.refusals == len(tickets) + 1


@given(ceiling=st.integers(2, 32), burst=st.integers(1, 32))
def test_a_burst_of_overloads_from_one_window_halves_the_limit_once(ceiling: int, burst: int) -> None:
    limit = AdaptiveLimit(ceiling)
    tickets = [limit.acquire() for _ in range(min(burst, ceiling))]
    for ticket in tickets:
        limit.release(ticket, overloaded=True)
    assert limit.limit == max(1, ceiling // 2) or limit.limit == max(1, int(ceiling / 2))
    assert limit.stats.decreases == 1


@given(ceiling=st.integers(1, 16))
def test_successes_grow_the_limit_back_to_the_ceiling(ceiling: int) -> None:
    limit = AdaptiveLimit(ceiling)
    for _ in range(5):
        limit.release(limit.acquire(), overloaded=True)
    assert limit.limit == 1
    for _ in range(ceiling * ceiling + 1):
        limit.release(limit.acquire(), succeeded=True)
    assert limit.limit == ceiling


def test_a_full_window_makes_a_writer_wait_until_a_slot_is_released() -> None:
    limit = AdaptiveLimit(2)
    first, _second = limit.acquire(), limit.acquire()
    with pytest.raises(BudgetExhausted):
        limit.acquire(deadline=time.monotonic() + 0.05)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(limit.acquire(deadline=time.monotonic() + 10)))
    waiter.start()
    limit.release(first, succeeded=True)
    waiter.join(10)
    assert len(got) == 1


def test_retry_after_pauses_every_new_request_even_with_free_slots() -> None:
    limit = AdaptiveLimit(8)
    limit.release(limit.acquire(), overloaded=True, retry_after=0.2)
    paused_at = time.monotonic()
    with pytest.raises(BudgetExhausted):  # slots are free, yet the pause holds
        limit.acquire(deadline=paused_at + 0.05)
    limit.acquire(deadline=paused_at + 10)
    assert time.monotonic() - paused_at >= 0.2 - 0.01  # not before the server asked


@given(attempt=st.integers(0, 100))
def test_backoff_is_positive_and_bounded(attempt: int) -> None:
    assert 0 < backoff(attempt) <= MAX_BACKOFF_WAIT


@given(seconds=st.floats(-100, 10_000, allow_nan=False))
def test_retry_after_seconds_are_read_and_capped(seconds: float) -> None:
    assert retry_after_seconds(repr(seconds)) == min(max(seconds, 0.0), MAX_RETRY_AFTER)


def test_retry_after_as_an_http_date_and_garbage() -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    assert 15 <= (retry_after_seconds(soon) or 0) <= 20
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon, please") is None
