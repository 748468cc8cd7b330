"""Turning a task's failures into one line, and masking secrets in its output.

This module does not import invoke: the console script runs some tasks
without it (see `flowportal.tasks.declared`), and importing invoke costs more
than the rest of such a command. A task ends with `exit_code`, which is
invoke's `Exit` when invoke runs it and a `SystemExit` otherwise.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from portal_core.errors import PlanError, PortalError

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    """`invoke --debug ...` / `flowportal --debug ...` (or FLOWPORTAL_DEBUG=1) shows tracebacks."""
    import logging

    if logging.getLogger("invoke").isEnabledFor(logging.DEBUG):
        return True
    return os.environ.get("FLOWPORTAL_DEBUG", "") not in ("", "0")


def exit_code(code: int, message: str | None = None) -> BaseException:
    """What a task raises to end with exit status `code`, `message` (if any) on stderr.

    Under invoke (invoke is loaded: `invoke`, `tasks.py`, the console script's
    invoke path, tests), invoke's `Exit`, which invoke prints and exits with.
    When the console script runs the task without invoke, a `SystemExit`, the
    message printed here: importing invoke only to end a command (a dry run
    with changes pending exits 2) would cost more than the command.
    """
    exceptions = sys.modules.get("invoke.exceptions")
    if exceptions is not None:
        return exceptions.Exit(message, code=code)
    if message:
        print(message, file=sys.stderr)
    return SystemExit(code)


def is_exit(err: BaseException) -> bool:
    """Whether `err` is invoke's `Exit`. Without invoke loaded, nothing raised one."""
    exceptions = sys.modules.get("invoke.exceptions")
    return exceptions is not None and isinstance(err, exceptions.Exit)


def one_line_errors(function: F) -> F:
    """Known failures become `error: ...` on stderr and exit 1; `--debug` shows the traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowportal import render

        protect()  # credentials are masked even if the config never loads
        try:
            return function(*args, **kwargs)
        except PlanError as err:
            if debug_enabled():
                raise
            for problem in err.problems:
                render.error_line(problem)
            raise exit_code(1) from None
        except PortalError as err:
            if debug_enabled():
                raise
            render.error_line(str(err))
            raise exit_code(1) from None
        except KeyboardInterrupt:
            render.error_line("interrupted")
            raise exit_code(130) from None
        except Exception as err:  # a bug or an unforeseen failure: still one line
            if is_exit(err) or debug_enabled():
                raise
            first = (str(err).splitlines() or [""])[0]
            render.error_line(f"unexpected {type(err).__name__}: {first} (--debug shows the traceback)")
            raise exit_code(1) from None

    return wrapper  # type: ignore[return-value]


def protect(environments: Any = ()) -> None:
    """Tell the output layer which values are secret: those of the environments'
    `secrets:` and API key variables, and of the usual credential variables."""
    from flowportal import render
    from portal_core.redaction import CREDENTIAL_VARIABLES, Redactor

    environments = tuple(environments)
    names: frozenset[str] = frozenset(CREDENTIAL_VARIABLES)
    if environments:  # the environment model is costly to import: only when there is config
        from portal_core.environment import secret_variable_names

        names = secret_variable_names(environments)
    render.use_redactor(Redactor([os.environ[n] for n in sorted(names) if os.environ.get(n)]))
