"""Configuration values and their validation.

Two files feed a deployment:

* `config/static_flow_deploy_config.yaml` — the seed SDK's per-flow format,
  accepted verbatim (flow key -> name, import_path, cron, description,
  work_pool_name, and optional extras);
* `config/environments.yaml` — ours: project, promotion path and each
  environment's own settings.

The YAML reading (and the line numbers) live in `portal_io`; this module turns
plain data into frozen values and reports problems as `ConfigError`s carrying the
key path, so the shell can point at `file:line:column`.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Collection, Mapping
from typing import Any

import attrs
import cattrs

from portal_core.automations import static_triggers
from portal_core.errors import ConfigError, did_you_mean
from portal_core.names import is_flow_key, normalize_flow_key, slugify
from portal_core.tags import RESERVED_KEYS, parse_tag
from portal_core.validation import checked_environment, checked_flow_settings, image_template_problem

if typing.TYPE_CHECKING:
    from portal_core.environment import Environment

# --------------------------------------------------------------------------- values

#: `prefect`: Prefect's own flow names (`hello-world`), our version string and a
#: MANAGED_BY tag. `sdk`: exactly what the seed SDK's deploy produced (flow
#: `hello_world`, version `{branch}-{commit}`, only the four version tags), so a
#: project moving over keeps its deployments instead of growing twins.
FLOW_NAME_STYLES = ("prefect", "sdk")


@attrs.frozen
class StaticFlowConfig:
    """One entry of the seed's static config; every field is optional."""

    name: str | None = None
    import_path: str | None = None
    cron: str | None = None
    timezone: str | None = None
    description: str | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    parameters: dict[str, Any] = attrs.Factory(dict)
    paused: bool | None = None
    concurrency_limit: int | None = None
    tags: list[str] = attrs.Factory(list)
    job_variables: dict[str, Any] = attrs.Factory(dict)
    triggers: list[dict[str, Any]] = attrs.Factory(list)


@attrs.frozen
class WorkPoolConfig:
    name: str
    type: str = "process"
    create: bool = False  # may flowportal create the pool when it is missing?


@attrs.frozen
class EnvironmentConfig:
    """An environment's own settings: they never travel with a promotion."""

    prefect_api_url: str | None = None  # None: PREFECT_API_URL / profile, else the embedded server
    api_key_env: str = "PREFECT_API_KEY"  # name of the env var holding the API key
    ui_url: str | None = None
    work_pool: WorkPoolConfig | None = None
    work_queue: str | None = None
    env: dict[str, str] = attrs.Factory(dict)
    env_file: str | None = None
    secrets: list[str] = attrs.Factory(list)  # names of env vars whose values are secret
    working_dir: str | None = None  # relative to the project root; "." for the root itself
    pull_steps: list[dict[str, Any]] | None = None
    job_variables: dict[str, Any] = attrs.Factory(dict)
    tags: list[str] = attrs.Factory(list)
    paused: bool | None = None
    #: Runs of one deployment at a time, for deployments whose static entry sets none
    #: (null: no limit; the seed SDK used 1).
    concurrency_limit: int | None = None
    schedules: bool = True  # attach the flows' cron schedules in this environment?


@attrs.frozen
class EnvironmentsFile:
    project: str | None = None
    flows_root: str = "."
    image_template: str | None = None
    promotion_path: list[str] = attrs.Factory(list)
    write_concurrency: int | None = None  # None: chosen per backend (see ProjectConfig)
    environments: dict[str, EnvironmentConfig] = attrs.Factory(dict)
    # Where the per-flow static config lives (relative to the project root); None: the default
    # place. Teams coming from the seed SDK keep theirs in `.acme_portal_sdk/`.
    static_config: str | None = None
    # How Prefect flow names, versions and tags are formed (see `portal_core.naming_style`).
    flow_name_style: str = "prefect"

    protected_branches: list[str] = attrs.Factory(lambda: ["main", "master"])  # never pruned


