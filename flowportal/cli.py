"""The `flowportal` console script: the same tasks as `invoke`, without a tasks.py.

A plain command line of a task that needs no invoke machinery
(`flowportal list-flows [--json] [--strict] [--root DIR]`, `flowportal deploy
--flow all --env dev`, the others in `flowportal.tasks.without_invoke`) runs
without importing invoke: invoke's import is about half of `list-flows`'s
start-up and a tenth of an unchanged re-deploy.
Everything else (other tasks, `--help`, `--list`, short flags, core flags,
anything unusual) goes to invoke's `Program`, as before. Both paths run the
same task function from the same declaration (`flowportal.tasks.declared`),
and end a failure the same way; tests compare their output and exit codes.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invoke.program import Program

    from flowportal.tasks.declared import DeclaredTask

#: Where invoke looks for system and user config files (`/etc/invoke.yaml`,
#: `~/.invoke.py`...) and the prefix of its environment variables. Any of them
#: can change how invoke runs a command line (a `.py` config file even runs
#: code), so while one exists every command goes through invoke.
_INVOKE_CONFIG_FILES = tuple(f"{prefix}invoke.{suffix}" for prefix in ("/etc/", "~/.")
                             for suffix in ("yaml", "yml", "json", "py"))
_INVOKE_ENV_PREFIX = "INVOKE_"


def _invoke_is_configured() -> bool:
    if any(name.startswith(_INVOKE_ENV_PREFIX) for name in os.environ):
        return True
    return any(os.path.exists(os.path.expanduser(path)) for path in _INVOKE_CONFIG_FILES)


def plain_call(argv: Sequence[str]) -> tuple[DeclaredTask, dict[str, Any]] | None:
    """The task and keyword arguments of a plain command line (`argv` without the
    program name) of a task that runs without invoke; None: let invoke run it."""
    if not argv or argv[0].startswith("-"):
        return None
    from flowportal.tasks.without_invoke import declared_task

    task = declared_task(argv[0])
    if task is None:
        return None
    kwargs = task.parse(argv[1:])
    if kwargs is None or _invoke_is_configured():
        return None
    return task, kwargs


def run_without_invoke(task: DeclaredTask, kwargs: dict[str, Any]) -> None:
    """Run `task` as invoke's `Program.run` would: a failure ends in invoke's `Exit`,
    whose message (if any) goes to stderr and whose code is the exit status;
    Ctrl-C outside the task's own handling exits 1."""
    from flowportal.tasks.errors import is_exit

    try:
        task.body(None, **kwargs)
    except KeyboardInterrupt:
        sys.exit(1)
    except Exception as err:
        if not is_exit(err):
            raise
        message = getattr(err, "message", None)
        if message:
            print(message, file=sys.stderr)
        sys.exit(getattr(err, "code", 1))


def _invoke_version_from_dist_info() -> str | None:
    """invoke's version as `importlib.metadata.version("invoke")` finds it: the `Version`
    of the `invoke-*.dist-info` in the first `sys.path` folder that holds one. None
    when in doubt (several, an egg, a zip on the path, an unreadable file)."""
    for entry in sys.path:
        folder = entry or "."
        if os.path.isfile(folder):
            return None  # a zip: importlib.metadata looks inside, we do not
        try:
            names = [name for name in os.listdir(folder) if name.lower().startswith("invoke-")
                     and name.lower().endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        if not names:
            continue
        name = names[0]
        if len(names) != 1 or not name.endswith(".dist-info"):
            return None
        if "-" in name[len("invoke-"):-len(".dist-info")]:  # another distribution (`invoke-x-1.0`)
            return None
        try:
            with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as metadata:
                for line in metadata:
                    if not line.strip():
                        return None  # end of the headers, no version
                    if line.startswith("Version:"):
                        return line.partition(":")[2].strip() or None
        except OSError:
            return None
        return None
    return None


def _import_invoke_lightly() -> None:
    """Import invoke without importing `unittest.mock` or `importlib.metadata` up front.

    invoke imports `unittest.mock.Mock` at start-up for its `MockContext` (a
    testing helper); loading `unittest.mock` pulls in asyncio and the unittest
    machinery, about a quarter of the console script's start-up, for a class
    no command uses. While invoke is imported, `unittest.mock` is a stand-in
    whose `Mock` creates a real `unittest.mock.Mock` when called (the only way
    invoke uses it) and whose other names come from the real module.

    invoke also sets its `__version__` with `importlib.metadata.version`, whose
    import (email parsing, zip files) and search of every installed
    distribution cost about a tenth of the start-up. While invoke is imported,
    `importlib.metadata` is a stand-in whose `version("invoke")` reads the
    same `Version` line from invoke's `.dist-info` directly, and which hands
    anything else (or any doubt) to the real module.

    The stand-ins are removed right after, so any later import gets the real
    modules. Done only for what is not loaded yet: a module already loaded
    costs nothing more, and with invoke loaded there is nothing to save.
    """
    if "invoke" in sys.modules:
        return

    class _StandIn(types.ModuleType):
        """Names it does not define come from the real module (imported then)."""

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):  # the import system probing (`__path__`...): not a package
                raise AttributeError(name)
            return getattr(real(self.__name__), name)

    def real(name: str) -> types.ModuleType:
        if isinstance(sys.modules.get(name), _StandIn):
            del sys.modules[name]
        if name == "unittest.mock":
            import unittest.mock

            return unittest.mock
        import importlib.metadata

        return importlib.metadata

    def deferred_mock(*args: Any, **kwargs: Any) -> Any:
        return real("unittest.mock").Mock(*args, **kwargs)

    def version(distribution: str) -> str:
        found = _invoke_version_from_dist_info() if distribution == "invoke" else None
        return found if found is not None else str(real("importlib.metadata").version(distribution))

    mock = _StandIn("unittest.mock")
    mock.Mock = deferred_mock  # type: ignore[attr-defined]
    metadata = _StandIn("importlib.metadata")
    metadata.version = version  # type: ignore[attr-defined]
    stand_ins = {module.__name__: module for module in (mock, metadata) if module.__name__ not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        import invoke  # noqa: F401
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def _program() -> Program:
    _import_invoke_lightly()

    from invoke.program import Program

    from flowportal import __version__
    from flowportal.tasks import namespace

    return Program(namespace=namespace, name="flowportal", binary="flowportal", version=__version__)


def __getattr__(name: str) -> Any:
    """`program`: invoke's `Program` for the console script, built (importing invoke) on first use."""
    if name == "program":
        built = _program()
        globals()["program"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    call = plain_call(sys.argv[1:])
    if call is not None:
        run_without_invoke(*call)
        return
    program: Program = __getattr__("program")
    program.run()


if __name__ == "__main__":
    main()
