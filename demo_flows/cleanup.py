"""A flow with an explicit `name=` and `description=`: its key comes from the name."""

from __future__ import annotations

from prefect import flow, get_run_logger


@flow(name="daily-cleanup", description="Delete temporary files older than a number of days.")
def remove_old_files(days: int = 7, dry_run: bool = True) -> int:
    """This docstring is not the description: `description=` wins."""
    logger = get_run_logger()
    removed = 0 if dry_run else days // 7
    logger.info("cleanup: days=%d dry_run=%s removed=%d", days, dry_run, removed)
    return removed


if __name__ == "__main__":
    remove_old_files()