def _environments(value: Mapping[str, Any]) -> Mapping[str, Environment]:
    """Build each environment's value once, when the config is built."""
    from portal_core.environment import Environment

    return {
        name: env if isinstance(env, Environment) else Environment.build(name, env)
        for name, env in value.items()
    }


@attrs.frozen
class ProjectConfig:
    """Everything the use cases need from configuration, validated as a whole."""

    project: str
    flows_root: str
    image_template: str | None
    promotion_path: tuple[str, ...]
    write_concurrency: int | None
    environments: Mapping[str, Environment] = attrs.field(converter=_environments)
    flows: Mapping[str, StaticFlowConfig]
    flow_name_style: str = "prefect"
    protected_branches: tuple[str, ...] = ("main", "master")

    def environment(self, name: str) -> Environment:
        """The environment called `name`; an unknown name is one error with a did-you-mean."""
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments) or "none"
            raise ConfigError(
                f"unknown environment {name!r}{did_you_mean(name, self.environments)}"
                f" (known: {known})"
            ) from None

    def writes_at_once(self, embedded: bool) -> int:
        """How many writes may be in flight: the config's `write_concurrency`, else per backend.

        The embedded server is SQLite, which serialises writes: a second one in flight
        only waits for the lock (measured: 1 at a time is fastest there). Other servers
        (PostgreSQL, Cloud) get 2; the gateway backs off by itself on 429/503.
        """
        if self.write_concurrency is not None:
            return self.write_concurrency
        return 1 if embedded else 2

    def flow_config(self, key: str) -> StaticFlowConfig:
        return self.flows.get(key, StaticFlowConfig())


# --------------------------------------------------------------------------- converter

converter = cattrs.Converter(forbid_extra_keys=True)


def _strict(kind: type, accepts: tuple[type, ...], convert: typing.Callable[[Any], Any]) -> None:
    """cattrs converts by calling the type (`str([1])`, `bool("no")`); config must not."""

    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and bool not in accepts:
            raise TypeError(f"expected {kind.__name__}, got a boolean ({value!r})")
        if not isinstance(value, accepts):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} ({value!r})")
        return convert(value)

    converter.register_structure_hook(kind, hook)


_strict(str, (str, int, float), str)  # YAML reads `PORT: 8080` as a number; keep it as text
_strict(bool, (bool,), bool)
_strict(int, (int,), int)


class _Located(Exception):
    """An error inside a list or mapping, with the keys leading to it."""

    def __init__(self, path: tuple[str | int, ...], error: BaseException) -> None:
        super().__init__(str(error))
        self.path = path
        self.error = error


def _at(key: str | int, structure_item: typing.Callable[[], Any]) -> Any:
    try:
        return structure_item()
    except _Located as err:
        raise _Located((key, *err.path), err.error) from None
    except cattrs.BaseValidationError as err:
        sub_path, leaf = _path_of(err)
        raise _Located((key, *sub_path), leaf) from None
    except Exception as err:
        raise _Located((key,), err) from None


def _strict_list(value: Any, tp: Any) -> Any:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    (item_type,) = typing.get_args(tp) or (Any,)
    return [
        _at(index, functools.partial(converter.structure, item, item_type))
        for index, item in enumerate(value)
    ]


def _strict_dict(value: Any, tp: Any) -> Any:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    key_type, value_type = typing.get_args(tp) or (Any, Any)
    return {
        converter.structure(k, key_type): _at(k, functools.partial(converter.structure, v, value_type))
        for k, v in value.items()
    }


converter.register_structure_hook_func(lambda t: typing.get_origin(t) is list, _strict_list)
converter.register_structure_hook_func(lambda t: typing.get_origin(t) is dict, _strict_dict)


