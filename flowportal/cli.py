"""The `flowportal` console script: the same tasks as `invoke`, without a tasks.py."""

from __future__ import annotations

import sys
import types
from typing import Any


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


_import_invoke_without_unittest_mock()

from invoke.program import Program  # noqa: E402

from flowportal import __version__  # noqa: E402
from flowportal.tasks import namespace  # noqa: E402

program = Program(namespace=namespace, name="flowportal", binary="flowportal", version=__version__)


def main() -> None:
    program.run()


if __name__ == "__main__":
    main()
