"""The project a command works on: its root, its config and its flows.

Loading is the same for every entry point (invoke tasks, console script,
Python facade), so config errors read the same everywhere: `file:line:col: key: problem`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from portal_core.config import (
    ProjectConfig,
    build_environments,
    build_project_config,
    build_static_flows,
)
from portal_core.discovery import Discovery
from portal_core.env_file import render_env_file
from portal_core.environment import Environment, EnvValues
from portal_core.errors import ConfigError
from portal_io.project_files import read_dotenv, read_pyproject
from portal_io.yaml_files import load_yaml

ENVIRONMENTS_FILE = "config/environments.yaml"
STATIC_FLOWS_FILE = "config/static_flow_deploy_config.yaml"
STATE_DIR = ".portal"


@attrs.frozen
class Workspace:
    root: Path
    config: ProjectConfig
    # Values for `{app}` / `{ver}` in env_file, given by the caller (e.g. CI flags).
    env_file_vars: Mapping[str, str] = attrs.Factory(dict)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def discover(self) -> Discovery:
        """The project's flows, with paths relative to the root (entrypoints)."""
        return discover_flows(self.root, self.config.flows_root, self.state_dir / "cache")

    def env_values(self, environment: Environment, environ: Mapping[str, str] | None = None) -> EnvValues:
        """The environment's dotenv file and the values of its secrets, read now."""
        env = environment.config
        environ = os.environ if environ is None else environ
        from_file = {}
        if env.env_file:
            try:
                rendered = render_env_file(env.env_file, environment.name, self.config.project,
                                           self.env_file_vars)
            except ConfigError as err:
                raise ConfigError(err.message, ("environments", environment.name, "env_file"),
                                  ENVIRONMENTS_FILE) from None
            path = self.root / rendered
            from_file = read_dotenv(path, str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path))
        secrets = {name: environ[name] for name in env.secrets if name in environ}
        return EnvValues(from_file=from_file, secrets=secrets)


def discover_flows(root: Path, flows_root: str = ".", cache_dir: Path | None = None) -> Discovery:
    """Scan `root/flows_root`, reporting paths (and errors) relative to `root`,
    so entrypoints are what a worker running from `root` resolves."""
    from portal_io.source_tree import scan_flows

    prefix = flows_root.strip("/").removeprefix("./") if flows_root not in (".", "", "./") else ""
    return scan_flows(root, prefix, cache_dir=cache_dir)


def load_workspace(root: Path) -> Workspace:
    environments_path = root / ENVIRONMENTS_FILE
    if not environments_path.is_file():
        raise ConfigError(
            f"not a flowportal project: {ENVIRONMENTS_FILE} is missing under {root}",
            source=str(root),
        )
    pyproject = read_pyproject(root)
    envs_doc = load_yaml(environments_path, ENVIRONMENTS_FILE)
    try:
        environments = build_environments(envs_doc.data, pyproject.name)
    except ConfigError as err:
        raise envs_doc.error(err) from None
    flows: dict = {}
    static_name = environments.static_config or STATIC_FLOWS_FILE
    static_path = root / static_name
    if environments.static_config and not static_path.is_file():
        raise ConfigError(f"static_config {static_name!r} does not exist; fix the path or remove "
                          "the key to use the default place", source=ENVIRONMENTS_FILE)
    if static_path.is_file():
        static_doc = load_yaml(static_path, static_name)
        try:
            flows = build_static_flows(static_doc.data)
        except ConfigError as err:
            raise static_doc.error(err) from None
    return Workspace(root=root, config=build_project_config(environments, flows))
