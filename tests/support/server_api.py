"""Raw calls to a test's Prefect server, for setting up and inspecting what the
product does (the product's own calls go through its gateway)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

#: A busy embedded SQLite server answers 503 ("try again"); a test helper retries
#: like every client does, a bounded number of times.
BUSY_RETRIES = 10


def api(url: str, method: str, path: str, body: Any = None) -> Any:
    """One call; the JSON answer (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(BUSY_RETRIES + 1):
        request = urllib.request.Request(url.rstrip("/") + path, method=method, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
            return json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            if err.code != 503 or attempt == BUSY_RETRIES:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")
