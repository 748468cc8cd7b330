"""What every task shares: finding the project, and turning errors into one line."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from invoke.exceptions import Exit

from flowportal.project import find_project_root
from portal_core.errors import PlanError, PortalError

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    """`invoke --debug ...` / `flowportal --debug ...` (or FLOWPORTAL_DEBUG=1) shows tracebacks."""
    import logging

    if logging.getLogger("invoke").isEnabledFor(logging.DEBUG):
        return True
    return os.environ.get("FLOWPORTAL_DEBUG", "") not in ("", "0")


def one_line_errors(function: F) -> F:
    """Known failures become `error: ...` on stderr and exit 1; `--debug` shows the traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowportal import render

        protect()  # credentials are masked even if the config never loads
        try:
            return function(*args, **kwargs)
        except Exit:
            raise
        except PlanError as err:
            if debug_enabled():
                raise
            for problem in err.problems:
                render.error_line(problem)
            raise Exit(code=1) from None
        except PortalError as err:
            if debug_enabled():
                raise
            render.error_line(str(err))
            raise Exit(code=1) from None
        except KeyboardInterrupt:
            render.error_line("interrupted")
            raise Exit(code=130) from None
        except Exception as err:  # a bug or an unforeseen failure: still one line
            if debug_enabled():
                raise
            first = (str(err).splitlines() or [""])[0]
            render.error_line(f"unexpected {type(err).__name__}: {first} (--debug shows the traceback)")
            raise Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def workspace_here() -> Any:
    """The project the command runs in; from here on, output masks its secret values."""
    from flowportal.workspace import load_workspace

    workspace = load_workspace(find_project_root(Path.cwd()))
    protect(workspace.config.environments.values())
    return workspace


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


class CliReporter:
    """Shows a use case's progress as it happens (plans, each write, warnings)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet  # --json: keep stdout for the JSON document
        self._progress: Any = None
        self._bar: Any = None
        self._pending = 0

    def __enter__(self) -> CliReporter:
        return self

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def plan(self, plan: Any) -> None:
        from flowportal import render

        self._pending = len(plan.pending)
        if not self.quiet:
            render.plan_text(plan)

    def step(self, message: str) -> None:
        from flowportal import render

        if not self.quiet:
            render.console(stderr=True).print(f"[dim]{render.escape(message)}[/]")

    def status(self, message: str) -> None:
        """A remote run's status lines are the command's output: stdout, printed as data."""
        from flowportal import render

        render.console().print(message, markup=False, highlight=False, soft_wrap=True)

    def applied(self, result: Any) -> None:
        """A progress bar on a terminal for multi-flow work; one line per write otherwise."""
        from flowportal import render

        err = render.console(stderr=True)
        if self._progress is None and self._pending > 1 and err.is_terminal:
            from rich.progress import Progress

            self._progress = Progress(console=err, transient=True)
            self._progress.start()
            self._bar = self._progress.add_task("applying", total=self._pending)
        if self._progress is not None:
            self._progress.advance(self._bar)
            if not result.ok:
                self._progress.console.print(f"  [red]failed[/] {render.escape(result.name)}")
            return
        mark = "[green]ok[/]" if result.ok else "[red]failed[/]"
        err.print(f"  {mark} {render.escape(result.name)}")

    def warning(self, message: str) -> None:
        from flowportal import render

        render.warning_line(message)


def check_via(via: str, dry_run: bool, json: bool) -> None:
    if via not in ("prefect", "github"):
        raise Exit(f"error: --via must be 'prefect' or 'github', not {via!r}", code=1)
    if via == "github" and (dry_run or json):
        raise Exit("error: --dry-run and --json work with --via prefect only; the workflow run "
                   "prints its own plan (run the same command without --via for a local plan)",
                   code=1)


def report_outcome(outcome: Any, json: bool) -> None:
    """The result table (or JSON); on partial failure, exactly what was and was not applied."""
    from flowportal import render

    if json:
        render.print_json(outcome.to_json())
    else:
        render.results_table(outcome)
    if outcome.failed:
        done = [r.name for r in outcome.results if r.ok]
        render.error_line(f"{len(outcome.failed)} of {len(outcome.results)} writes failed; "
                          f"applied: {', '.join(done) or 'none'}; "
                          f"not applied: {', '.join(r.name for r in outcome.failed)}. "
                          "Re-run to converge.")
    if outcome.exit_code:
        raise Exit(code=outcome.exit_code)
