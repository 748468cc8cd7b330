"""Start-up: how long the everyday read-only commands take as whole processes.

    python benchmarks/startup.py [--runs 10] [--no-compile] [--only 'invoke --list,...'] [--repo DIR]
                                 [--before DIR]

Each command runs `--runs` times in a fresh process from the repository root,
the way a developer types it: `invoke --list`, `flowportal --list`,
`invoke list-flows`, `flowportal list-flows`. The rounds are interleaved (one
run of every command, then the next round), so a change in the machine's load
hits every command alike. Two reference processes run in the same rounds:
an empty interpreter and one that only imports `invoke`. Every command
needs the latter, so it is the floor that none of our code can go below.

`--repo` runs the commands in another checkout (e.g. an export of an older
commit: `git archive main | tar -x -C /tmp/before`), with `PYTHONPATH` pointing
at it so that its code is the one imported, to compare before and after on the
same machine and load. `--before DIR` runs such a checkout in the same rounds
(each command in both, one after the other) and prints its medians beside.
The export is byte-compiled like this checkout.

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


def environment(repo: Path) -> dict[str, str] | None:
    """For another checkout, `PYTHONPATH` pointing at it: its packages come before the
    editable install of this one (whose finder runs after the path-based one)."""
    if repo.resolve() == REPO:
        return None
    return {**os.environ, "PYTHONPATH": str(repo.resolve())}


def run_once(argv: list[str], repo: Path = REPO) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh process; it must succeed."""
    env = environment(repo)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False, env=env)
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
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout run in the same rounds, printed beside (e.g. an export of main)")
    parser.add_argument("--no-compile", action="store_true", help="skip compileall")
    parser.add_argument("--only", default="",
                        help="comma list of commands to time, e.g. 'invoke --list,flowportal --list'")
    args = parser.parse_args(argv)

    repos = {"after": args.repo} if args.before is None else {"before": args.before, "after": args.repo}
    if not args.no_compile:
        for repo in repos.values():
            for package in PACKAGES:
                compileall.compile_dir(str(repo / package), quiet=1)
            compileall.compile_file(str(repo / "tasks.py"), quiet=1)
    chosen = commands()
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - chosen.keys()
        if unknown:
            parser.error(f"unknown command(s) {sorted(unknown)}; choose from {sorted(chosen)}")
        chosen = {name: cmd for name, cmd in chosen.items() if name in REFERENCES or name in wanted}
    for repo in repos.values():
        for cmd in chosen.values():  # warm-up: OS file cache, bytecode, discovery cache
            run_once(cmd, repo)
            run_once(cmd, repo)

    walls: dict[tuple[str, str], list[float]] = {(r, n): [] for r in repos for n in chosen}
    cpus: dict[tuple[str, str], list[float]] = {(r, n): [] for r in repos for n in chosen}
    for _ in range(args.runs):
        for name, cmd in chosen.items():
            for label, repo in repos.items():  # the same round, one after the other
                wall, cpu = run_once(cmd, repo)
                walls[label, name].append(wall)
                cpus[label, name].append(cpu)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, load average {load:.2f}, "
          f"Python {sys.version.split()[0]}")
    before = "before" in repos
    header = f"{'command':28} {'median s':>9} {'min s':>7} {'cpu med s':>10} {'target':>8}"
    if before:
        header += f" {'before med s':>13} {'before cpu s':>13}"
    print(header)
    print("-" * len(header))
    failed = False
    for name in chosen:
        median = statistics.median(walls["after", name])
        verdict = "-"
        if name not in REFERENCES:
            verdict = "PASS" if median < TARGET_S else "FAIL"
            failed |= verdict == "FAIL"
        line = (f"{name:28} {median:9.3f} {min(walls['after', name]):7.3f} "
                f"{statistics.median(cpus['after', name]):10.3f} {verdict:>8}")
        if before:
            line += (f" {statistics.median(walls['before', name]):13.3f}"
                     f" {statistics.median(cpus['before', name]):13.3f}")
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
