"""Deploying and listing: flowportal vs the seed SDK, side by side in one run.

    .venv/bin/python benchmarks/deploy.py [--flows 100] [--deployments 1000] [--repeat 3] [--profile]

Starts ONE local Prefect server (`portal_io.local_server.LocalServer`, SQLite,
in a temporary directory), so both contenders write to the same database under
the same load, and times:

(a) a first deploy of N generated flows;
(b) a re-deploy with nothing changed;
(c) listing, after `--deployments` deployments named by our scheme were created;
(d) the server's floor: the same N first-deploy upserts as the fewest raw HTTP
    requests (one POST /flows/ and one POST /deployments/ per flow, keep-alive,
    nothing else), at concurrency 1 and 2, so "ours / floor" says how much of a
    first deploy is flowportal rather than the server;
(e) lost writes: first deploys of N deployments through `PrefectGateway.apply` at
    write_concurrency 1, 2, 4, 8 and 16, counting what the server then holds.

Each deploy scenario is timed twice per contender, on separate generated
projects so that one measurement never turns the next into a re-deploy:

* in-process, after `prefect` and both tools are imported (a warm-up that is
  reported separately): this isolates the work each tool does per deploy;
* end to end, as a fresh interpreter, the way CI or a developer runs it:
  ours is `python -m flowportal.cli deploy --flow all --env dev`; the seed is a
  child process running the same SDK pipeline (its own console script needs
  `acme_config`'s AWS parameter store, which is not available offline).

The seed side is the SDK's own code, unmodified: `PrefectFlowFinder` ->
`PrefectDeployInfoPrep.prep_deploy_info` (imports every flow module) ->
`PrefectFlowDeployer.deploy` per flow, i.e. `flow.deploy(image=..., build=False,
push=False)`. The SDK always passes `image=`, and Prefect refuses an image
unless the pool's job template has an `image` variable; offline the server
cannot fetch the docker pool's default template (it stores `{}`), so the seed
pool is a docker-type pool given the process worker's template plus an `image`
variable, which is what its ECS pool offers in that respect. Nothing is run.

Every SDK `print` goes to /dev/null, which only flatters the SDK. Each timed
measurement starts after a short pause (SETTLE_SECONDS) so the server has
finished absorbing the previous contender's burst. Our re-deploys write
nothing and take about a second, so they are run `--repeat` times (median
reported, every run kept in the JSON); the seed's take ~40 s each and run once.
Results are printed as a table and written to `benchmarks/results/deploy-<date>.json`.

Only the standard library is imported at module level: the seed's child
process imports this file too, and must not pay for anything the SDK would not.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import functools
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"

ENV = "dev"
BRANCH = "main"
PACKAGE_VERSION = "0.1.0"
SEED_POOL = "bench-seed-docker"
SEED_IMAGE = "acme/bench-flows:latest"
SEED_COMMIT = "bench01"
OUR_POOL = "bench-process"
CHILD_RESULT = "BENCH_RESULT="

# Upper bounds, so a wedged child or server never hangs the benchmark.
SERVER_START_TIMEOUT = 120.0
DEPLOY_CHILD_TIMEOUT = 1800.0
LIST_CHILD_TIMEOUT = 300.0
GIT_TIMEOUT = 60.0
# Pause before each timed measurement: after a burst of writes the server keeps
# flushing events into SQLite for a moment, and whoever is timed next would pay
# for the previous contender's burst.
SETTLE_SECONDS = 2.0

SCENARIOS = ("first", "floor", "redeploy", "listing", "lost")
TARGET_FIRST = 2.5
TARGET_REDEPLOY = 30.0
SEED_LIST_CAP = 200


class BenchError(RuntimeError):
    """A contender failed or produced a wrong result; the numbers would be meaningless."""


# ----------------------------------------------------------------- workloads


def flow_source(name: str, number: int) -> str:
    """One generated flow module, identical in shape on both sides.

    Written as `@flow(name=...)` because the seed only finds decorator *calls*;
    discovery differences are benchmarked elsewhere (benchmarks/discovery.py).
    """
    return textwrap.dedent(
        f'''\
        """Generated benchmark flow {number}."""

        from __future__ import annotations

        from prefect import flow, task


        @task
        def double(value: int) -> int:
            return value * 2


        @flow(name="{name}", log_prints=True)
        def {name}(count: int = {number}, label: str = "bench", dry_run: bool = False) -> int:
            """Flow {number}: doubles a count and prints it."""
            result = double(count)
            print(f"{{label}}: {{result}} (dry run: {{dry_run}})")
            return result
        '''
    )


def write_flows(folder: Path, prefix: str, count: int) -> list[str]:
    """`count` flow files named `<prefix>_flow_NNN`; returns the flow names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for number in range(1, count + 1):
        name = f"{prefix}_flow_{number:03d}"
        (folder / f"flow_{number:03d}.py").write_text(flow_source(name, number), encoding="utf-8")
        names.append(name)
    return names


