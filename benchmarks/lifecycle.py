"""History and drift over many managed deployments: requests and our own CPU time.

    .venv/bin/python benchmarks/lifecycle.py [--deployments 300] [--repeat 5]

Starts one local Prefect server (SQLite, temporary directory, a free port),
generates a project with N flows, deploys them all to `dev` once (which writes
one change record per deployment, stored 100 to an artifact), then measures, in process:

* `history --env dev --limit 20` and `--limit 200`;
* `history --env dev --flow F` (one flow);
* `drift --env dev` over all N deployments (deployment reads + the newest records);
* writing N change records again (the recording cost of an N-deployment apply).

For each: HTTP requests made (counted at `urllib.request.urlopen`, which both
the deployment reads and the history store use), our process's CPU time
(`time.process_time`, so the server's own work is excluded) and wall time.
The median of `--repeat` runs is reported; results go to
`benchmarks/results/lifecycle-<date>.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RequestCounter:
    """Counts every HTTP request made through `urllib.request.urlopen`."""

    def __init__(self) -> None:
        self.count = 0
        self._real = urllib.request.urlopen

    def __enter__(self) -> RequestCounter:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self._real(*args, **kwargs)

        urllib.request.urlopen = counted  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        urllib.request.urlopen = self._real  # type: ignore[assignment]


def measure(work: Callable[[], Any], repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        with RequestCounter() as counter:
            cpu, wall = time.process_time(), time.perf_counter()
            result = work()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        runs.append({"requests": counter.count, "cpu_s": round(cpu, 4), "wall_s": round(wall, 4)})
    return {
        "requests": runs[0]["requests"],
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "runs": runs,
        "result_size": len(result) if isinstance(result, (list, tuple)) else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from flowportal import Portal
    from portal_core import history
    from portal_io.local_server import LocalServer
    from tests.support.projects import make_project

    with tempfile.TemporaryDirectory(prefix="fp-lifecycle-bench-") as tmp:
        server = LocalServer(Path(tmp) / "server", port=free_port())
        url = server.ensure_running(timeout=120)
        try:
            root = Path(tmp) / "proj"
            flows = [f"flow_{i:04d}" for i in range(args.deployments)]
            make_project(root, url, flows, project="benchlife", envs={"dev": "INFO"})
            portal = Portal(root)
            with RequestCounter() as counter:
                start = time.perf_counter()
                outcome = portal.deploy(["all"], "dev")
                deploy_wall = time.perf_counter() - start
            if outcome.failed:  # a loaded SQLite server may refuse a few writes: converge
                print(f"{len(outcome.failed)} writes failed ({outcome.failed[0].error}); "
                      f"deploying again", file=sys.stderr)
                outcome = portal.deploy(["all"], "dev")
            assert outcome.exit_code == 0 and outcome.history_error is None, outcome.history_error
            results: dict[str, Any] = {
                "deployments": args.deployments,
                "first_deploy": {"requests_total": counter.count,
                                 "history_writes": -(-args.deployments // history.BATCH_SIZE),
                                 "wall_s": round(deploy_wall, 2)},
            }
            portal.history("dev", limit=1)  # warm imports
            portal.drift("dev")
            results["history_limit_20"] = measure(
                lambda: portal.history("dev", limit=20).records, args.repeat)
            results["history_limit_200"] = measure(
                lambda: portal.history("dev", limit=200).records, args.repeat)
            results["history_one_flow"] = measure(
                lambda: portal.history("dev", "flow_0150").records, args.repeat)
            results["drift_all"] = measure(
                lambda: portal.drift("dev").report.deployments, args.repeat)
            # the cost of recording alone: N records written again, as after an N-flow apply
            from portal_core.history import place_for, records_of
            from portal_io.history_store import HistoryStore

            again = list(records_of(HistoryStore(url).scan(place_for("benchlife", "dev"))))
            store = HistoryStore(url, None, portal.workspace.config.write_concurrency)
            results["record_all"] = measure(lambda: store.write(again) or again, 1)
        finally:
            server.stop()

    print(f"{'scenario':<20} {'requests':>8} {'cpu s':>8} {'wall s':>8} {'items':>6}")
    for key in ("history_limit_20", "history_limit_200", "history_one_flow", "drift_all",
                "record_all"):
        row = results[key]
        print(f"{key:<20} {row['requests']:>8} {row['cpu_s']:>8.3f} {row['wall_s']:>8.3f} "
              f"{row['result_size']!s:>6}")
    first = results["first_deploy"]
    print(f"first deploy of {args.deployments}: {first['requests_total']} requests "
          f"({first['history_writes']} of them recording the history), {first['wall_s']} s")
    out = HERE / "results" / f"lifecycle-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
