"""The project a command works on: its root, its config and its flows.

Loading is the same for every entry point (invoke tasks, console script,
Python facade), so config errors read the same everywhere: `file:line:col: key: problem`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from portal_core.errors import ConfigError, DiscoveryError

if TYPE_CHECKING:
    from portal_core.config import EnvironmentsFile, ProjectConfig
    from portal_core.discovery import Discovery
    from portal_core.environment import Environment, EnvValues
    from portal_io.yaml_files import YamlDocument

# The config model, its YAML reader and the environment rules are imported by the
# functions that use them: `list-flows --root` needs none of them, and every
# command pays for each module it imports at start-up.

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
        return discover_project_flows(self.root, self.config.flows_root)

    def env_values(self, environment: Environment, environ: Mapping[str, str] | None = None) -> EnvValues:
        """The environment's dotenv file and the values of its secrets, read now."""
        from portal_core.env_file import render_env_file
        from portal_core.environment import EnvValues
        from portal_io.project_files import read_dotenv

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


def user_cache_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where discovery results for a directory that is not a configured project are kept:
    the user's cache, one folder per scanned directory, so scanning never writes into
    the tree it scans."""
    import hashlib

    environ = os.environ if environ is None else environ
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flowportal" / "roots"
    return base / hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def discover_project_flows(root: Path, flows_root: str) -> Discovery:
    """A configured project's flows, cached in its state folder.

    None at all is an error: a deploy of `all` would otherwise plan nothing
    and report success.
    """
    found = discover_flows(root, flows_root, root / STATE_DIR / "cache")
    if not found.flows:
        unparsed = f" ({len(found.errors)} files could not be parsed)" if found.errors else ""
        raise DiscoveryError(f"no flows found under {flows_root}{unparsed}")
    return found


@attrs.define
class LoadInputs:
    """What a successful `load_workspace` depended on besides the config files' text.

    Filled in by the load itself (each check records what it checked), so a
    memo of the result can re-check exactly these facts and nothing else.
    """

    files: list[str] = attrs.Factory(list)  # config files read or looked for, relative
    inside: list[str] = attrs.Factory(list)  # paths that had to resolve inside the root
    folders: list[str] = attrs.Factory(list)  # paths that had to be folders
    timezones: list[str] = attrs.Factory(list)  # zone names that had to be known


def discover_flows(root: Path, flows_root: str = ".", cache_dir: Path | None = None) -> Discovery:
    """Scan `root/flows_root`, reporting paths (and errors) relative to `root`,
    so entrypoints are what a worker running from `root` resolves."""
    from portal_io.source_tree import scan_flows

    prefix = flows_root.strip("/").removeprefix("./") if flows_root not in (".", "", "./") else ""
    return scan_flows(root, prefix, cache_dir=cache_dir)


def _resolved(path: Path) -> str:
    """Absolute, symlinks followed as far as they exist, `..` folded (never raises)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an odd name
        return os.path.abspath(path)


def _inside_root(root: Path, relative: str) -> bool:
    from portal_core.validation import is_inside

    return is_inside(_resolved(root), _resolved(root / relative))


def _check_config_file(root: Path, relative: str, inputs: LoadInputs) -> None:
    """A config file must exist as itself inside the repository (a symlink out is refused)."""
    inputs.inside.append(relative)
    if not _inside_root(root, relative):
        raise ConfigError(
            f"resolves to {_resolved(root / relative)}, outside the repository {root};"
            " keep config files in the repository",
            source=relative,
        )


def _config_paths(environments: EnvironmentsFile) -> list[tuple[tuple[str, ...], str | None]]:
    found: list[tuple[tuple[str, ...], str | None]] = [(("flows_root",), environments.flows_root),
                                                       (("static_config",), environments.static_config)]
    for name, env in environments.environments.items():
        found.append((("environments", name, "env_file"), env.env_file))
        found.append((("environments", name, "working_dir"), env.working_dir))
    return found


