"""An unrelated `@app.flow` decorator, next to a Prefect import: not a flow.

The seed SDK reported anything ending in `.flow`; flowportal only reports
decorators that resolve to Prefect's `flow`.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect import task


class Pipeline:
    """A tiny registry with a `flow` method, like many web or workflow apps have."""

    def __init__(self) -> None:
        self.registered: list[Callable[..., object]] = []

    def flow(self, function: Callable[..., object]) -> Callable[..., object]:
        self.registered.append(function)
        return function


app = Pipeline()


@app.flow
def not_a_prefect_flow(value: int = 1) -> int:
    return value + 1


@task
def double(value: int = 2) -> int:
    return value * 2
