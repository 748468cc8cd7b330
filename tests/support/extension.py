"""Driving `.acme_portal_sdk/` modules the way the acme-portal VS Code extension does.

The extension runs, with the workspace root as working directory, a script that
puts `.acme_portal_sdk` on `sys.path`, imports `acme_portal_sdk`, takes the
class of that name from it, imports the module, picks the first attribute (in
`dir()` order) that is an instance of the class, calls it with the JSON kwargs
and `json.dump`s the result to the output file; on an exception it writes
`<out>_error.json` with the error's type and message and exits 1. This is our
own script doing those steps, so tests see exactly what the extension would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

RUNNER = r'''
import importlib, json, os, sys, traceback
module_name, class_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
kwargs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
try:
    sys.path.insert(0, os.path.join(os.getcwd(), ".acme_portal_sdk"))
    cls = getattr(importlib.import_module("acme_portal_sdk"), class_name)
    module = importlib.import_module(module_name)
    obj = next(getattr(module, n) for n in dir(module) if isinstance(getattr(module, n), cls))
    result = obj(**kwargs)
    with open(out, "w") as f:
        json.dump(result, f)
except Exception as e:
    with open(out.replace(".json", "_error.json"), "w") as f:
        json.dump({"error_type": type(e).__name__, "error_message": str(e), "module_name": module_name,
                   "class_name": class_name, "traceback": traceback.format_exc()}, f)
    sys.exit(1)
'''


def run_object(root: Path, module: str, class_name: str, kwargs: dict[str, Any] | None,
               api_url: str, out_dir: Path) -> tuple[int, Any]:
    """(exit code, the JSON result or, on failure, the error record)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{module}-{len(list(out_dir.iterdir()))}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = api_url
    args = [sys.executable, "-c", RUNNER, module, class_name, str(out)]
    if kwargs is not None:
        args.append(json.dumps(kwargs))
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300, env=env)
    if done.returncode == 0:
        return 0, json.loads(out.read_text())
    error = out.with_name(out.name.replace(".json", "_error.json"))
    return done.returncode, json.loads(error.read_text()) if error.exists() else done.stderr