def _check_paths(root: Path, doc: YamlDocument, environments: EnvironmentsFile, inputs: LoadInputs) -> None:
    """Paths from the config that must stay inside the repository, checked on disk.

    A `flows_root` of `../elsewhere` would deploy entrypoints that a worker
    running from the repository cannot import; `env_file` and `working_dir`
    outside it would read or point at files nobody reviewed with the code.
    """
    from portal_core.validation import path_text_problem

    for key_path, value in _config_paths(environments):
        if value is not None and (problem := path_text_problem(value, key_path[-1])):
            raise doc.error(ConfigError(problem, key_path))
    flows_root = environments.flows_root
    if os.path.isabs(flows_root):
        raise doc.error(ConfigError(
            f"flows_root {flows_root!r} must be relative to the repository root", ("flows_root",)))
    inputs.inside.append(flows_root)
    if not _inside_root(root, flows_root):
        raise doc.error(ConfigError(
            f"flows_root {flows_root!r} resolves outside the repository {root};"
            " give a folder inside it", ("flows_root",)))
    flows_dir = root / flows_root
    inputs.folders.append(flows_root)
    if not flows_dir.is_dir():
        what = "is not a folder" if os.path.lexists(flows_dir) else "does not exist"
        raise doc.error(ConfigError(f"flows_root {flows_root!r} {what} under {root}", ("flows_root",)))
    for name, env in environments.environments.items():
        where: tuple[str | int, ...] = ("environments", name)
        if env.working_dir is not None:
            inputs.inside.append(env.working_dir)
        if env.working_dir is not None and not _inside_root(root, env.working_dir):
            raise doc.error(ConfigError(
                f"working_dir {env.working_dir!r} resolves outside the repository {root};"
                " for a folder inside an image, give pull_steps instead",
                (*where, "working_dir")))
        if env.env_file is not None:
            env_file = env.env_file.replace("{env}", name)
            inputs.inside.append(env_file)
            if not _inside_root(root, env_file):
                raise doc.error(ConfigError(
                    f"env_file {env_file!r} resolves outside the repository {root}",
                    (*where, "env_file")))


@functools.cache
def known_timezones() -> frozenset[str]:
    """The IANA zone names this system knows (empty if it has no zone data)."""
    import zoneinfo

    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # broken zone data: do not block deploys on it
        return frozenset()


class _KnownTimezones(Collection[str]):
    """`known_timezones()`, listed only when a timezone is actually checked.

    Listing the zone files takes a noticeable fraction of a second; most
    commands on most projects never need it.
    """

    def __contains__(self, name: object) -> bool:
        return name in known_timezones()

    def __iter__(self) -> Iterator[str]:
        return iter(known_timezones())

    def __len__(self) -> int:
        return len(known_timezones())


def load_workspace(root: Path, inputs: LoadInputs | None = None) -> Workspace:
    """Read and validate the project's config; every problem is one located `ConfigError`.

    `inputs`, when given, receives what the result depended on (see `LoadInputs`).
    """
    from portal_core.config import build_environments, build_project_config, build_static_flows
    from portal_io.project_files import read_pyproject
    from portal_io.yaml_files import load_yaml

    environments_path = root / ENVIRONMENTS_FILE
    if not os.path.lexists(environments_path):
        raise ConfigError(
            f"not a flowportal project: {ENVIRONMENTS_FILE} is missing under {root}",
            source=str(root),
        )
    inputs = LoadInputs() if inputs is None else inputs
    inputs.files += [ENVIRONMENTS_FILE, "pyproject.toml"]
    _check_config_file(root, ENVIRONMENTS_FILE, inputs)
    pyproject = read_pyproject(root)
    envs_doc = load_yaml(environments_path, ENVIRONMENTS_FILE)
    try:
        environments = build_environments(envs_doc.data, pyproject.name)
    except ConfigError as err:
        raise envs_doc.error(err) from None
    _check_paths(root, envs_doc, environments, inputs)
    flows: dict = {}
    static_name = environments.static_config or STATIC_FLOWS_FILE
    static_path = root / static_name
    inputs.files.append(static_name)
    if environments.static_config and not os.path.lexists(static_path):
        raise ConfigError(f"static_config {static_name!r} does not exist; fix the path or remove "
                          "the key to use the default place", source=ENVIRONMENTS_FILE)
    if os.path.lexists(static_path):  # a folder or broken link here is an error, not "no file"
        _check_config_file(root, static_name, inputs)
        static_doc = load_yaml(static_path, static_name)
        try:
            flows = build_static_flows(static_doc.data, _KnownTimezones())
        except ConfigError as err:
            raise static_doc.error(err) from None
        inputs.timezones += sorted({f.timezone for f in flows.values() if f.timezone is not None})
    return Workspace(root=root, config=build_project_config(environments, flows))
