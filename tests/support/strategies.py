"""Hypothesis strategies for the core's values.

Text is deliberately hostile where real input is: tag values hold `=`, spaces
and unicode; env values are arbitrary text; branch and project names contain
`/`, spaces and non-ASCII letters. Structural parts that the product itself
validates (env var names, flow keys, cron expressions) are generated valid,
so a property failure points at the law, not at the generator.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from portal_core.config import EnvironmentConfig, ProjectConfig, StaticFlowConfig, WorkPoolConfig
from portal_core.deployments import DeployedState, DeploymentSpec, Schedule
from portal_core.tags import RESERVED_KEYS, VersionTags, make_tag

# --------------------------------------------------------------------------- text

#: any text, unicode included
any_text = st.text(max_size=20)

#: Any character text can hold once decoded from UTF-8 (files, argv, git): no lone surrogates.
decodable_characters = st.characters(blacklist_categories=("Cs",))

#: tag values: `=`, spaces and unicode are the interesting cases
tag_values = st.text(
    alphabet=st.one_of(st.sampled_from("==  abcXYZ019._-/:,éñ☃"), decodable_characters),
    max_size=24,
)

#: raw names that slug to something (first char alphanumeric), with `/`, spaces, unicode after it
sluggable_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcdefghXYZ0123456789"),
    st.text(alphabet=st.one_of(st.sampled_from("abc019._-/ "), decodable_characters),
            max_size=12),
)
#: Branch names as git and CI can give them: anything sluggable but control characters
#: (which flowportal refuses before planning, see portal_core.deploy.control_character_problems).
branch_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("abcdefghXYZ0123456789"),
    st.text(alphabet=st.one_of(st.sampled_from("abc019._-/ "), st.characters(exclude_categories=("Cc",))),
            max_size=12),
)

#: env var names as shells accept them
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
env_keys = st.builds(
    str.__add__, st.sampled_from(_UPPER), st.text(alphabet=_UPPER + _DIGITS + "_", max_size=10)
)

#: env var values: arbitrary text
env_values = st.text(max_size=20)

env_dicts = st.dictionaries(env_keys, env_values, max_size=5)

#: secret values: long, random letters and digits (unicode included), easy to search for
secret_values = st.text(alphabet=st.characters(categories=("L", "N")), min_size=8, max_size=40)

#: flow keys as discovery produces them (normalized)
flow_keys = st.builds(
    lambda head, rest, parts: "_".join([head + rest, *parts]),
    st.sampled_from(_LOWER),
    st.text(alphabet=_LOWER + _DIGITS, max_size=6),
    st.lists(st.text(alphabet=_LOWER + _DIGITS, min_size=1, max_size=4), max_size=2),
)

pool_names = st.builds(
    str.__add__, st.sampled_from(_LOWER), st.text(alphabet=_LOWER + _DIGITS + "-", max_size=10)
)

# --------------------------------------------------------------------------- json-like values

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)

#: job variables other than `env` and `image` (those two have their own rules)
plain_job_variables = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k not in ("env", "image")), json_values, max_size=3
)

parameter_schemas = st.none() | st.builds(
    lambda props: {"type": "object", "title": "Parameters", "properties": props},
    st.dictionaries(
        st.text(alphabet=_LOWER + "_", min_size=1, max_size=8),
        st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "boolean", "default": True}]),
        max_size=3,
    ),
)

pull_steps = st.lists(
    st.builds(
        lambda d: {"prefect.deployments.steps.set_working_directory": {"directory": d}},
        st.text(min_size=1, max_size=20),
    ),
    max_size=2,
)

# --------------------------------------------------------------------------- cron


def _cron_field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """One valid cron field over [low, high]; `names` maps low.. to names (JAN, SUN...)."""
    number = st.integers(low, high)
    pair = st.tuples(number, number).map(sorted)
    step = st.integers(1, high)
    items = [
        st.just("*"),
        number.map(str),
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        step.map(lambda s: f"*/{s}"),
        st.tuples(pair, step).map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
    ]
    if names:
        index = st.integers(0, len(names) - 1)
        items.append(index.map(lambda i: names[i]))
        items.append(
            st.tuples(index, index).map(sorted).map(lambda p: f"{names[p[0]]}-{names[p[1]]}")
        )
    return st.lists(st.one_of(items), min_size=1, max_size=3).map(",".join)


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

#: valid minute, hour, day, month, weekday fields, in that order
cron_fields = (
    _cron_field(0, 59),
    _cron_field(0, 23),
    _cron_field(1, 31),
    _cron_field(1, 12, MONTHS),
    _cron_field(0, 7, WEEKDAYS),
)

valid_crons = st.one_of(
    st.tuples(*cron_fields).map(" ".join),
    st.sampled_from(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]),
)

schedules = st.lists(
    st.builds(
        Schedule,
        cron=st.sampled_from(["0 12 * * 1-5", "*/5 * * * *", "0 0 1 * *", "30 6 * * MON"]),
        timezone=st.sampled_from(["UTC", "Europe/London", "America/New_York"]),
    ),
    max_size=2,
)

# --------------------------------------------------------------------------- tags

version_tags = st.builds(VersionTags, tag_values, tag_values, tag_values, tag_values)

_user_tag_keys = st.builds(
    str.__add__, st.sampled_from(_UPPER + _LOWER), st.text(alphabet=_UPPER + _LOWER + _DIGITS + "_", max_size=8)
).filter(
    lambda k: k not in RESERVED_KEYS
)

#: user tags: plain words or KEY=VALUE with a key flowportal does not reserve
user_tags = st.one_of(
    # from YAML or JSON files: any character UTF-8 can carry (no lone surrogates)
    st.text(alphabet=st.characters(exclude_characters="=", exclude_categories=("Cs",)),
            min_size=1, max_size=12),
    st.builds(make_tag, _user_tag_keys, tag_values),
)

# --------------------------------------------------------------------------- deployments


@st.composite
def deployment_fields(
    draw: st.DrawFn, name: st.SearchStrategy[str] | None = None
) -> dict[str, Any]:
    """Keyword arguments for the writable fields shared by specs and states."""
    tags = list(draw(st.lists(user_tags, max_size=3)))
    if draw(st.booleans()):
        tags = [*draw(version_tags).to_tags(), *tags]
    return {
        "name": draw(name if name is not None else st.text(min_size=1, max_size=30)),
        "flow_name": draw(st.text(min_size=1, max_size=15)),
        "entrypoint": draw(st.builds(lambda p, f: f"{p}.py:{f}", st.text(min_size=1, max_size=15),
                                     flow_keys)),
        "description": draw(st.text(alphabet=decodable_characters, max_size=20)),
        "version": draw(st.text(alphabet=decodable_characters, max_size=20)),
        "tags": tuple(tags),
        "work_pool_name": draw(pool_names),
        "work_queue_name": draw(st.none() | st.sampled_from(["default", "high", "low"])),
        "job_variables": {**draw(plain_job_variables), "env": draw(env_dicts)},
        "parameters": draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
        "parameter_schema": draw(parameter_schemas),
        "schedules": tuple(draw(schedules)),
        "concurrency_limit": draw(st.none() | st.integers(1, 50)),
        "pull_steps": tuple(draw(pull_steps)),
        "enforce_parameter_schema": draw(st.booleans()),
    }


@st.composite
def deployment_specs(
    draw: st.DrawFn,
    name: st.SearchStrategy[str] | None = None,
    secrets: st.SearchStrategy[dict[str, str]] | None = None,
) -> DeploymentSpec:
    """A spec; `secrets` (name -> value) are added to the env and marked secret."""
    fields = draw(deployment_fields(name))
    secret_env = draw(secrets) if secrets is not None else {}
    env = {k: v for k, v in fields["job_variables"]["env"].items() if k not in secret_env}
    fields["job_variables"] = {**fields["job_variables"], "env": {**env, **secret_env}}
    return DeploymentSpec(
        **fields,
        paused=draw(st.none() | st.booleans()),
        flow_key=draw(flow_keys),
        secret_names=frozenset(secret_env),
    )


@st.composite
def deployed_states(draw: st.DrawFn, name: st.SearchStrategy[str] | None = None) -> DeployedState:
    fields = draw(deployment_fields(name))
    return DeployedState(
        **fields,
        paused=draw(st.booleans()),
        id=str(draw(st.uuids())),
        flow_id=str(draw(st.uuids())),
    )


# --------------------------------------------------------------------------- config

work_pool_configs = st.builds(
    WorkPoolConfig,
    name=pool_names,
    type=st.sampled_from(["process", "docker", "kubernetes", "ecs"]),
    create=st.booleans(),
)


@st.composite
def environment_configs(draw: st.DrawFn) -> EnvironmentConfig:
    """An environment's own settings; secrets never also appear as plain env vars."""
    env = draw(env_dicts)
    secrets = draw(st.lists(env_keys.filter(lambda k: k not in env), unique=True, max_size=3))
    return EnvironmentConfig(
        work_pool=draw(st.none() | work_pool_configs),
        work_queue=draw(st.none() | st.sampled_from(["default", "high", "low"])),
        env=env,
        secrets=secrets,
        job_variables=draw(plain_job_variables),
        tags=draw(st.lists(user_tags, max_size=3)),
        paused=draw(st.none() | st.booleans()),
        schedules=draw(st.booleans()),
    )


