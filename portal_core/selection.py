"""Which flows a verb acts on: `--flow NAME` (repeatable) or `--flow all`.

Deploy selects among the flows found in the source, promote among the flows
deployed in the source environment; both read the request the same way (names
are normalized to flow keys, repeats collapse, unknown names are reported
together), so `--flow` means one thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from portal_core.names import normalize_flow_key

ALL = "all"


def select_keys(
    requested: Iterable[str],
    available: Sequence[str],
    *,
    unknown: Callable[[str, str], str],
    when_empty: str | None = None,
) -> tuple[list[str], list[str]]:
    """(selected keys, problems). `unknown(asked, key)` words a name that is not available.

    An empty request selects everything when `when_empty` is None, else it is the
    problem `when_empty`; `all` anywhere in the request selects everything.
    """
    asked_for = list(requested)
    if not asked_for:
        return (list(available), []) if when_empty is None else ([], [when_empty])
    if ALL in asked_for:
        return list(available), []
    known = set(available)
    keys: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for asked in asked_for:
        key = normalize_flow_key(asked)
        if key in seen:
            continue
        seen.add(key)
        if key in known:
            keys.append(key)
        else:
            problems.append(unknown(asked, key))
    return keys, problems

