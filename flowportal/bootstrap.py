"""The one place that decides which adapters the use cases talk to.

Use cases take a `Dependencies` value and never choose an adapter themselves:
the CLI tasks and the `Portal` facade call `bootstrap()` for the real ones
(Prefect API over HTTP, the embedded local server, git, GitHub through ghapi),
tests build a `Dependencies` with in-memory fakes. Everything is imported
lazily, so wiring costs nothing on paths that never talk to a server.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from flowportal.usecases.ports import (
    ApiTarget,
    CheckoutReader,
    DeploymentGateway,
    GitHubConnector,
    HistoryConnector,
    HistoryPort,
    PrefectConnector,
    SchemaReader,
    WorkflowGateway,
)
from flowportal.workspace import Workspace
from portal_core.environment import Environment
from portal_core.parameter_schema import SchemaResult

#: Seconds a command waits for the embedded server to answer: a new database
#: migrates first (10-15 s on an idle machine, minutes on a loaded one).
START_TIMEOUT = 180.0


@attrs.frozen
class Dependencies:
    prefect: PrefectConnector
    schemas: SchemaReader
    checkout: CheckoutReader
    github: GitHubConnector
    history: HistoryConnector


def bootstrap(environ: Mapping[str, str] | None = None) -> Dependencies:
    """The real adapters, reading credentials and API URLs from `environ` (default: os.environ)."""
    env = os.environ if environ is None else environ
    return Dependencies(
        prefect=PrefectApis(env),
        schemas=read_schemas,
        checkout=GitCheckout(),
        github=GitHubActions(env),
        history=history_store,
    )


# --------------------------------------------------------------------------- Prefect


@attrs.frozen
class PrefectApis:
    """Order: the environment's `prefect_api_url`; else `PREFECT_API_URL` from the
    shell; else the embedded local server under `.portal/server`, started on demand."""

    environ: Mapping[str, str]

    def __call__(
        self, workspace: Workspace, environment: Environment, notify: Callable[[str], None]
    ) -> tuple[ApiTarget, DeploymentGateway]:
        target = self.target(workspace, environment, notify)
        return target, self.gateway(workspace, target)

    def target(
        self, workspace: Workspace, environment: Environment, notify: Callable[[str], None]
    ) -> ApiTarget:
        env = environment.config
        api_key = self.environ.get(env.api_key_env) or None
        if env.prefect_api_url:
            return ApiTarget(env.prefect_api_url, api_key, env.ui_url)
        if shell_url := self.environ.get("PREFECT_API_URL"):
            from portal_core.errors import ConfigError
            from portal_core.validation import api_url_problem

            if problem := api_url_problem(shell_url, "PREFECT_API_URL"):
                raise ConfigError(f"{problem} (set in the shell)", source="PREFECT_API_URL")
            return ApiTarget(shell_url, api_key, env.ui_url)
        from portal_io.local_server import LocalServer

        server = LocalServer(workspace.state_dir / "server", notify=notify)
        url = server.ensure_running(timeout=START_TIMEOUT)
        if server.last_start_seconds is not None:
            notify(f"started the embedded Prefect server at {url} in {server.last_start_seconds:.1f}s "
                   f"(log: {server.log_path}; `invoke server.stop` stops it)")
        return ApiTarget(url, None, env.ui_url, embedded=True)

    def gateway(self, workspace: Workspace, target: ApiTarget) -> DeploymentGateway:
        from portal_core.environment import secret_variable_names
        from portal_core.redaction import Redactor
        from portal_io.prefect_gateway import PrefectGateway

        names = secret_variable_names(workspace.config.environments.values())
        redactor = Redactor([self.environ[n] for n in sorted(names) if self.environ.get(n)])
        return PrefectGateway(target.url, target.api_key,
                              workspace.config.writes_at_once(target.embedded), redactor=redactor)


def history_store(
    gateway: DeploymentGateway, target: ApiTarget, write_concurrency: int
) -> HistoryPort | None:
    """Change records live on the environment's own Prefect server (as artifacts)."""
    if not target.url.startswith(("http://", "https://")):
        return None
    from portal_io.history_store import HistoryStore

    return HistoryStore(target.url, target.api_key, write_concurrency)


def read_schemas(root: Path, entrypoints: Sequence[str]) -> Mapping[str, SchemaResult]:
    """Schemas read from each flow's source text: the flow's module is never imported or run
    (kept in the project's cache by content, so unchanged files are not parsed again)."""
    from flowportal.workspace import STATE_DIR
    from portal_io.flow_sources import read_parameter_schemas

    return read_parameter_schemas(root, entrypoints, cache_dir=root / STATE_DIR / "cache")


# --------------------------------------------------------------------------- git


class GitCheckout:
    def branch(self, root: Path) -> str:
        from portal_io import git

        return git.current_branch(root)

    def commit(self, root: Path) -> str:
        from portal_io import git

        return git.short_commit(root)

    def package_version(self, root: Path) -> str | None:
        from portal_io.project_files import read_pyproject

        return read_pyproject(root).version

    def status(self, root: Path) -> list[tuple[str, str]]:
        from portal_io import git

        return git.status(root)


# --------------------------------------------------------------------------- GitHub


@attrs.frozen
class GitHubActions:
    """Repository from `--repo` or the origin remote; token from the environment or `gh`."""

    environ: Mapping[str, str]
    run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run

    def default_ref(self, root: Path) -> str:
        from portal_io import git

        return git.current_branch(root, hint="pass --ref BRANCH", run=self.run)

    def connect(self, root: Path, repo: str | None) -> WorkflowGateway:
        from portal_core.github import api_url_for
        from portal_io.github_gateway import GitHubGateway, resolve_repo, resolve_token

        repo_ref = resolve_repo(root, repo, run=self.run)
        url = self.environ.get("GITHUB_API_URL") or api_url_for(repo_ref)
        token = resolve_token(self.environ, run=self.run, hostname=repo_ref.host)
        return GitHubGateway(repo_ref.owner, repo_ref.name, token, url)
