"""Expose flowportal's tasks to `invoke` in this repository (`invoke --list`)."""

from flowportal.tasks import namespace

__all__ = ["namespace"]
