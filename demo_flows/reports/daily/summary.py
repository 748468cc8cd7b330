"""A flow two folders deep; its grouping is `reports`, `daily`."""

from __future__ import annotations

from prefect import flow


@flow(description="Summarise yesterday's activity.")
def daily_summary(day: str = "yesterday", top_n: int = 5) -> str:
    summary = f"summary for {day}: top {top_n} items"
    print(summary)
    return summary


if __name__ == "__main__":
    daily_summary()
