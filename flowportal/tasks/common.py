"""What every task shares: finding the project, reporting progress and outcomes.

The one-line errors and the masking live in `flowportal.tasks.errors`, which does
not import invoke; they are re-exported here for the tasks that import them from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowportal.project import find_project_root
from flowportal.tasks.errors import debug_enabled, exit_code, one_line_errors, protect

__all__ = ["GITHUB_HELP", "CliReporter", "check_via", "debug_enabled", "exit_code", "fail_on_history",
           "one_line_errors", "protect", "report_outcome", "run_workflow", "workspace_here"]

#: Help of the flags every verb that can run as a GitHub Actions workflow shares.
GITHUB_HELP = {
    "ref": "with --via github: the git ref the workflow runs on",
    "watch": "with --via github: follow the run until it ends",
    "inputs": "with --via github: the workflow's input names: 'flowportal' (default), 'sdk' "
              "(flows-to-deploy comma list, env-label, source-env, target-env) or value=input pairs",
    "repo": "with --via github: OWNER/NAME (default: the origin remote)",
    "strict-history": "fail (exit 1) if the change could not be recorded in the history",
}


def workspace_here() -> Any:
    """The project the command runs in; from here on, output masks its secret values."""
    from flowportal.workspace import load_workspace

    workspace = load_workspace(find_project_root(Path.cwd()))
    protect(workspace.config.environments.values())
    return workspace


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
            render.step_line(message)

    def status(self, message: str) -> None:
        """A remote run's status lines are the command's output: stdout, printed as data."""
        from flowportal import render

        render.console().print(message, markup=False, highlight=False, soft_wrap=True)

    def applied(self, result: Any) -> None:
        """A progress bar on a terminal for multi-flow work; one line per write otherwise."""
        from flowportal import render

        if self._progress is None and self._pending > 1 and render.stderr_is_terminal():
            from rich.progress import Progress

            self._progress = Progress(console=render.console(stderr=True), transient=True)
            self._progress.start()
            self._bar = self._progress.add_task("applying", total=self._pending)
        if self._progress is not None:
            self._progress.advance(self._bar)
            if not result.ok:
                self._progress.console.print(f"  [red]failed[/] {render.escape(result.name)}")
            return
        render.applied_line(result.name, result.ok)

    def warning(self, message: str) -> None:
        from flowportal import render

        render.warning_line(message)


def check_via(via: str, dry_run: bool, json: bool) -> None:
    if via not in ("prefect", "github"):
        raise exit_code(1, f"error: --via must be 'prefect' or 'github', not {via!r}")
    if via == "github" and (dry_run or json):
        raise exit_code(1, "error: --dry-run and --json work with --via prefect only; the workflow run "
                           "prints its own plan (run the same command without --via for a local plan)")


def run_workflow(action: Any, ref: str, watch: bool, repo: str, inputs: str) -> BaseException:
    """`--via github`: dispatch `action`'s workflow (and follow it with `watch`); the
    exit to end the task with (the run's conclusion when watched)."""
    from flowportal.bootstrap import bootstrap
    from flowportal.usecases.github_dispatch import DispatchRequest, dispatch
    from portal_core.github import parse_input_names

    request = DispatchRequest(action, ref=ref or None, watch=watch, repo=repo or None,
                              input_names=parse_input_names(inputs))
    with CliReporter() as reporter:
        started = dispatch(workspace_here().root, request, bootstrap(), reporter)
    return exit_code(started.exit_code)


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
        raise exit_code(outcome.exit_code)


def fail_on_history(outcome: Any, strict_history: bool) -> None:
    """With --strict-history, a change that was applied but not recorded fails the command."""
    if strict_history and getattr(outcome, "history_error", None):
        raise exit_code(1)
