"""Flows decorated through the module: `@prefect.flow` and `@prefect.flow(...)`."""

from __future__ import annotations

import prefect


@prefect.flow
def count_rows(table: str = "events", limit: int = 100) -> int:
    """Pretend to count the rows of a table.

    Second paragraph: not part of the description.
    """
    rows = min(limit, len(table) * 10)
    print(f"{table}: {rows} rows")
    return rows


@prefect.flow(retries=1, retry_delay_seconds=1, log_prints=True)
def refresh_cache(region: str = "eu") -> str:
    print(f"refreshing cache in {region}")
    return region


if __name__ == "__main__":
    count_rows()
