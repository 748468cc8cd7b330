"""Small JSON files the tool owns (caches, the embedded server's record).

One writer for all of them, so every such file is replaced atomically (a
reader sees the old or the new content, never half) and is private to the
user: caches and records can hold paths, ports and deployment details that are
nobody else's business on a shared machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed and make the leaf readable by the user only."""
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, PRIVATE_DIR)


def write_json_atomic(path: Path, data: Any, *, indent: int | None = None, durable: bool = False) -> None:
    """Write `data` to `path` through a temp file in the same directory and `os.replace`.

    `durable` also fsyncs before the rename: for records whose loss would
    orphan a process (the server record), not for caches that can be rebuilt.
    """
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent, separators=None if indent else (",", ":"))
            if indent:
                handle.write("\n")
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)  # mkstemp already made it 0600
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any | None:
    """The parsed content, or None when the file is missing, unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