@dataclass(frozen=True)
class SeedProject:
    """A project laid out the way the seed expects: `<root>/<package>/*.py`, root on sys.path."""

    root: Path
    package: str
    project: str
    static_config: Path

    @property
    def flows_dir(self) -> Path:
        return self.root / self.package


def make_seed_project(base: Path, tag: str, flows: int) -> SeedProject:
    root = base / f"seed_{tag}"
    package = f"seed_{tag}_flows"
    write_flows(root / package, f"seed_{tag}", flows)
    (root / package / "__init__.py").write_text("", encoding="utf-8")
    static = root / "static_flow_deploy_config.yaml"
    # The SDK does `name in config`, so an empty file (None) would crash it.
    static.write_text("{}\n", encoding="utf-8")
    return SeedProject(root=root, package=package, project=f"seed-{tag}", static_config=static)


def environments_yaml(project: str, api_url: str, write_concurrency: int | None) -> str:
    concurrency = f"write_concurrency: {write_concurrency}\n" if write_concurrency else ""
    return (
        textwrap.dedent(
            f"""\
        project: {project}
        flows_root: flows
        promotion_path: [{ENV}]
        """
        )
        + concurrency
        + textwrap.dedent(
            f"""\
        environments:
          {ENV}:
            prefect_api_url: {api_url}
            work_pool: {{name: {OUR_POOL}, type: process, create: true}}
            working_dir: .
            env:
              APP_ENV: {ENV}
        """
        )
    )


def git(root: Path, *args: str) -> None:
    """Run git with a throwaway identity, so commits work on a machine with no git config."""
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=flowportal-bench",
            "-c",
            "user.email=bench@localhost",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=GIT_TIMEOUT,
    )


def make_our_project(base: Path, tag: str, flows: int, api_url: str, write_concurrency: int | None) -> Path:
    """A flowportal project committed to git, so branch and commit resolve as in real use."""
    root = base / f"fp_{tag}"
    write_flows(root / "flows", f"fp_{tag}", flows)
    (root / "config").mkdir(parents=True)
    (root / "config" / "environments.yaml").write_text(
        environments_yaml(f"fp-{tag}", api_url, write_concurrency), encoding="utf-8"
    )
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "fp-{tag}"\nversion = "{PACKAGE_VERSION}"\n', encoding="utf-8"
    )
    (root / ".gitignore").write_text(".portal/\n__pycache__/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", BRANCH)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated benchmark project")
    return root


# ------------------------------------------------------------- the seed side


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Prefect derives a deployment's entrypoint from the cwd; the SDK runs from the project root."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the SDK's per-file and per-deployment prints to /dev/null (cheaper than a terminal)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def forget_modules(package: str) -> None:
    """Drop a package's modules so the next in-process run imports them again, as a new process would."""
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def seed_deploy(project: SeedProject) -> int:
    """The SDK's deploy, as `acme_portal_sdk.prefect.prefect_deploy.deploy` runs it.

    Only `load_saved_parameters` (acme_config, AWS) is replaced, by a literal
    env mapping equal to ours.
    """
    from acme_portal_sdk.prefect.flow_deploy import PrefectDeployInfoPrep, PrefectFlowDeployer  # type: ignore[import-untyped]
    from acme_portal_sdk.prefect.flow_finder import PrefectFlowFinder  # type: ignore[import-untyped]

    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    finder = PrefectFlowFinder(str(project.flows_dir))
    prep = PrefectDeployInfoPrep(
        static_flow_deploy_config=project.static_config,
        default_work_pool=SEED_POOL,
        prefect_flow_finder=finder,
    )
    deployer = PrefectFlowDeployer()
    flows_to_deploy = [f.name for f in finder.find_flows()]  # _get_flows_to_deploy("all")
    infos = prep.prep_deploy_info(
        project_name=project.project,
        branch_name=BRANCH,
        commit_hash=SEED_COMMIT,
        image_uri=SEED_IMAGE,
        package_version=PACKAGE_VERSION,
        env=ENV,
        flows_to_deploy=flows_to_deploy,
        env_vars={"APP_ENV": ENV},
    )
    for info in infos:
        deployer.deploy(info)
    return len(infos)


def seed_list() -> int:
    """The SDK's listing: constructor (verifies credentials) plus `get_deployments()`."""
    from acme_portal_sdk.prefect.deployment_finder import PrefectDeploymentFinder  # type: ignore[import-untyped]

    finder = PrefectDeploymentFinder()
    if not finder.credentials_verified:
        raise BenchError("the seed's PrefectDeploymentFinder could not reach the server")
    return len(finder.get_deployments())


