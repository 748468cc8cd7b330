"""Flow discovery: flowportal vs the seed SDK, side by side in one run (SPEC section 8).

    python benchmarks/discovery.py [--files 5000] [--repeat 3] [--no-seed]

Generates a deterministic tree of N Python files (about 22 MB for 5,000: mostly
ordinary modules, some Prefect task modules that mention flows, some flow
modules in every decorator style, some `@app.flow` decoys, a broken file, all
in nested folders) under `benchmarks/.work/` (git-ignored), then times:

* the seed SDK, `acme_portal_sdk.prefect.flow_finder.PrefectFlowFinder(...).find_flows()`
  (its per-file `print`s go to /dev/null, which only flatters it);
* flowportal cold (no cache), best of `--repeat`;
* flowportal writing its cache (one run);
* flowportal warm (cache present, nothing changed), best of `--repeat`.

Every contender reads files the OS has just cached in memory, so the numbers
compare parsing work, not disk speed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
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


def generate(files: int, seed: int = 42, target_bytes: int | None = None) -> Tree:
    """Write the tree (replacing a previous one) and return what it contains."""
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
        size = int(min(max(rng.lognormvariate(0, 0.6) * mean * 0.68, 300), mean * 8))
        lines = [f'"""{rng.choice(PLAIN_DOCS).format(w=rng.choice(WORDS))}"""', "", *HEADER]
        body: list[str] = []
        if index == files // 2:
            name = "broken_module.py"
            lines += ["from prefect import flow", ""]
            body = ["@flow", "def broken(:", "    pass"]
        elif kind < 0.04:  # a flow module, one or two flows
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
        elif kind < 0.10:  # prefect tasks, talking about the flows that use them
            name = f"tasks_{index}.py"
            lines.append("from prefect import task, get_run_logger")
            lines.append("# These tasks are used by the ingestion flow.")
            body.append(f"@task\n{_function(rng, f'{_ident(rng)}_task_{index}')}")
        elif kind < 0.11:  # an unrelated `.flow` decorator next to a prefect import
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


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    best = float("inf")
    found = 0
    for _ in range(repeat):
        start = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - start)
    return best, found


def time_seed(tree: Tree) -> tuple[float, int] | str:
    try:
        from acme_portal_sdk.prefect.flow_finder import PrefectFlowFinder
    except ImportError as exc:
        return f"acme_portal_sdk not installed ({exc}); `pip install acme_portal_sdk==1.2.0`"
    finder = PrefectFlowFinder(root_dir=str(tree.root))
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
            contextlib.redirect_stderr(sink):
        start = time.perf_counter()
        found = finder.find_flows()
        elapsed = time.perf_counter() - start
    return elapsed, len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-seed", action="store_true", help="do not time the seed SDK")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from portal_io.source_tree import scan_tree

    start = time.perf_counter()
    tree = generate(args.files, args.seed)
    print(
        f"generated {tree.files} files, {tree.size / 1e6:.1f} MB, {tree.flows} flows "
        f"({tree.seed_visible} in the seed's `@...flow(...)` style) in "
        f"{time.perf_counter() - start:.1f} s under {tree.root.relative_to(REPO)}"
    )

    cache_dir = WORK / f"cache-{args.files}"
    if cache_dir.exists():
        shutil.rmtree(cache_dir)

    rows: list[tuple[str, float, int]] = []
    seed = None if args.no_seed else time_seed(tree)
    if isinstance(seed, str):
        print(seed)
        seed = None
    if seed is not None:
        rows.append(("seed SDK find_flows()", *seed))

    def ours(cache: Path | None) -> Callable[[], int]:
        def run() -> int:
            scan = scan_tree(tree.root, cache_dir=cache)
            return len(scan.discovery.flows)

        return run

    rows.append((f"flowportal cold, best of {args.repeat}", *best_of(args.repeat, ours(None))))
    rows.append(("flowportal cold + cache write", *best_of(1, ours(cache_dir))))
    rows.append((f"flowportal warm, best of {args.repeat}", *best_of(args.repeat, ours(cache_dir))))

    check = scan_tree(tree.root, cache_dir=cache_dir)
    print(
        f"flowportal: {check.files_seen} files walked, {check.cache_hits} cache hits, "
        f"errors: {[e.format() for e in check.discovery.errors]}"
    )
    if len(check.discovery.flows) != tree.flows:
        print(f"MISMATCH: expected {tree.flows} flows, found {len(check.discovery.flows)}")

    print()
    print(f"{'contender':34} {'seconds':>9} {'flows':>7} {'seed/ours':>10}")
    print("-" * 63)
    for label, seconds, found in rows:
        ratio = f"{seed[0] / seconds:9.1f}x" if seed is not None else "        -"
        print(f"{label:34} {seconds:9.4f} {found:7d} {ratio:>10}")
    return 0 if len(check.discovery.flows) == tree.flows else 1


if __name__ == "__main__":
    sys.exit(main())
