"""Read a small text file the user controls (config, dotenv, pyproject) defensively.

Every way such a file can be wrong becomes one `ConfigError` naming it: missing,
a folder, a pipe or device (opening a FIFO would block forever), unreadable,
too large (parsing a YAML file costs tens of microseconds per byte, so a 20 MB
file would take minutes), or not UTF-8 (the line and column of the first bad
byte are named).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from portal_core.errors import ConfigError

#: Far above any real config (a thousand flows fit in a quarter of it) and
#: small enough that parsing stays within seconds.
MAX_CONFIG_BYTES = 1024 * 1024


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size // 1024} KiB"


def read_config_text(
    path: Path,
    shown: str,
    *,
    limit: int = MAX_CONFIG_BYTES,
    missing: str = "file not found",
) -> str:
    """The file's text (a UTF-8 BOM dropped), or a `ConfigError` whose source is `shown`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(missing, source=shown) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, expected a file", source=shown) from None
    except PermissionError:
        raise ConfigError("cannot read: permission denied", source=shown) from None
    except OSError as err:
        if err.errno == errno.ENOTDIR:
            raise ConfigError(missing, source=shown) from None
        raise ConfigError(f"cannot read: {err.strerror or err}", source=shown) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError("is a folder, expected a file", source=shown)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("is not a regular file (a pipe or a device?)", source=shown)
        if info.st_size > limit:
            raise ConfigError(
                f"is {_human(info.st_size)}; config files are limited to {_human(limit)}",
                source=shown,
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        if err.errno == errno.EISDIR:
            raise ConfigError("is a folder, expected a file", source=shown) from None
        raise ConfigError(f"cannot read: {err.strerror or err}", source=shown) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while we read it
        raise ConfigError(f"is larger than {_human(limit)}, the limit for config files", source=shown)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ConfigError(
            f"is not UTF-8 text (byte 0x{data[err.start]:02x}); save it as UTF-8",
            source=f"{shown}:{line}:{column}",
        ) from None
    return text.removeprefix("\ufeff")
