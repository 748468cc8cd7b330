"""The smallest flow: a bare `@flow` on a function with one typed parameter."""

from __future__ import annotations

import os

from prefect import flow, get_run_logger


@flow
def hello_world(name: str = "world") -> str:
    """Greet someone and say which deployment is running.

    `DEPLOYMENT_NAME` is set by flowportal on every deployment it manages, so a
    run shows which environment's copy executed.
    """
    deployment = os.environ.get("DEPLOYMENT_NAME", "<not deployed>")
    greeting = f"Hello, {name}!"
    get_run_logger().info("%s (deployment: %s)", greeting, deployment)
    return greeting


if __name__ == "__main__":
    hello_world()
