"""The `flowportal` console script: the same tasks as `invoke`, without a tasks.py."""

from __future__ import annotations

from invoke.program import Program

from flowportal import __version__
from flowportal.tasks import namespace

program = Program(namespace=namespace, name="flowportal", binary="flowportal", version=__version__)


def main() -> None:
    program.run()


if __name__ == "__main__":
    main()
