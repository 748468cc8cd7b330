"""The architecture rules that a machine can check.

The core is pure (no I/O, no frameworks); use cases report through a
`Reporter` and never print; ports depend on nothing concrete; entry points
that do not talk to Prefect never import it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules the pure core must never import: effects, frameworks and our own shell.
FORBIDDEN_IN_CORE = {
    "portal_io", "flowportal", "prefect", "ghapi", "ruamel", "invoke", "subprocess", "socket",
    "httpx", "requests", "shutil", "os", "pathlib", "io", "tempfile", "asyncio", "threading",
    "multiprocessing", "http", "urllib.request", "time", "fcntl", "signal", "rich", "glob",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_IN_CORE)


@pytest.mark.parametrize("path", sorted((ROOT / "portal_core").glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_nothing_that_does_io(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if is_forbidden(m))
    assert bad == [], f"{path.name} imports {bad}"


def test_the_import_check_itself_catches_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os.path\nfrom subprocess import run\nfrom prefect.flows import flow\n")
    assert {m for m in imported_modules(sample) if is_forbidden(m)} >= {
        "os.path", "subprocess", "prefect.flows"}


def test_core_does_not_touch_files_clock_or_environment() -> None:
    needles = ("open(", "os.environ", "datetime.now", "time.time(", ".read_text(", "getenv(")
    offenders = [
        f"{path.name}: {needle}"
        for path in (ROOT / "portal_core").glob("*.py")
        for needle in needles
        if needle in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


USECASES = sorted((ROOT / "flowportal" / "usecases").glob("*.py"))


def prints_or_writes_to_a_console(path: Path) -> list[str]:
    """Calls of print(), writes to sys.stdout/stderr and rich imports in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = sorted(m for m in imported_modules(path) if m == "rich" or m.startswith("rich."))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found.append(f"print() at line {node.lineno}")
        if (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
                and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            found.append(f"sys.{node.attr} at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", USECASES, ids=lambda p: p.name)
def test_use_cases_never_print(path: Path) -> None:
    assert prints_or_writes_to_a_console(path) == [], path.name


def test_the_print_check_itself_catches_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sys\nfrom rich.console import Console\nprint('x')\nsys.stdout.write('y')\n")
    found = prints_or_writes_to_a_console(sample)
    assert "rich.console" in found and "print() at line 3" in found and "sys.stdout at line 4" in found


def test_ports_import_no_adapter() -> None:
    ports = ROOT / "flowportal" / "usecases" / "ports.py"
    assert sorted(m for m in imported_modules(ports) if m.split(".")[0] == "portal_io") == []


def _modules_after(code: str, cwd: Path = ROOT) -> dict[str, bool]:
    probe = code + (
        "\nimport json, sys\n"
        "print(json.dumps({m: m in sys.modules for m in ('prefect', 'ghapi', 'httpx')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_flowportal_and_its_facade_does_not_import_prefect() -> None:
    loaded = _modules_after("import flowportal\nfrom flowportal import Portal\nimport tasks")
    assert loaded == {"prefect": False, "ghapi": False, "httpx": False}


def test_invoke_list_and_list_flows_do_not_import_prefect() -> None:
    code = (
        "import contextlib, io\n"
        "from invoke import Program\n"
        "from flowportal.tasks import namespace\n"
        "program = Program(namespace=namespace, binary='invoke')\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    program.run(['invoke', '--list'], exit=False)\n"
        "    program.run(['invoke', 'list-flows', '--json'], exit=False)\n"
        "    program.run(['invoke', 'list-flows'], exit=False)\n"
    )
    assert _modules_after(code)["prefect"] is False


def test_the_prefect_probe_would_notice_an_import() -> None:
    assert _modules_after("import prefect")["prefect"] is True


def test_list_flows_root_caches_outside_the_scanned_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`list-flows --root DIR` is cached like project mode, in the user's cache, not in DIR."""
    from flowportal.usecases.list_flows import list_flows

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("from prefect import flow\n\n@flow\ndef a() -> None:\n    pass\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    first = list_flows(tree, tmp_path)
    (cache,) = (tmp_path / "cache" / "flowportal" / "roots").glob("*/discovery.json")
    assert "a.py" in cache.read_text()
    assert [f.key for f in list_flows(tree, tmp_path).discovery.flows] == ["a"] == [
        f.key for f in first.discovery.flows]
    assert sorted(p.name for p in tree.iterdir()) == ["a.py"]