def _expected_keys(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {a.name: hints[a.name] for a in attrs.fields(cls)}


def _attrs_target(tp: Any) -> type | None:
    """The attrs class in `T` or `T | None`, if any."""
    if attrs.has(tp):
        return tp
    if typing.get_origin(tp) in (dict, list):
        return None
    for arg in typing.get_args(tp):
        if attrs.has(arg):
            return arg
    return None


def _check_keys(data: Any, cls: type, path: tuple[str | int, ...]) -> None:
    """Reject unknown keys with a did-you-mean, before cattrs sees the data.

    cattrs reports extra keys too, but without the path we need to find the line.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", path)
    fields = _expected_keys(cls)
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(str(key), fields)}", (*path, key))
        target = _attrs_target(fields[key])
        if target is not None and value is not None:
            _check_keys(value, target, (*path, key))
        elif typing.get_origin(fields[key]) is dict and isinstance(value, Mapping):
            value_type = typing.get_args(fields[key])[1]
            if attrs.has(value_type):
                for sub_key, sub_value in value.items():
                    _check_keys(sub_value, value_type, (*path, key, sub_key))


def _path_of(exc: BaseException) -> tuple[tuple[str | int, ...], BaseException]:
    """Follow a cattrs validation error group down to its first leaf and its key path."""
    path: tuple[str | int, ...] = ()
    while isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
        leaf = exc.exceptions[0]
        for note in getattr(leaf, "__notes__", []):
            if isinstance(note, cattrs.AttributeValidationNote):
                path += (note.name,)
                break
            if isinstance(note, cattrs.IterableValidationNote):
                path += (note.index,)
                break
        exc = leaf
    if isinstance(exc, _Located):
        path += exc.path
        exc = exc.error
    return path, exc


def structure(data: Any, cls: type, path: tuple[str | int, ...] = ()) -> Any:
    _check_keys(data, cls, path)
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, _Located) as err:
        sub_path, leaf = _path_of(err)
        raise ConfigError(_describe(leaf), (*path, *sub_path)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"required key {exc.args[0]!r} is missing"
    text = str(exc)
    if "NoneType" in text:
        return "a value is required here"
    return text or type(exc).__name__


# --------------------------------------------------------------------------- validation

_CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])},
    {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
)
# ASCII digits only, and short: `int()` of a 5,000-digit field raises, and a
# Unicode digit passes `int()` but not Prefect's cron parser.
_CRON_ITEM = re.compile(r"^(\*|[A-Za-z0-9]{1,9}(?:-[A-Za-z0-9]{1,9})?)(?:/([0-9]{1,9}))?$")


def cron_problem(expr: str) -> str | None:
    """Why `expr` is not a valid 5-field cron expression, or None if it is."""
    text = expr.strip()
    if text in _CRON_MACROS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"cron {expr!r} must have 5 fields (minute hour day month weekday), not {len(fields)}"
    for field, (low, high), names in zip(fields, _CRON_RANGES, _CRON_NAMES, strict=True):
        for item in field.split(","):
            match = _CRON_ITEM.match(item)
            if not match:
                return f"cron {expr!r}: {item!r} is not a valid field"
            if match.group(2) is not None and int(match.group(2)) == 0:
                return f"cron {expr!r}: {item!r} has a step of 0"
            if match.group(1) == "*":
                continue
            for bound in match.group(1).split("-"):
                value = names.get(bound.upper()) if not bound.isdigit() else int(bound)
                if value is None or not low <= value <= high:
                    return f"cron {expr!r}: {bound!r} is out of range {low}-{high}"
    return None


def build_static_flows(data: Any, timezones: Collection[str] = ()) -> dict[str, StaticFlowConfig]:
    """Structure the seed's static config; `None`/empty document means no overrides.

    `timezones`: the IANA names the system knows (empty: not checked).
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError("expected a mapping of flow key -> settings", ())
    flows: dict[str, StaticFlowConfig] = {}
    for raw_key, entry in data.items():
        key = normalize_flow_key(str(raw_key))
        if not is_flow_key(key):
            raise ConfigError(f"flow key {raw_key!r} has no letters or digits", (raw_key,))
        if key in flows:
            raise ConfigError(f"flow key {raw_key!r} repeats {key!r} after normalization", (raw_key,))
        if isinstance(entry, Mapping) and "triggers" in entry:  # both forms, checked and completed
            entry = {**entry, "triggers": static_triggers(entry["triggers"], (raw_key, "triggers"))}
        value: StaticFlowConfig = structure(entry or {}, StaticFlowConfig, (raw_key,))
        if value.cron is not None and (problem := cron_problem(value.cron)):
            raise ConfigError(problem, (raw_key, "cron"))
        value = checked_flow_settings(value, (raw_key,), timezones)
        _check_user_tags(value.tags, (raw_key, "tags"))
        flows[key] = value
    return flows


def _check_user_tags(tags: list[str], path: tuple[str | int, ...]) -> None:
    for index, tag in enumerate(tags):
        if "=" in tag:
            key, _ = parse_tag(tag)
            if key in RESERVED_KEYS:
                raise ConfigError(f"tag key {key!r} is reserved for flowportal", (*path, index))


def build_environments(data: Any, default_project: str | None) -> EnvironmentsFile:
    if data is None:
        raise ConfigError("the file is empty; it needs at least 'environments'", ())
    value: EnvironmentsFile = structure(data, EnvironmentsFile)
    if not value.environments:
        raise ConfigError("at least one environment is required", ("environments",))
    project = value.project or default_project
    if not project:
        raise ConfigError("'project' is required (no pyproject.toml name to default to)", ())
    try:
        slugify(project, "project")
    except ValueError as err:
        raise ConfigError(str(err), ("project",) if value.project else ()) from None
    if value.image_template is not None and (problem := image_template_problem(value.image_template)):
        raise ConfigError(problem, ("image_template",))
    checked_envs: dict[str, EnvironmentConfig] = {}
    for name, env in value.environments.items():
        checked_envs[name] = checked_environment(env, ("environments", name))
        try:
            slugify(name, "environment")
        except ValueError as err:
            raise ConfigError(str(err), ("environments", name)) from None
        for index, secret in enumerate(env.secrets):
            if secret in env.env:
                raise ConfigError(
                    f"{secret!r} is both a secret and a plain env var; keep it in one place",
                    ("environments", name, "secrets", index),
                )
        _check_user_tags(env.tags, ("environments", name, "tags"))
    for index, env_name in enumerate(value.promotion_path):
        if env_name not in value.environments:
            raise ConfigError(
                f"unknown environment {env_name!r}{did_you_mean(env_name, value.environments)}",
                ("promotion_path", index),
            )
    if len(set(value.promotion_path)) != len(value.promotion_path):
        raise ConfigError("an environment appears twice on the path", ("promotion_path",))
    if value.write_concurrency is not None and value.write_concurrency < 1:
        raise ConfigError("write_concurrency must be at least 1", ("write_concurrency",))
    if value.flow_name_style not in FLOW_NAME_STYLES:
        raise ConfigError(
            f"flow_name_style must be one of {', '.join(FLOW_NAME_STYLES)}, not "
            f"{value.flow_name_style!r}{did_you_mean(value.flow_name_style, FLOW_NAME_STYLES)}",
            ("flow_name_style",),
        )
    return attrs.evolve(value, project=project, environments=checked_envs)


def build_project_config(
    environments: EnvironmentsFile, flows: Mapping[str, StaticFlowConfig]
) -> ProjectConfig:
    assert environments.project is not None
    path = tuple(environments.promotion_path) or tuple(environments.environments)
    return ProjectConfig(
        project=environments.project,
        flows_root=environments.flows_root,
        image_template=environments.image_template,
        promotion_path=path,
        write_concurrency=environments.write_concurrency,
        environments=dict(environments.environments),
        flows=dict(flows),
        flow_name_style=environments.flow_name_style,
        protected_branches=tuple(environments.protected_branches),
    )
