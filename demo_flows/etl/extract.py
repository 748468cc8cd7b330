"""A flow in a nested folder; its grouping is `etl`."""

from __future__ import annotations

from prefect import flow, task


@task
def fetch(source: str, batch: int) -> list[int]:
    return list(range(batch))


@flow(name="extract_orders")
def extract(source: str = "orders", batch_size: int = 5) -> int:
    """Extract one batch of records from a source system."""
    records = fetch(source, batch_size)
    print(f"extracted {len(records)} records from {source}")
    return len(records)


if __name__ == "__main__":
    extract()
