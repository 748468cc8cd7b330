"""Which Prefect API an environment talks to.

Order: the environment's `prefect_api_url`; else `PREFECT_API_URL` from the
shell; else the embedded local server under `.portal/server`, started on demand.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from flowportal.workspace import Workspace
from portal_core.errors import ConfigError
from portal_core.validation import api_url_problem

if TYPE_CHECKING:
    from flowportal.usecases.ports import DeploymentGateway
from portal_io.prefect_gateway import PrefectGateway


@attrs.frozen
class ApiTarget:
    url: str
    api_key: str | None = attrs.field(default=None, repr=False)
    ui_url: str | None = None
    embedded: bool = False


def resolve_api(
    workspace: Workspace,
    env_name: str,
    environ: Mapping[str, str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> ApiTarget:
    env = workspace.config.environment(env_name)
    environ = os.environ if environ is None else environ
    api_key = environ.get(env.api_key_env) or None
    if env.prefect_api_url:
        return ApiTarget(env.prefect_api_url, api_key, env.ui_url)
    if environ.get("PREFECT_API_URL"):
        if problem := api_url_problem(environ["PREFECT_API_URL"], "PREFECT_API_URL"):
            raise ConfigError(f"{problem} (set in the shell)", source="PREFECT_API_URL")
        return ApiTarget(environ["PREFECT_API_URL"], api_key, env.ui_url)
    from portal_io.local_server import LocalServer

    server = LocalServer(workspace.state_dir / "server", notify=notify)
    url = server.ensure_running()
    if notify is not None and server.last_start_seconds is not None:
        notify(f"started the embedded Prefect server at {url} in {server.last_start_seconds:.1f}s "
               f"(log: {server.log_path}; `invoke server.stop` stops it)")
    return ApiTarget(url, None, env.ui_url, embedded=True)


def connect(
    workspace: Workspace,
    env_name: str,
    given: DeploymentGateway | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[ApiTarget, DeploymentGateway]:
    """The environment's API target and a gateway to it; `given` (tests, in-memory) wins."""
    if given is not None:
        return ApiTarget(given.api_url), given
    target = resolve_api(workspace, env_name, notify=notify)
    return target, gateway_for(workspace, target)


def gateway_for(workspace: Workspace, target: ApiTarget) -> PrefectGateway:
    from portal_io.prefect_gateway import PrefectGateway

    return PrefectGateway(target.url, target.api_key, workspace.config.write_concurrency)
