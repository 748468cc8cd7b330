"""`--via github` as the CLI runs it, for tests: the dispatch use case with the CLI's
reporter (so what the user is told lands on stdout) and either a given workflow
gateway (ghapi against the local stand-in) or the real wiring from `environ`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowportal.bootstrap import bootstrap
from flowportal.tasks.common import CliReporter
from flowportal.usecases.github_dispatch import (
    DispatchOutcome,
    DispatchRequest,
    WorkflowDeploy,
    WorkflowPromote,
    dispatch,
)
from portal_core.github import INPUT_PRESETS
from tests.support.fakes import FixedGitHub, fake_dependencies


def _run(root: Any, action: Any, ref: str | None, watch: bool, gateway: Any, environ: Any,
         input_names: Any = INPUT_PRESETS["flowportal"], poll_seconds: float = 5.0,
         timeout: float = 3600.0) -> DispatchOutcome:
    deps = bootstrap(environ) if gateway is None else fake_dependencies(github=FixedGitHub(gateway))
    request = DispatchRequest(action, ref=ref, watch=watch, input_names=input_names,
                              poll_seconds=poll_seconds, timeout=timeout)
    with CliReporter() as reporter:
        return dispatch(Path(root), request, deps, reporter)


def dispatch_deploy(root: Any, flows: Any, env: str, ref: str | None = None, watch: bool = False,
                    gateway: Any = None, console: Any = None, *, environ: Any = None,
                    **options: Any) -> DispatchOutcome:
    return _run(root, WorkflowDeploy(tuple(flows), env), ref, watch, gateway, environ, **options)


def dispatch_promote(root: Any, flows: Any, src: str, dst: str, branch: str | None = None,
                     force: bool = False, ref: str | None = None, watch: bool = False,
                     gateway: Any = None, console: Any = None, **options: Any) -> DispatchOutcome:
    action = WorkflowPromote(tuple(flows), src, dst, branch, force)
    return _run(root, action, ref, watch, gateway, None, **options)
