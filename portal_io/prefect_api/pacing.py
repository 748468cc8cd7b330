"""How many writes may be in flight: an adaptive limit, and how long to wait before a retry.

A SQLite-backed Prefect server answers 503 as soon as a few writes overlap
(a transaction that lost the race for the write lock);
Postgres or Prefect Cloud take many more (Cloud answers 429 with Retry-After
when a plan's rate is exceeded). One fixed number cannot suit all, so the
limit starts at the configured `write_concurrency` (also its ceiling), halves
on an overload signal and grows back by about one slot per window of
successful writes (additive increase, multiplicative decrease, as TCP does).
Overload signals are a 429, a Retry-After, a dropped connection, or a request
refused with 503 a second time. A first 503 is a write that lost a race for
the server's write lock (SQLite's): it is retried at once, and the ceiling
comes down by one for the rest of the apply, for good. Writes that queue on
one lock gain nothing from overlapping and lose the refused attempts (measured
on SQLite, 100 deployments: 8.6 s one at a time, 11.3 s two at a time with 12
refusals, 17 s at four); a server that takes concurrent writes (PostgreSQL)
never answers 503 to them and keeps its ceiling. Several signals from
requests sent under the same limit count as one, so a burst of 503s lowers
the ceiling or halves the limit once.

A request that must wait before retrying gives its slot back first: a
sleeping request never blocks one that could be sent. A `Retry-After` pauses
every new request, since it describes the server, not one request.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import threading
import time
from collections.abc import Callable

import attrs

BASE_RETRY_WAIT = 0.025  # a lost race for SQLite's write lock is over within milliseconds
MAX_BACKOFF_WAIT = 5.0  # without Retry-After: SQLite contention clears within a second or two
MAX_RETRY_AFTER = 60.0  # a server may ask for more; the deploy's time budget decides


class BudgetExhausted(Exception):
    """The deploy's time budget ran out while waiting for a slot."""


@attrs.define
class PacingStats:
    """What the limit did during one apply (for benchmarks and debugging)."""

    sent: int = 0
    refusals: int = 0  # answers 429/503
    overloads: int = 0  # signals that shrank (or would have shrunk) the window
    decreases: int = 0
    lowest: int = 0
    highest: int = 0
    peak_in_flight: int = 0


class AdaptiveLimit:
    """A concurrency window between 1 and `ceiling`; thread-safe."""

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self._window = float(self.ceiling)
        self._in_flight = 0
        self._epoch = 0
        self._paused_until = 0.0
        self._clock = clock
        self._cond = threading.Condition()
        self.stats = PacingStats(lowest=self.ceiling, highest=self.ceiling)

    @property
    def limit(self) -> int:
        return max(1, int(self._window))

    def acquire(self, deadline: float | None = None) -> int:
        """Wait for a free slot (and for any Retry-After pause); returns a ticket for `release`."""
        with self._cond:
            while True:
                now = self._clock()
                wait_pause = self._paused_until - now
                if wait_pause <= 0 and self._in_flight < self.limit:
                    break
                if deadline is not None and now >= deadline:
                    raise BudgetExhausted
                timeout = wait_pause if wait_pause > 0 else None
                if deadline is not None:
                    timeout = min(timeout or deadline - now, deadline - now)
                self._cond.wait(timeout)
            self._in_flight += 1
            self.stats.sent += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self._in_flight)
            return self._epoch

    def release(self, ticket: int, *, overloaded: bool = False, succeeded: bool = False,
                refused: bool = False, contended: bool = False, retry_after: float | None = None) -> None:
        """Give the slot back and learn from how the request went.

        `refused`: the server answered 429/503 (counted); `overloaded`: take it as a
        sign to send less (the window shrinks); `contended`: writes overlapping at
        this limit race for one lock (the ceiling comes down by one, for good);
        `succeeded`: the window may grow.
        """
        with self._cond:
            self._in_flight -= 1
            self.stats.refusals += refused
            if contended and not overloaded:
                if ticket == self._epoch and self.ceiling > 1:
                    self.ceiling = max(1, min(self.ceiling, self.limit) - 1)
                    self._window = min(self._window, float(self.ceiling))
                    self._epoch += 1
                    self.stats.decreases += 1
            elif overloaded:
                self.stats.overloads += 1
                if ticket == self._epoch:  # the first signal from requests sent under this limit
                    self._window = max(1.0, self._window / 2)
                    self._epoch += 1
                    self.stats.decreases += 1
                if retry_after:
                    self._paused_until = max(self._paused_until, self._clock() + retry_after)
            elif succeeded:
                self._window = min(float(self.ceiling), self._window + 1.0 / self._window)
            self.stats.lowest = min(self.stats.lowest, self.limit)
            self.stats.highest = max(self.stats.highest, self.limit)
            self._cond.notify_all()


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        when = email.utils.parsedate_to_datetime(value)
        return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)
    return None


def backoff(attempt: int) -> float:
    """Seconds before retry `attempt` (0-based) when the server said nothing: short,
    exponential, with jitter so that parallel retries do not collide again."""
    return min(BASE_RETRY_WAIT * (2**attempt) * (1 + random.random()), MAX_BACKOFF_WAIT)