def seed_child(args: argparse.Namespace) -> int:
    """Entry point of the seed's fresh-interpreter runs; prints the count for the parent."""
    if args.sdk_child == "deploy":
        project = SeedProject(
            root=Path(args.sdk_root),
            package=args.sdk_package,
            project=args.sdk_project,
            static_config=Path(args.sdk_root) / "static_flow_deploy_config.yaml",
        )
        with quiet_stdout():
            count = seed_deploy(project)
    else:
        with quiet_stdout():
            count = seed_list()
    print(f"{CHILD_RESULT}{count}")
    return 0


def seed_child_command(mode: str, project: SeedProject | None = None) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--sdk-child", mode]
    if project is not None:
        command += [
            "--sdk-root",
            str(project.root),
            "--sdk-package",
            project.package,
            "--sdk-project",
            project.project,
        ]
    return command


def create_seed_pool() -> None:
    """A docker-type pool whose template has an `image` variable (see the module docstring)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    template = copy.deepcopy(ProcessWorker.get_default_base_job_template())
    template["variables"]["properties"]["image"] = {
        "title": "Image",
        "type": "string",
        "description": "Container image (the seed always sets one).",
    }
    template["job_configuration"]["image"] = "{{ image }}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=SEED_POOL, type="docker", base_job_template=template))


# -------------------------------------------------------------- our side


def our_deploy(root: Path, dry_run: bool = False) -> Any:
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.deploy import DeployRequest, deploy
    from flowportal.workspace import load_workspace

    request = DeployRequest(flows=("all",), env=ENV, dry_run=dry_run)
    return deploy(load_workspace(root), request, bootstrap())


def check_first_outcome(outcome: Any, flows: int) -> int:
    if outcome.failed:
        raise BenchError(f"flowportal: {len(outcome.failed)} writes failed: {outcome.failed[0].error}")
    if len(outcome.results) != flows:
        raise BenchError(f"flowportal wrote {len(outcome.results)} deployments, expected {flows}")
    return len(outcome.results)


def check_noop_outcome(outcome: Any, flows: int, what: str) -> int:
    """A re-deploy with nothing changed must plan nothing and write nothing."""
    if outcome.plan.has_changes or outcome.results:
        raise BenchError(
            f"{what}: expected no pending changes, got {len(outcome.plan.pending)} ({outcome.plan.summary()})"
        )
    if len(outcome.plan.changes) != flows:
        raise BenchError(f"{what}: plan covers {len(outcome.plan.changes)} flows, expected {flows}")
    return len(outcome.plan.changes)


def listing_specs(project: str, count: int, flows_per_branch: int = 100) -> list[Any]:
    """`count` deployments named `{project}--bNN--list-flow-NNN--dev`: many branches of 100 flows.

    Spread over branches rather than 1,000 flows so creating them needs only
    100 flow objects; the names still follow our scheme, so ours classifies
    them as managed.
    """
    from portal_core.deployments import DeploymentSpec
    from portal_core.names import DeploymentName
    from portal_core.tags import VersionTags

    specs = []
    for index in range(count):
        branch = f"b{index // flows_per_branch:02d}"
        key = f"list_flow_{index % flows_per_branch:03d}"
        name = DeploymentName.build(project, branch, key, ENV).format()
        specs.append(
            DeploymentSpec(
                name=name,
                flow_name=key,
                entrypoint=f"flows/{key}.py:{key}",
                description="generated for the listing benchmark",
                version=f"{PACKAGE_VERSION}+bench01",
                tags=VersionTags(project, branch, "bench01", PACKAGE_VERSION).to_tags(),
                work_pool_name=OUR_POOL,
                job_variables={"env": {"APP_ENV": ENV, "DEPLOYMENT_NAME": name}},
                paused=False,
                flow_key=key,
            )
        )
    return specs


# ------------------------------------------------------------- measuring


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    time.sleep(SETTLE_SECONDS)
    began = time.perf_counter()
    value = work()
    return time.perf_counter() - began, value


def run_timed(command: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float, str]:
    """Run a command end to end; fail loudly (with its stderr tail) if it fails."""
    time.sleep(SETTLE_SECONDS)
    began = time.perf_counter()
    proc = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{' '.join(command[:4])}... exited {proc.returncode}:\n{tail}")
    return seconds, proc.stdout


def child_count(stdout: str) -> int:
    for line in reversed(stdout.splitlines()):
        if line.startswith(CHILD_RESULT):
            return int(line.removeprefix(CHILD_RESULT))
    raise BenchError("the seed child printed no result line")


@dataclass
class Row:
    scenario: str
    mode: str  # "in-process" | "end to end"
    seed_seconds: float | None
    ours_seconds: float
    seed_count: int | None
    ours_count: int
    target: str
    target_ratio: float | None = None
    notes: str = ""
    ours_runs: list[float] = field(default_factory=list)  # every run when ours was repeated
    floor_seconds: float | None = None  # the raw-HTTP floor for the same writes, when it applies
    ratio: float | None = field(init=False, default=None)
    floor_ratio: float | None = field(init=False, default=None)
    passed: bool | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.seed_seconds is not None and self.ours_seconds > 0:
            self.ratio = self.seed_seconds / self.ours_seconds
        if self.floor_seconds:
            self.floor_ratio = self.ours_seconds / self.floor_seconds
        if self.target_ratio is not None and self.ratio is not None:
            self.passed = self.ratio >= self.target_ratio


def print_table(rows: Sequence[Row]) -> None:
    header = ("scenario", "mode", "seed s", "ours s", "floor s", "seed/ours", "ours/floor", "seed n",
              "ours n", "target", "ok")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.scenario,
                r.mode,
                f"{r.seed_seconds:.2f}" if r.seed_seconds is not None else "-",
                f"{r.ours_seconds:.2f}",
                f"{r.floor_seconds:.2f}" if r.floor_seconds else "-",
                f"{r.ratio:.1f}x" if r.ratio is not None else "-",
                f"{r.floor_ratio:.2f}x" if r.floor_ratio is not None else "-",
                str(r.seed_count) if r.seed_count is not None else "-",
                str(r.ours_count),
                r.target,
                {True: "PASS", False: "FAIL", None: ""}[r.passed],
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def print_side_tables(info: dict[str, Any]) -> None:
    print("\nraw-HTTP floor (same first-deploy writes, fewest requests):")
    for run in info.get("floor", []):
        print(f"  concurrency {run['concurrency']} ({run.get('when', '')}): {run['seconds']:.2f} s, "
              f"{run['requests']} requests, {run['busy']} answered 503")
    print("\nfirst deploys through PrefectGateway.apply, per write_concurrency:")
    for run in info.get("lost_writes", []):
        print(f"  {run['write_concurrency']:2d}: {run['seconds']:.2f} s, {run['on_server']}/{run['specs']} on the "
              f"server (lost {run['lost']}), {run['answered_503_or_429']} answered 503/429, "
              f"limit low {run['limit_lowest']}, peak in flight {run['peak_in_flight']}")


def profile_ours(base: Path, flows: int, api_url: str, write_concurrency: int | None) -> dict[str, Any]:
    """cProfile a first deploy and a no-op re-deploy of one more project; print and return the top.

    Separate from the timed runs, so the profiler's overhead never shows in the
    table. The full `.prof` files stay in the work directory (see `--keep`):
    they are for digging in, not for the repository.
    """
    import cProfile
    import io
    import pstats

    root = make_our_project(base, "prof", flows, api_url, write_concurrency)
    summary: dict[str, Any] = {}
    for label in ("first", "redeploy"):
        profiler = cProfile.Profile()
        profiler.enable()
        our_deploy(root)
        profiler.disable()
        path = base / f"ours-{label}.prof"
        profiler.dump_stats(str(path))
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(25)
        table = buffer.getvalue().split("\n\n", 1)[-1].rstrip()
        print(f"\n--- cProfile, ours, {label} deploy (top 25 by cumulative time; {path}) ---")
        print(table)
        summary[label] = table.splitlines()
    return summary


# ------------------------------------------------------------------- main


@dataclass(frozen=True)
class Setup:
    """What every scenario needs: the server, the work dir and the generated projects."""

    args: argparse.Namespace
    base: Path
    url: str
    child_env: dict[str, str]
    seed_a: SeedProject  # timed in-process
    seed_b: SeedProject  # timed end to end
    ours_a: Path  # timed in-process
    ours_b: Path  # timed end to end

    @property
    def flows(self) -> int:
        return int(self.args.flows)

    @property
    def cli_deploy(self) -> list[str]:
        return [sys.executable, "-m", "flowportal.cli", "deploy", "--flow", "all", "--env", ENV]

    def gateway(self, write_concurrency: int | None = None) -> Any:
        from portal_io.prefect_gateway import PrefectGateway

        return PrefectGateway(self.url, write_concurrency=write_concurrency or 2)

    def on_server(self, project: str) -> int:
        return len(self.gateway().read_deployments(tags_all=[f"PROJECT_NAME={project}"]))

    def seed_inprocess(self) -> int:
        forget_modules(self.seed_a.package)
        with working_directory(self.seed_a.root), quiet_stdout():
            return seed_deploy(self.seed_a)

    def seed_end_to_end(self) -> tuple[float, int]:
        seconds, out = run_timed(
            seed_child_command("deploy", self.seed_b), self.seed_b.root, self.child_env, DEPLOY_CHILD_TIMEOUT
        )
        return seconds, child_count(out)


def warm_up() -> float:
    """Import prefect and both tools once, so in-process timings compare work, not imports."""
    seconds, _ = timed(
        lambda: [
            importlib.import_module(name)
            for name in (
                "prefect",
                "prefect.flows",
                "prefect.deployments.runner",
                "prefect.client.orchestration",
                "prefect.utilities.callables",
                "acme_portal_sdk.prefect.flow_deploy",
                "acme_portal_sdk.prefect.deployment_finder",
                "flowportal.usecases.deploy",
                "flowportal.usecases.list_deployments",
                "portal_io.prefect_gateway",
            )
        ]
    )
    return seconds


def planned_specs(s: Setup, tag: str) -> list[Any]:
    """The specs a first deploy of a new generated project would write (a dry run plans them)."""
    root = make_our_project(s.base, tag, s.flows, s.url, s.args.write_concurrency)
    outcome = our_deploy(root, dry_run=True)
    return [change.spec for change in outcome.plan.pending]


def floor_deploy(url: str, specs: Sequence[Any], concurrency: int) -> dict[str, Any]:
    """The fewest requests for a first deploy of `specs`, as raw HTTP: per flow one
    POST /flows/ and one POST /deployments/ (the same bodies flowportal sends),
    `concurrency` keep-alive connections, no reads, no planning, no pacing. A 503
    is retried after 50 ms (at concurrency 1-2 there should be none); they are counted.
    """
    import http.client
    import queue
    import threading
    import urllib.parse

    from portal_io.prefect_api.payloads import deployment_body, flow_body

    parts = urllib.parse.urlsplit(url)
    base = parts.path.rstrip("/")
    work: queue.Queue[Any] = queue.Queue()
    for spec in specs:
        work.put(spec)
    counts = {"requests": 0, "busy": 0, "failed": 0, "reconnects": 0}
    lock = threading.Lock()

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def post(connections: list[http.client.HTTPConnection], path: str, body: Any) -> Any:
        """POST on this worker's keep-alive connection; a connection the server closed is
        replaced and the (idempotent) request sent again, as any HTTP client does."""
        data = json.dumps(body).encode()
        while True:
            try:
                connections[0].request("POST", base + path, body=data,
                                       headers={"Content-Type": "application/json"})
                answer = connections[0].getresponse()
                payload = answer.read()
            except (ConnectionError, http.client.HTTPException):
                connections[0].close()
                connections[0] = connect()
                with lock:
                    counts["reconnects"] += 1
                continue
            if answer.will_close:
                connections[0].close()
                connections[0] = connect()
            with lock:
                counts["requests"] += 1
                counts["busy"] += answer.status == 503
            if answer.status != 503:
                break
            time.sleep(0.05)
        if answer.status >= 300:
            raise BenchError(f"floor: {path} answered {answer.status}: {payload[:200]!r}")
        return json.loads(payload)

    def worker() -> None:
        connections = [connect()]
        try:
            while True:
                try:
                    spec = work.get_nowait()
                except queue.Empty:
                    return
                flow_id = post(connections, "/flows/", flow_body(spec.flow_name))["id"]
                post(connections, "/deployments/", deployment_body(spec, flow_id))
        except BenchError:
            with lock:
                counts["failed"] += 1
            raise
        finally:
            connections[0].close()

    time.sleep(SETTLE_SECONDS)
    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return {"concurrency": concurrency, "seconds": seconds, **counts}


def floor(s: Setup, info: dict[str, Any], levels: Sequence[int] = (1, 2), when: str = "") -> tuple[float, int]:
    """(d): the raw-HTTP floor at each concurrency of `levels`; returns the best (seconds,
    concurrency). `when` tells runs at different moments of the benchmark apart."""
    from portal_io.prefect_gateway import PrefectGateway

    PrefectGateway(s.url).create_work_pool(OUR_POOL, "process")  # when no first deploy made it
    runs = []
    for concurrency in levels:
        tag = f"floor{concurrency}" + ("late" + "".join(ch for ch in when if ch.isdigit()) if when else "")
        specs = planned_specs(s, tag)
        run = floor_deploy(s.url, specs, concurrency)
        run["on_server"] = s.on_server(f"fp-{tag}")
        run["when"] = when or "after ours in-process"
        if run["on_server"] != len(specs):
            raise BenchError(f"floor c={concurrency}: {run['on_server']} on the server, expected {len(specs)}")
        print(f"(d) floor{' ' + when if when else ''}, concurrency {concurrency}: {run['seconds']:.2f} s, "
              f"{run['requests']} requests ({run['busy']} answered 503)", flush=True)
        runs.append(run)
    info.setdefault("floor", []).extend(runs)
    best = min(runs, key=lambda run: run["seconds"])
    return best["seconds"], best["concurrency"]


def lost_writes(s: Setup, info: dict[str, Any]) -> None:
    """(e): first deploys through the gateway at each write_concurrency; count what arrived."""
    from portal_io.prefect_gateway import PrefectGateway

    runs = []
    PrefectGateway(s.url).create_work_pool(OUR_POOL, "process")  # when no first deploy made it
    levels = [int(level) for level in s.args.levels.split(",")]
    for index, concurrency in enumerate(levels):
        tag = f"lost{index}c{concurrency}"
        specs = planned_specs(s, tag)
        gateway = PrefectGateway(s.url, write_concurrency=concurrency)
        seconds, results = timed(functools.partial(gateway.apply, specs))
        on_server = s.on_server(f"fp-{tag}")
        pacing = gateway.last_pacing
        run = {
            "write_concurrency": concurrency,
            "seconds": seconds,
            "specs": len(specs),
            "ok": sum(1 for r in results if r.ok),
            "on_server": on_server,
            "lost": len(specs) - on_server,
            "first_error": next((r.error for r in results if not r.ok), None),
            "requests": dict(gateway.http.sent),
            "answered_503_or_429": pacing.refusals if pacing else None,
            "window_shrinks": pacing.decreases if pacing else None,
            "limit_lowest": pacing.lowest if pacing else None,
            "peak_in_flight": pacing.peak_in_flight if pacing else None,
        }
        runs.append(run)
        print(f"(e) write_concurrency {concurrency:2d}: {seconds:.2f} s, {run['ok']}/{len(specs)} ok, "
              f"{on_server} on the server, {run['answered_503_or_429']} answered 503/429, "
              f"limit went down to {run['limit_lowest']}", flush=True)
    info["lost_writes"] = runs
    if any(run["lost"] for run in runs):
        raise BenchError(f"lost writes: {[(r['write_concurrency'], r['lost']) for r in runs]}; "
                         f"first error: {next(r['first_error'] for r in runs if r['first_error'])}")


def first_deploy(s: Setup, info: dict[str, Any], with_floor: bool) -> list[Row]:
    """(a), with the floor (d) timed right after ours in-process: on a shared machine
    the load drifts within minutes, and the two are compared with each other."""
    n = s.flows
    target = f">= {TARGET_FIRST}x"
    print(f"(a) first deploy of {n} flows: seed in-process ...", flush=True)
    seed_s, seed_n = timed(s.seed_inprocess)
    print(f"    seed {seed_s:.1f} s; ours in-process ...", flush=True)
    ours_s, outcome = timed(lambda: our_deploy(s.ours_a))
    ours_n = check_first_outcome(outcome, n)
    print(f"    ours {ours_s:.1f} s", flush=True)
    floor_s, best_level = floor(s, info) if with_floor else (None, 1)
    rows = [
        Row(
            "first deploy",
            "in-process",
            seed_s,
            ours_s,
            seed_n,
            ours_n,
            target,
            TARGET_FIRST,
            "ours includes creating the work pool",
            floor_seconds=floor_s,
        ),
    ]
    print("    seed end to end ...", flush=True)
    seed_s, seed_n = s.seed_end_to_end()
    print(f"    seed {seed_s:.1f} s; ours CLI ...", flush=True)
    # Each CLI run on a new project, each followed by a floor: the server's pace drifts
    # by a tenth or more between single runs, and medians of neighbours compare the tool.
    runs, floors, projects = [], [], []
    for index in range(s.args.first_runs):
        tag = "b" if index == 0 else f"b{index}"
        root = s.ours_b if index == 0 else make_our_project(s.base, tag, n, s.url, s.args.write_concurrency)
        projects.append(f"fp-{tag}")
        ours_s, _ = run_timed(s.cli_deploy, root, s.child_env, DEPLOY_CHILD_TIMEOUT)
        runs.append(ours_s)
        print(f"    ours {ours_s:.1f} s", flush=True)
        if with_floor:  # the server has grown meanwhile: compare with a floor of the same moment
            floors.append(floor(s, info, (best_level,), f"after-e2e-{index + 1}")[0])
    rows.append(
        Row(
            "first deploy",
            "end to end",
            seed_s,
            statistics.median(runs),
            seed_n,
            s.on_server("fp-b"),
            target,
            TARGET_FIRST,
            "ours: python -m flowportal.cli deploy --flow all --env dev"
            + (f"; median of {len(runs)} runs, each on a new project, each followed by a floor run "
               "(the floor: their median)" if len(runs) > 1 else ""),
            runs if len(runs) > 1 else [],
            floor_seconds=statistics.median(floors) if floors else floor_s,
        )
    )
    for project in ("seed-a", "seed-b", "fp-a", *projects):
        found = s.on_server(project)
        if found != n:
            raise BenchError(f"{project}: {found} deployments on the server, expected {n}")
    return rows


def redeploy(s: Setup) -> list[Row]:
    n = s.flows
    target = f">= {TARGET_REDEPLOY:g}x"
    print("(b) re-deploy, nothing changed: seed in-process ...", flush=True)
    seed_s, seed_n = timed(s.seed_inprocess)
    runs = []
    for _ in range(s.args.repeat):
        ours_s, outcome = timed(lambda: our_deploy(s.ours_a))
        ours_n = check_noop_outcome(outcome, n, "flowportal in-process re-deploy")
        runs.append(ours_s)
    rows = [
        Row(
            "re-deploy, unchanged",
            "in-process",
            seed_s,
            statistics.median(runs),
            seed_n,
            ours_n,
            target,
            TARGET_REDEPLOY,
            f"ours: median of {len(runs)}; each plan had no pending changes",
            runs,
        ),
    ]
    print(f"    seed {seed_s:.1f} s, ours {rows[-1].ours_seconds:.2f} s; end to end ...", flush=True)
    seed_s, seed_n = s.seed_end_to_end()
    runs = []
    for _ in range(s.args.repeat):
        ours_s, _ = run_timed(s.cli_deploy, s.ours_b, s.child_env, DEPLOY_CHILD_TIMEOUT)
        runs.append(ours_s)
    ours_n = check_noop_outcome(our_deploy(s.ours_b, dry_run=True), n, "flowportal CLI re-deploy")
    rows.append(
        Row(
            "re-deploy, unchanged",
            "end to end",
            seed_s,
            statistics.median(runs),
            seed_n,
            ours_n,
            target,
            TARGET_REDEPLOY,
            f"ours: median of {len(runs)}; a dry run afterwards shows no pending changes",
            runs,
        )
    )
    print(f"    seed {seed_s:.1f} s, ours {rows[-1].ours_seconds:.2f} s", flush=True)
    return rows


def listing(s: Setup, info: dict[str, Any]) -> list[Row]:
    """Create `--deployments` for one more project, then list with both tools."""
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.list_deployments import list_deployments
    from flowportal.workspace import load_workspace

    total = s.args.deployments
    print(f"(c) creating {total} deployments for the listing ...", flush=True)
    list_root = make_our_project(s.base, "list", 1, s.url, s.args.write_concurrency)
    specs = listing_specs("fp-list", total)
    create_s, results = timed(lambda: s.gateway(s.args.write_concurrency).apply(specs))
    failed = [r for r in results if not r.ok]
    if failed:
        raise BenchError(f"creating listing deployments: {len(failed)} failed: {failed[0].error}")
    server_total = len(s.gateway().read_deployments())
    info["listing_setup"] = {"created": len(results), "seconds": create_s, "server_total": server_total}
    print(f"    created {len(results)} in {create_s:.1f} s; listing ...", flush=True)

    target = f"all {total} (seed {SEED_LIST_CAP})"
    with quiet_stdout():
        seed_s, seed_n = timed(seed_list)
    ours_s, found = timed(lambda: list_deployments(load_workspace(list_root), None, bootstrap()))
    managed, others = len(found.inventory.managed), len(found.inventory.others)
    rows = [
        Row(
            f"list {total} deployments",
            "in-process",
            seed_s,
            ours_s,
            seed_n,
            managed,
            target,
            None,
            f"ours: list_deployments, managed for fp-list; also read {others} others; "
            f"server holds {server_total}",
        ),
    ]
    raw_s, states = timed(lambda: s.gateway().read_deployments())
    rows.append(
        Row(
            "read every deployment",
            "in-process",
            seed_s,
            raw_s,
            seed_n,
            len(states),
            f"all {server_total}",
            None,
            "ours: PrefectGateway.read_deployments(), with flow names",
        )
    )
    seed_s, out = run_timed(seed_child_command("list"), s.base, s.child_env, LIST_CHILD_TIMEOUT)
    seed_n = child_count(out)
    ours_s, out = run_timed(
        [sys.executable, "-m", "flowportal.cli", "list-deployments", "--json"],
        list_root,
        s.child_env,
        LIST_CHILD_TIMEOUT,
    )
    records = len(json.loads(out))
    rows.append(
        Row(
            f"list {total} deployments",
            "end to end",
            seed_s,
            ours_s,
            seed_n,
            records,
            target,
            None,
            "ours: flowportal list-deployments --json",
        )
    )
    info["listing_all_returned"] = managed == total and records == total
    return rows


def free_port() -> int:
    """A free loopback port: never 4200, where a developer's own server may run."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_benchmark(args: argparse.Namespace) -> int:
    from portal_io.local_server import LocalServer

    stamp = dt.date.today().isoformat()
    base = Path(tempfile.mkdtemp(prefix="flowportal-bench-deploy-"))
    server = LocalServer(state_dir=base / "server", port=free_port(), ui=False,
                         database_url=args.database_url, notify=lambda m: print(f"server: {m}"))
    info: dict[str, Any] = {"backend": "postgresql" if args.database_url else "sqlite"}
    try:
        print(f"work dir {base}; starting a local Prefect server ...", flush=True)
        url = server.ensure_running(timeout=SERVER_START_TIMEOUT)
        info["server_start_seconds"] = server.last_start_seconds
        print(f"server {url} up in {server.last_start_seconds or 0:.1f} s", flush=True)
        # Before prefect is imported anywhere: its settings are read at import time.
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_HOME"] = str(base / "client-home")
        info["warmup_import_seconds"] = warm_up()
        print(f"imports warmed in {info['warmup_import_seconds']:.1f} s; generating projects ...", flush=True)
        setup = Setup(
            args=args,
            base=base,
            url=url,
            child_env=dict(os.environ),
            seed_a=make_seed_project(base, "a", args.flows),
            seed_b=make_seed_project(base, "b", args.flows),
            ours_a=make_our_project(base, "a", args.flows, url, args.write_concurrency),
            ours_b=make_our_project(base, "b", args.flows, url, args.write_concurrency),
        )
        setup.gateway().read_deployments()  # the fresh server's first request: nobody's time
        create_seed_pool()

        only = set(args.only.split(",")) if args.only else set(SCENARIOS)
        rows = first_deploy(setup, info, with_floor="floor" in only) if "first" in only else []
        if "floor" in only and "first" not in only:
            floor(setup, info)
        if "redeploy" in only:
            if "first" not in only:
                raise BenchError("the redeploy scenario needs the first deploy")
            rows += redeploy(setup)
        if "listing" in only:
            rows += listing(setup, info)
        if "lost" in only:
            lost_writes(setup, info)
        print()
        print_table(rows)
        print_side_tables(info)
        if "listing" in only:
            print(
                f"\nlisting: ours returned all {args.deployments}: "
                f"{'PASS' if info['listing_all_returned'] else 'FAIL'}; the seed returned "
                f"{rows[-1].seed_count} of {info['listing_setup']['server_total']} on the server"
            )
        if args.profile:
            info["profile"] = profile_ours(base, args.flows, url, args.write_concurrency)
        write_results(args, stamp, rows, info)
        return 0
    finally:
        print(f"server stopped: {server.stop()}", flush=True)
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def write_results(args: argparse.Namespace, stamp: str, rows: Sequence[Row], info: dict[str, Any]) -> Path:
    """Keep each day's numbers next to the benchmark, with what produced them."""
    from importlib.metadata import version

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(args.output) if args.output else RESULTS_DIR / f"deploy-{stamp}.json"
    document = {
        "benchmark": "deploy",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": {
            "flows": args.flows,
            "deployments": args.deployments,
            "write_concurrency": args.write_concurrency or "default",
            "repeat": args.repeat,
            "only": args.only or "all",
            "settle_seconds": SETTLE_SECONDS,
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "prefect": version("prefect"),
            "acme_portal_sdk": version("acme_portal_sdk"),
        },
        "targets": {
            "first_deploy_ratio": TARGET_FIRST,
            "redeploy_ratio": TARGET_REDEPLOY,
            "listing": f"all {args.deployments} returned; the seed returns {SEED_LIST_CAP}",
        },
        "rows": [asdict(r) for r in rows],
        **info,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {path}")
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--flows", type=int, default=100, help="flows per deploy scenario")
    parser.add_argument("--deployments", type=int, default=1000, help="deployments to list")
    parser.add_argument(
        "--write-concurrency",
        type=int,
        default=None,
        help="written into the generated projects (default: flowportal's default)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of ours per re-deploy scenario, median reported (they write nothing); seed runs once",
    )
    parser.add_argument(
        "--first-runs",
        type=int,
        default=3,
        help="end-to-end first deploys of ours (each on a new project, each followed by a floor run), "
        "median reported",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile our deploy on one more project (untimed)"
    )
    parser.add_argument(
        "--levels",
        default="1,2,4,8,16",
        help="write_concurrency of each lost-writes run, in order; repeat levels to interleave them",
    )
    parser.add_argument("--only", help=f"comma-separated scenarios (default all): {','.join(SCENARIOS)}")
    parser.add_argument(
        "--database-url",
        help="run the server on this database (e.g. postgresql+asyncpg://postgres@127.0.0.1:PORT/db) "
        "instead of SQLite",
    )
    parser.add_argument("--output", help="results file (default: benchmarks/results/deploy-<date>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects and server dir")
    # The seed's fresh-interpreter runs re-enter this file through these.
    parser.add_argument("--sdk-child", choices=("deploy", "list"), help=argparse.SUPPRESS)
    parser.add_argument("--sdk-root", help=argparse.SUPPRESS)
    parser.add_argument("--sdk-package", help=argparse.SUPPRESS)
    parser.add_argument("--sdk-project", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only and not set(args.only.split(",")) <= set(SCENARIOS):
        parser.error(f"--only takes a comma-separated subset of {','.join(SCENARIOS)}")
    if args.flows < 1 or args.deployments < 1 or args.repeat < 1 or args.first_runs < 1:
        parser.error("--flows, --deployments, --repeat and --first-runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sdk_child:
        return seed_child(args)
    try:
        return run_benchmark(args)
    except BenchError as err:
        print(f"benchmark failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
