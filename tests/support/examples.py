"""Per-test weight for hypothesis properties, relative to the active profile.

The profile (registered in tests/conftest.py) decides how many examples a
property gets: few locally, many in CI. A property that needs more than its
peers to reach its interesting cases says so as a multiple, so it keeps that
extra weight under every profile instead of pinning one absolute number that
would either slow the quick profile down or fall behind the thorough one.
"""

from __future__ import annotations

from hypothesis import settings


def examples(factor: int) -> settings:
    """Settings with `factor` times the active profile's `max_examples`.

    Evaluated when the test module is imported, which is after conftest has
    loaded the profile (and after `--hypothesis-profile` is applied).
    """
    return settings(max_examples=factor * settings().max_examples)
