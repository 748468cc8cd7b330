"""`server.json`: the record through which later commands find the running server.

Written atomically and privately (`write_json_atomic`), so a reader sees the
old or the new record, never half of one, and nobody else on the machine
reads it. A record that cannot be parsed is reported as `StaleRecord`; the
lifecycle code decides what to do about it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from portal_io.json_files import write_json_atomic


class StaleRecord(Exception):
    """`server.json` exists but cannot be read; carries the reason for the notice."""


@attrs.frozen
class ServerRecord:
    """Enough to find, check and stop the server later.

    `database` names the database without credentials ("sqlite", or the
    masked URL), so a later request for another database is refused instead
    of being served from this one.
    """

    pid: int
    port: int
    url: str
    started_at: str
    host: str = "127.0.0.1"
    database: str = "sqlite"

    @classmethod
    def from_json(cls, data: object) -> ServerRecord:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        pid, port = int(data["pid"]), int(data["port"])
        if pid <= 0 or not 0 < port < 65536:
            raise ValueError(f"pid {pid} or port {port} out of range")
        return cls(
            pid=pid,
            port=port,
            url=str(data["url"]),
            started_at=str(data.get("started_at", "")),
            host=str(data.get("host", "127.0.0.1")),
            database=str(data.get("database", "sqlite")),
        )

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def parse_record(text: str, where: Path) -> ServerRecord:
    try:
        return ServerRecord.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise StaleRecord(f"unreadable server record {where}: {exc}") from exc


def read_record(path: Path) -> ServerRecord | None:
    """The record, None when there is none; `StaleRecord` when it is garbage."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StaleRecord(f"unreadable server record {path}: {exc}") from exc
    return parse_record(text, path)


def write_record(path: Path, record: ServerRecord) -> None:
    """Fsynced: losing the record of a live server would orphan the process."""
    write_json_atomic(path, record.to_json(), indent=2, durable=True)


def remove_record(path: Path) -> None:
    path.unlink(missing_ok=True)
