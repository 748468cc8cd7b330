"""Moved to `portal_io.git`, the one git adapter.

Only names remain here, for the use cases that still import this module; once
they import `portal_io.git`, delete this file.
"""

from __future__ import annotations

from portal_io.git import (
    GitReadError,
    file_at,
    local_branches,
    python_files_at,
    remote_branches,
    remotes,
    user_name,
)

__all__ = [
    "GitReadError",
    "file_at",
    "local_branches",
    "python_files_at",
    "remote_branches",
    "remotes",
    "user_name",
]
