"""Flow discovery: flowportal vs the seed SDK, side by side in one run.

    python benchmarks/discovery.py [--files 5000] [--repeat 3] [--flow-share 0.02] [--no-seed]
                                   [--cli-runs 5]

Generates a deterministic tree of N Python files (about 22 MB for 5,000: mostly
ordinary modules, some Prefect task modules that mention flows, some flow
modules in every decorator style, some `@app.flow` decoys, a broken file, all
in nested folders) under `benchmarks/.work/` (git-ignored), then times:

* the seed SDK, `acme_portal_sdk.prefect.flow_finder.PrefectFlowFinder(...).find_flows()`
  (its per-file `print`s go to /dev/null, which only flatters it);
* flowportal cold (no cache), best of `--repeat`;
* flowportal writing its cache (one run);
* flowportal warm (cache present, nothing changed), best of `--repeat`;
* as whole processes (`--cli-runs`, default 5, 0 skips), with the cache warm:
  `flowportal list-flows --root <tree>` against `flowportal list-flows` in a
  project whose `flows_root` is the same tree, as a ratio (target: `--root`
  within 1.2x of project mode, both reading their discovery cache).

Every contender reads files the OS has just cached in memory, so the numbers
compare parsing work, not disk speed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"

WORDS = (
    "account", "order", "invoice", "customer", "payment", "shipment", "ledger", "balance",
    "report", "metric", "event", "session", "device", "region", "channel", "campaign",
    "product", "stock", "price", "tax", "refund", "partner", "vendor", "contract", "budget",
    "forecast", "cohort", "segment", "signal", "window", "batch",
)


@attrs.frozen
class Tree:
    root: Path
    files: int
    size: int
    flows: int  # flows flowportal must find
    seed_visible: int  # flows written as a call on a `.flow`/`flow` name, as the seed sees them


def _ident(rng: random.Random, parts: int = 2) -> str:
    return "_".join(rng.choice(WORDS) for _ in range(parts))


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _function(rng: random.Random, name: str, indent: str = "") -> str:
    """A function in the style of a typical internal codebase: documented, commented."""
    args = [_ident(rng, 1) + f"_{i}" for i in range(rng.randint(0, 4))]
    body = [f'"""Compute the {_sentence(rng, 4, 12)}.', ""]
    words = (_sentence(rng, 10, 40).capitalize() + ".").split(" ")
    body += [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    if args:
        body += ["", "Args:"] + [f"    {a}: the {_sentence(rng, 2, 8)}." for a in args]
    body += ["", "Returns:", f"    The {_sentence(rng, 2, 6)} total.", '"""', "total = 0"]
    for arg in args:
        body.append(f"total += len(str({arg}))")
    for _ in range(rng.randint(2, 8)):
        choice = rng.randrange(6)
        var = _ident(rng)
        if choice == 0:
            body.append(f"{var} = [x * 2 for x in range(total) if x % 3]")
        elif choice == 1:
            body.append(f"# {_sentence(rng, 4, 14)}")
            body.append(f"{var} = {{k: v for k, v in enumerate({rng.choice(WORDS)!r})}}")
        elif choice == 2:
            body.append(f"if total > {rng.randint(1, 99)}:\n    total -= {rng.randint(1, 9)}")
        elif choice == 3:
            body.append(f"for item in range({rng.randint(2, 20)}):\n    total += item")
        elif choice == 4:
            body.append(f"logging.getLogger(__name__).debug({_sentence(rng, 3, 9)!r})")
        else:
            body.append(f"{var} = {_sentence(rng, 3, 10)!r}")
        if rng.random() < 0.3:
            body.append("")
    body.append("return total")
    signature = ", ".join(f"{a}: object = None" for a in args)
    text = f"def {name}({signature}) -> int:\n" + textwrap.indent("\n".join(body), "    ")
    return textwrap.indent(text, indent) + "\n"


def _class(rng: random.Random, name: str) -> str:
    methods = "\n".join(
        _function(rng, f"{_ident(rng, 1)}_{i}", "    ").replace("(", "(self, ", 1).replace(
            "(self, )", "(self)"
        )
        for i in range(rng.randint(1, 4))
    )
    return f'class {name}:\n    """A {_ident(rng, 3).replace("_", " ")} helper."""\n\n{methods}'


def _padding(rng: random.Random, target: int, counter: list[int]) -> list[str]:
    chunks: list[str] = []
    size = 0
    while size < target:
        counter[0] += 1
        if rng.random() < 0.25:
            chunk = _class(rng, f"{_ident(rng).title().replace('_', '')}{counter[0]}")
        else:
            chunk = _function(rng, f"{_ident(rng)}_{counter[0]}")
        chunks.append(chunk)
        size += len(chunk)
    return chunks


HEADER = [
    "import json",
    "import logging",
    "import os",
    "from dataclasses import dataclass",
    "from typing import Any",
]

PLAIN_DOCS = [
    "Helpers for the {w} pipeline.",
    "The {w} workflow: load, validate, store.",  # mentions 'flow' (in 'workflow')
    "Cash flow calculations for {w} accounts.",
    "Utilities shared by the {w} services.",
]

# (import lines, decorator, is_async, visible to the seed SDK)
FLOW_STYLES: list[tuple[str, str, bool, bool]] = [
    ("from prefect import flow", "@flow(name={name!r}, retries=1)", False, True),
    ("from prefect import flow", "@flow", False, False),
    ("import prefect", "@prefect.flow", False, False),
    ("import prefect", "@prefect.flow(log_prints=True)", False, True),
    ("from prefect import flow as pflow", "@pflow", False, False),
    ("from prefect import flow", "@flow(description='async one')", True, False),
    ("from prefect.flows import flow", "@flow()", False, True),
]


def generate(
    files: int,
    seed: int = 42,
    flow_share: float = 0.02,
    target_bytes: int | None = None,
) -> Tree:
    """Write the tree (replacing a previous one) and return what it contains.

    `flow_share` is the fraction of modules that define flows (1-2 each). The
    default, 2% (about 150 flows in 5,000 files), is the scale of the 100-flow
    deploy benchmark; it is the one parameter our cold time depends on,
    since only such modules are parsed. Another 6% are Prefect task modules that
    talk about flows and 0.4% are `@app.flow` decoys: both pass the cheap
    textual check and must be told apart by parsing.
    """
    rng = random.Random(seed)
    root = WORK / f"tree-{files}"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    target_bytes = target_bytes or files * 4400
    mean = target_bytes / files
    (root / ".gitignore").write_text("generated/\n*_pb2.py\n")
    folders = [
        "/".join(f"{rng.choice(WORDS)}_{d}" for d in range(rng.randint(1, 4)))
        for _ in range(max(1, files // 20))
    ]
    counter = [0]
    total = flows = seed_visible = 0
    for index in range(files):
        folder = rng.choice(folders)
        kind = rng.random()
        # Long-tailed sizes like a real codebase; 0.635 offsets the padding's
        # overshoot so that the tree lands near `target_bytes`.
        size = int(min(max(rng.lognormvariate(0, 0.6) * mean * 0.635, 300), mean * 8))
        lines = [f'"""{rng.choice(PLAIN_DOCS).format(w=rng.choice(WORDS))}"""', "", *HEADER]
        body: list[str] = []
        if index == files // 2:
            name = "broken_module.py"
            lines += ["from prefect import flow", ""]
            body = ["@flow", "def broken(:", "    pass"]
        elif kind < flow_share:  # a flow module, one or two flows
            name = f"flows_{index}.py"
            imports, decorator, is_async, visible = FLOW_STYLES[index % len(FLOW_STYLES)]
            lines.append(imports)
            if imports.startswith("from prefect import flow") and "as" not in imports:
                lines[-1] = imports + ", task"
            for n in range(rng.randint(1, 2)):
                fname = f"{_ident(rng)}_flow_{index}_{n}"
                deco = decorator.format(name=fname.replace("_", "-"))
                func = _function(rng, fname)
                if is_async:
                    func = "async " + func
                body.append(f"{deco}\n{func}")
                flows += 1
                seed_visible += visible
        elif kind < flow_share + 0.06:  # prefect tasks, talking about the flows that use them
            name = f"tasks_{index}.py"
            lines.append("from prefect import task, get_run_logger")
            lines.append("# These tasks are used by the ingestion flow.")
            body.append(f"@task\n{_function(rng, f'{_ident(rng)}_task_{index}')}")
        elif kind < flow_share + 0.064:  # an unrelated `.flow` decorator near a prefect import
            name = f"app_{index}.py"
            lines += ["from prefect import task", "", "app: Any = None", ""]
            body.append(f"@app.flow(name='x{index}')\n{_function(rng, f'app_thing_{index}')}")
        else:
            name = f"{_ident(rng)}_{index}.py"
        lines.append("")
        text = "\n".join(lines) + "\n\n" + "\n\n".join(body) + "\n\n"
        text += "\n\n".join(_padding(rng, size - len(text), counter))
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.encode("utf-8"))
    # Ignored material that must not be scanned: a virtualenv and a gitignored folder.
    for ignored in (".venv/lib/site.py", "generated/gen_flow.py"):
        path = root / ignored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("from prefect import flow\n\n@flow\ndef not_ours() -> None: ...\n")
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return Tree(root, files, total, flows, seed_visible)


@attrs.frozen
class Timing:
    """Wall-clock and CPU seconds of one contender, and the flows it reported.

    CPU time is shown too because shared machines are noisy: the ratio of CPU
    times is what the code costs, the ratio of wall times is what a user waits.
    """

    wall: float
    cpu: float
    flows: int


def measure(run: Callable[[], int], repeat: int = 1) -> Timing:
    """Best wall and best CPU time over `repeat` runs."""
    wall = cpu = float("inf")
    flows = 0
    for _ in range(repeat):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        flows = run()
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return Timing(wall, cpu, flows)


def seed_runner(tree: Tree) -> Callable[[], int] | str:
    try:
        from acme_portal_sdk.prefect.flow_finder import PrefectFlowFinder
    except ImportError as exc:
        return f"acme_portal_sdk not installed ({exc}); `pip install acme_portal_sdk==1.2.0`"
    finder = PrefectFlowFinder(root_dir=str(tree.root))

    def run() -> int:
        # The seed prints a line per file; sending it to /dev/null only flatters it.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(
            sink
        ), contextlib.redirect_stderr(sink):
            return len(finder.find_flows())

    return run


PROJECT_CONFIG = """\
# Written by benchmarks/discovery.py: the generated tree as a flowportal project.
flows_root: .
environments:
  dev: {}
"""


def make_project(tree: Tree) -> None:
    """Turn the tree's root into a project whose `flows_root` is the whole tree, so that
    project mode and `--root` scan exactly the same files."""
    (tree.root / "config").mkdir(exist_ok=True)
    (tree.root / "config" / "environments.yaml").write_text(PROJECT_CONFIG)
    (tree.root / "pyproject.toml").write_text('[project]\nname = "discovery-bench"\n')


def _console_script() -> str:
    beside = Path(sys.executable).parent / "flowportal"
    return str(beside) if beside.exists() else shutil.which("flowportal") or "flowportal"


def run_process(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds of one fresh process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout


def compare_root_and_project(tree: Tree, runs: int) -> tuple[Timing, Timing]:
    """Median wall and CPU of `list-flows --root TREE` and of `list-flows` in the project.

    Both run warm: the discovery cache (the user's cache for `--root`, keyed by the
    directory; `.portal/cache` for the project) and the project's config memo are
    written by untimed runs first. The timed runs alternate, so load changes hit
    both alike. The flows listed must be the same.
    """
    for package in ("portal_core", "portal_io", "flowportal"):
        compileall.compile_dir(str(REPO / package), quiet=1)
    make_project(tree)
    env = {**os.environ, "XDG_CACHE_HOME": str(WORK / "xdg-cache")}
    shutil.rmtree(WORK / "xdg-cache", ignore_errors=True)
    shutil.rmtree(tree.root / ".portal", ignore_errors=True)
    script = _console_script()
    with_root = [script, "list-flows", "--json", "--root", str(tree.root)]
    in_project = [script, "list-flows", "--json"]
    time.sleep(1.1)  # config just written: the memo only trusts files settled for a second
    outputs = {}
    for argv in (with_root, in_project, with_root, in_project):
        outputs[argv is with_root] = run_process(argv, tree.root, env)[2]
    keys = {mode: sorted(r["name"] for r in json.loads(out)) for mode, out in outputs.items()}
    if keys[True] != keys[False]:
        raise SystemExit("list-flows --root and project mode listed different flows")
    timings: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(runs):
        for argv in (with_root, in_project):
            wall, cpu, _out = run_process(argv, tree.root, env)
            timings[argv is with_root].append((wall, cpu))

    def median(mode: bool) -> Timing:
        walls, cpus = zip(*timings[mode], strict=True)
        return Timing(statistics.median(walls), statistics.median(cpus), len(keys[mode]))

    return median(True), median(False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; best is kept")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the generator")
    parser.add_argument(
        "--flow-share", type=float, default=0.02, help="fraction of modules defining flows"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not time the seed SDK")
    parser.add_argument("--cli-runs", type=int, default=5,
                        help="whole-process runs of list-flows --root vs project mode (0: skip)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from portal_io.source_tree import scan_tree

    start = time.perf_counter()
    tree = generate(args.files, args.seed, args.flow_share)
    print(
        f"generated {tree.files} files, {tree.size / 1e6:.1f} MB, {tree.flows} flows "
        f"({tree.seed_visible} in the seed's `@...flow(...)` style) in "
        f"{time.perf_counter() - start:.1f} s under {tree.root.relative_to(REPO)}"
    )

    cache_dir = WORK / f"cache-{args.files}"
    if cache_dir.exists():
        shutil.rmtree(cache_dir)

    rows: list[tuple[str, Timing]] = []
    seed: Timing | None = None
    runner = None if args.no_seed else seed_runner(tree)
    if isinstance(runner, str):
        print(runner)
    elif runner is not None:
        seed = measure(runner)
        rows.append(("seed SDK find_flows()", seed))

    def ours(cache: Path | None) -> Callable[[], int]:
        def run() -> int:
            return len(scan_tree(tree.root, cache_dir=cache).discovery.flows)

        return run

    best = f"best of {args.repeat}"
    rows.append((f"flowportal cold, {best}", measure(ours(None), args.repeat)))
    rows.append(("flowportal cold + cache write", measure(ours(cache_dir))))
    rows.append((f"flowportal warm, {best}", measure(ours(cache_dir), args.repeat)))

    check = scan_tree(tree.root, cache_dir=cache_dir)
    print(
        f"flowportal: {check.files_seen} files walked, {check.files_parsed} parsed, "
        f"{check.cache_hits} cache hits, errors: {[e.format() for e in check.discovery.errors]}"
    )
    ok = len(check.discovery.flows) == tree.flows
    if not ok:
        print(f"MISMATCH: expected {tree.flows} flows, found {len(check.discovery.flows)}")

    print()
    header = f"{'contender':32} {'wall s':>8} {'cpu s':>8} {'flows':>6} {'seed/ours wall':>15} {'cpu':>7}"
    print(header)
    print("-" * len(header))
    for label, t in rows:
        if seed is None:
            ratios = f"{'-':>15} {'-':>7}"
        else:
            ratios = f"{seed.wall / t.wall:14.1f}x {seed.cpu / t.cpu:6.1f}x"
        print(f"{label:32} {t.wall:8.4f} {t.cpu:8.4f} {t.flows:6d} {ratios}")
    if args.cli_runs > 0:
        with_root, in_project = compare_root_and_project(tree, args.cli_runs)
        print()
        print(f"whole process, warm, median of {args.cli_runs} (`flowportal list-flows --json`):")
        header = f"{'mode':32} {'wall s':>8} {'cpu s':>8} {'flows':>6}"
        print(header)
        print("-" * len(header))
        for label, t in (("--root <tree>", with_root), ("project (flows_root: the tree)", in_project)):
            print(f"{label:32} {t.wall:8.4f} {t.cpu:8.4f} {t.flows:6d}")
        ratio_wall, ratio_cpu = with_root.wall / in_project.wall, with_root.cpu / in_project.cpu
        verdict = "PASS" if ratio_wall <= 1.2 else "FAIL"
        print(f"--root / project: wall {ratio_wall:.2f}x, cpu {ratio_cpu:.2f}x "
              f"(target <= 1.2x wall): {verdict}")
        ok = ok and ratio_wall <= 1.2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