static_flow_configs = st.builds(
    StaticFlowConfig,
    name=st.none() | any_text,
    cron=st.none() | valid_crons,
    timezone=st.none() | st.sampled_from(["UTC", "Europe/Paris"]),
    description=st.none() | any_text,
    work_pool_name=st.none() | pool_names,
    work_queue_name=st.none() | st.sampled_from(["default", "high"]),
    parameters=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    paused=st.none() | st.booleans(),
    concurrency_limit=st.none() | st.integers(1, 10),
    tags=st.lists(user_tags, max_size=3),
    job_variables=plain_job_variables,
)


@st.composite
def project_configs(
    draw: st.DrawFn,
    envs: tuple[str, ...] = ("dev", "uat", "prod"),
    flows: st.SearchStrategy[list[str]] | None = None,
) -> ProjectConfig:
    """A whole project's config with the given environments (in promotion order)."""
    keys = draw(flows if flows is not None else st.lists(flow_keys, unique=True, max_size=4))
    return ProjectConfig(
        project=draw(sluggable_names),
        flows_root=".",
        image_template=draw(st.none() | st.just("registry/acme/{project}:{branch}-{commit}")),
        promotion_path=envs,
        write_concurrency=2,
        environments={name: draw(environment_configs()) for name in envs},
        flows={key: draw(static_flow_configs) for key in keys},
    )
