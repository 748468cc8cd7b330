"""Start-up: how long the everyday read-only commands take as whole processes.

    python benchmarks/startup.py [--runs 10] [--no-compile] [--only 'invoke --list,...'] [--repo DIR]

Each command runs `--runs` times in a fresh process from the repository root,
the way a developer types it: `invoke --list`, `flowportal --list`,
`invoke list-flows`, `flowportal list-flows`. The rounds are interleaved (one
run of every command, then the next round), so a change in the machine's load
hits every command alike. Two reference processes run in the same rounds:
an empty interpreter and one that only imports `invoke`. Every command
needs the latter, so it is the floor that none of our code can go below.

`--repo` runs the commands in another checkout (e.g. an export of an older
commit, with `PYTHONPATH` pointing at it so that its code is the one imported),
to compare before and after on the same machine and load.

Before timing, the repository's packages are byte-compiled (`compileall`), as
an installed package is, and every command runs once untimed, so the numbers
are those of a warm machine: compiled bytecode, files in the OS cache, the
discovery cache present.

Printed per command: median and minimum wall-clock seconds and median CPU
seconds (user + system of the child). On a shared machine the wall time
includes waiting for a core, so the CPU time is what the code itself costs.
Target: every command under 0.3 s wall on 2 cores.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET_S = 0.3
PACKAGES = ("portal_core", "portal_io", "flowportal")


def _script(name: str) -> str:
    """The console script installed next to this interpreter (a virtualenv's bin/)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name!r} is not installed next to {sys.executable} nor on PATH")
    return found


def commands() -> dict[str, list[str]]:
    python = sys.executable
    return {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import invoke'": [python, "-c", "import invoke"],
        "invoke --list": [_script("invoke"), "--list"],
        "flowportal --list": [_script("flowportal"), "--list"],
        "invoke list-flows": [_script("invoke"), "list-flows"],
        "flowportal list-flows": [_script("flowportal"), "list-flows"],
    }


REFERENCES = ("python -c pass", "python -c 'import invoke'")


def run_once(argv: list[str], repo: Path = REPO) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to run the commands in")
    parser.add_argument("--no-compile", action="store_true", help="skip compileall")
    parser.add_argument("--only", default="",
                        help="comma list of commands to time, e.g. 'invoke --list,flowportal --list'")
    args = parser.parse_args(argv)

    if not args.no_compile:
        for package in PACKAGES:
            compileall.compile_dir(str(args.repo / package), quiet=1)
        compileall.compile_file(str(args.repo / "tasks.py"), quiet=1)
    chosen = commands()
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - chosen.keys()
        if unknown:
            parser.error(f"unknown command(s) {sorted(unknown)}; choose from {sorted(chosen)}")
        chosen = {name: cmd for name, cmd in chosen.items() if name in REFERENCES or name in wanted}
    for cmd in chosen.values():  # warm-up: OS file cache, bytecode, discovery cache
        run_once(cmd, args.repo)
        run_once(cmd, args.repo)

    walls: dict[str, list[float]] = {name: [] for name in chosen}
    cpus: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(args.runs):
        for name, cmd in chosen.items():
            wall, cpu = run_once(cmd, args.repo)
            walls[name].append(wall)
            cpus[name].append(cpu)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, load average {load:.2f}, "
          f"Python {sys.version.split()[0]}")
    header = f"{'command':28} {'median s':>9} {'min s':>7} {'cpu med s':>10} {'target':>8}"
    print(header)
    print("-" * len(header))
    failed = False
    for name in chosen:
        median = statistics.median(walls[name])
        verdict = "-"
        if name not in REFERENCES:
            verdict = "PASS" if median < TARGET_S else "FAIL"
            failed |= verdict == "FAIL"
        print(f"{name:28} {median:9.3f} {min(walls[name]):7.3f} "
              f"{statistics.median(cpus[name]):10.3f} {verdict:>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
