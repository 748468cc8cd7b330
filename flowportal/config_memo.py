"""A memo of "this project's config is valid and its flows_root is X", for `list-flows`.

`list-flows` in a project needs one value from the config, `flows_root`, but
must still refuse an invalid config exactly as every other command does.
Reading and validating the config costs the YAML library, the config model
and a parse of each file: most of the command's time once the discovery cache
answers. So a successful load is remembered in `.portal/cache/config.json`
with everything it depended on, and the next run re-checks only that:

* each config file it read or looked for (environments, pyproject, static
  config): present or absent as before, and if present the same `stat`
  (type, size, mtime, ctime, inode, device), so any edit, replacement, chmod
  or new/removed file is a miss;
* the code that validated it: every loaded module of flowportal and of the
  libraries that parse or structure config, by path, size and mtime, and the
  Python version, so an upgrade with other rules is a miss;
* the facts on disk that the load checked (paths resolving inside the
  repository, `flows_root` being a folder, time zone names being known),
  replayed by the same functions.

On any doubt (no memo, a mismatch, an unreadable or foreign memo, a file
changed within the memo's own mtime tick, a replayed check failing) the full
load runs, with its exact errors, and the memo is rewritten. The memo is an
optimisation only: losing it costs one full load.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from flowportal.workspace import (
    STATE_DIR,
    LoadInputs,
    _inside_root,
    load_workspace,
)

MEMO_FILE_NAME = "config.json"
MEMO_FORMAT = 1

#: A config file changed less than this before a load began is not memoised (see `_settled`).
SETTLE_NS = 1_000_000_000

#: Packages whose code decides whether a config is valid (parsing, structuring,
#: the rules themselves); their loaded modules are part of the memo's key.
CODE_PACKAGES = ("flowportal", "portal_core", "portal_io", "ruamel", "cattrs", "attr", "attrs")


def memo_path(root: Path) -> Path:
    return root / STATE_DIR / "cache" / MEMO_FILE_NAME


def _file_key(path: str) -> list[int] | str | None:
    """`stat` of a file that was read; None if absent; "unreadable" if it cannot be stat'ed."""
    if not os.path.lexists(path):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return "unreadable"
    return [st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _code_files() -> list[str]:
    files = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in CODE_PACKAGES:
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                files.append(path)
    return sorted(set(files))


def _code_key(files: list[str]) -> list[list[Any]]:
    keys: list[list[Any]] = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            keys.append([path, None])
            continue
        keys.append([path, st.st_size, st.st_mtime_ns])
    return keys


def _config_keys(root: Path, files: list[str]) -> dict[str, Any]:
    return {name: _file_key(os.path.join(root, name)) for name in files}


def _facts_hold(root: Path, memo: dict[str, Any]) -> bool:
    """The on-disk checks the load made, replayed with the same functions."""
    if not all(_inside_root(root, relative) for relative in memo["inside"]):
        return False
    if not all((root / relative).is_dir() for relative in memo["folders"]):
        return False
    if memo["timezones"]:
        from flowportal.workspace import _KnownTimezones
        from portal_core.validation import timezone_problem

        known = _KnownTimezones()
        return all(timezone_problem(zone, known) is None for zone in memo["timezones"])
    return True


def _not_racy(memo: dict[str, Any], written_ns: int) -> bool:
    """A file changed in the same clock tick as the memo was written may have changed
    after it was stat'ed, unseen; such an entry is not trusted (git's "racily clean")."""
    for key in memo["config"].values():
        if isinstance(key, list) and (key[2] >= written_ns or key[3] >= written_ns):
            return False
    return True


def _settled(config_keys: dict[str, Any], started_ns: int) -> bool:
    """Every file read is stat'able and last changed well before the load began.

    A file changed while it was being read could be stat'ed after the change
    yet validated before it; its ctime (set by the kernel on any change, never
    by tools) would be recent. A second of margin covers the kernel's coarse clock.
    """
    for key in config_keys.values():
        if key == "unreadable":
            return False
        if isinstance(key, list) and key[3] >= started_ns - SETTLE_NS:
            return False
    return True


def _recalled(root: Path) -> str | None:
    """`flows_root` from a memo that still holds, else None."""
    path = memo_path(root)
    try:
        written_ns = os.stat(path).st_mtime_ns
        with open(path, "rb") as handle:
            memo = json.load(handle)
        if not isinstance(memo, dict) or memo.get("format") != MEMO_FORMAT:
            return None
        if memo["python"] != sys.version or memo["root"] != str(root):
            return None
        if "unreadable" in memo["config"].values():
            return None
        if _config_keys(root, list(memo["config"])) != memo["config"]:
            return None
        if not _not_racy(memo, written_ns):
            return None
        if _code_key([entry[0] for entry in memo["code"]]) != memo["code"]:
            return None
        if not _facts_hold(root, memo):
            return None
        flows_root = memo["flows_root"]
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None
    return flows_root if isinstance(flows_root, str) else None


def project_flows_root(root: Path) -> str:
    """The configured `flows_root` of the project at `root`, the config validated as by
    `load_workspace` (which raises its errors when the memo does not hold)."""
    recalled = _recalled(root)
    if recalled is not None:
        return recalled
    started_ns = time.time_ns()
    inputs = LoadInputs()
    workspace = load_workspace(root, inputs)
    flows_root = workspace.config.flows_root
    config_keys = _config_keys(root, inputs.files)
    if not _settled(config_keys, started_ns):
        return flows_root
    memo = {
        "format": MEMO_FORMAT,
        "root": str(root),
        "python": sys.version,
        "config": config_keys,
        "code": _code_key(_code_files()),
        "inside": inputs.inside,
        "folders": inputs.folders,
        "timezones": inputs.timezones,
        "flows_root": flows_root,
    }
    from portal_io.json_files import write_json_atomic

    with contextlib.suppress(OSError):  # a read-only checkout: only speed is lost
        write_json_atomic(memo_path(root), memo)
    return flows_root
