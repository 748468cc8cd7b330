"""A flow decorated through an alias of Prefect's decorator."""

from __future__ import annotations

from prefect import flow as pflow


@pflow(log_prints=True)
def aliased_report(recipients: int = 3) -> str:
    """Send a report through an aliased decorator."""
    message = f"report sent to {recipients} recipients"
    print(message)
    return message


if __name__ == "__main__":
    aliased_report()
