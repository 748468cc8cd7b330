"""The `flowportal` console script: the same tasks as `invoke`, without a tasks.py.

A plain command line of a read-only task that needs no invoke machinery
(`flowportal list-flows [--json] [--strict] [--root DIR]`) runs without
importing invoke: invoke's import is about half of such a command's start-up.
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
    from flowportal.tasks.flows import WITHOUT_INVOKE

    for task in WITHOUT_INVOKE:
        if task.name == argv[0]:
            kwargs = task.parse(argv[1:])
            if kwargs is None or _invoke_is_configured():
                return None
            return task, kwargs
    return None


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


def _import_invoke_without_unittest_mock() -> None:
    """Import invoke without importing `unittest.mock` up front.

    invoke imports `unittest.mock.Mock` at start-up for its `MockContext` (a
    testing helper); loading `unittest.mock` pulls in asyncio and the unittest
    machinery, about a quarter of the console script's start-up, for a class
    no command uses. While invoke is imported, `unittest.mock` is a stand-in
    whose `Mock` creates a real `unittest.mock.Mock` when called (the only way
    invoke uses it) and whose other names come from the real module; the
    stand-in is removed right after, so any later `import unittest.mock`
    gets the real module. Done only in a fresh interpreter: if invoke or
    `unittest.mock` is already loaded there is nothing to save.
    """
    if "invoke" in sys.modules or "unittest.mock" in sys.modules:
        return

    def real_mock() -> types.ModuleType:
        if isinstance(sys.modules.get("unittest.mock"), _DeferredMockModule):
            del sys.modules["unittest.mock"]
        import unittest.mock

        return unittest.mock

    class _DeferredMockModule(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):  # the import system probing (`__path__`...): not a package
                raise AttributeError(name)
            return getattr(real_mock(), name)

    def deferred_mock(*args: Any, **kwargs: Any) -> Any:
        return real_mock().Mock(*args, **kwargs)

    stand_in = _DeferredMockModule("unittest.mock")
    stand_in.Mock = deferred_mock  # type: ignore[attr-defined]
    sys.modules["unittest.mock"] = stand_in
    try:
        import invoke  # noqa: F401
    finally:
        if sys.modules.get("unittest.mock") is stand_in:
            del sys.modules["unittest.mock"]


def _program() -> Program:
    _import_invoke_without_unittest_mock()

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
