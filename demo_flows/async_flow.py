"""An `async def` flow, which the seed SDK could not find."""

from __future__ import annotations

import asyncio

from prefect import flow


@flow(log_prints=True)
async def check_endpoints(count: int = 3, delay_seconds: float = 0.01) -> list[str]:
    """Check a few endpoints concurrently."""

    async def check(index: int) -> str:
        await asyncio.sleep(delay_seconds)
        return f"endpoint-{index}: ok"

    results = list(await asyncio.gather(*(check(i) for i in range(count))))
    for line in results:
        print(line)
    return results


if __name__ == "__main__":
    asyncio.run(check_endpoints())
