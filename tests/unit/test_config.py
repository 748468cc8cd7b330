"""Configuration: the seed's format verbatim, and one clear located error for bad input.

Every config error must name the file, line and column and the offending key,
because a user fixing YAML needs to know where, not
just what.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.strategies import cron_fields, valid_crons

from flowportal.workspace import ENVIRONMENTS_FILE, STATIC_FLOWS_FILE, load_workspace
from portal_core.config import (
    StaticFlowConfig,
    WorkPoolConfig,
    build_environments,
    build_static_flows,
    cron_problem,
)
from portal_core.dotenv import parse_dotenv
from portal_core.errors import ConfigError
from portal_io.yaml_files import YamlDocument, load_yaml

# Verbatim from the seed SDK's documentation (prefect-support.md), 4-space indentation.
SEED_EXAMPLE = """\
hello_world:
    name: hello_world
    import_path: acme_prefect.flows.hello_world:hello_world
    cron: "0 12 * * 1-5"
    description: Hello World
    work_pool_name: ecs-pool
"""

ENVIRONMENTS = """\
project: acme-prefect
image_template: "registry.example.com/acme/{project}:{branch}-{commit}"
promotion_path: [dev, uat, prod]
environments:
  dev:
    work_pool: {name: local-pool, type: process, create: true}
    env: {LOG_LEVEL: debug, PORT: 8080}
  uat:
    prefect_api_url: http://uat.example.com/api
    work_pool: {name: ecs-pool, type: ecs}
    secrets: [DB_PASSWORD]
  prod:
    prefect_api_url: http://prod.example.com/api
    work_pool: {name: ecs-pool, type: ecs}
    paused: false
    schedules: true
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def static_error(tmp_path: Path, text: str) -> str:
    """The one line a user sees for a broken static config."""
    doc = load_yaml(write(tmp_path / "static.yaml", text), STATIC_FLOWS_FILE)
    with pytest.raises(ConfigError) as raised:
        build_static_flows(doc.data)
    return str(doc.error(raised.value))


def environments_error(tmp_path: Path, text: str) -> str:
    doc = load_yaml(write(tmp_path / "envs.yaml", text), ENVIRONMENTS_FILE)
    with pytest.raises(ConfigError) as raised:
        build_environments(doc.data, "acme")
    return str(doc.error(raised.value))


# --------------------------------------------------------------------------- the seed's format


def test_the_seeds_example_loads_verbatim(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path / "static_flow_deploy_config.yaml", SEED_EXAMPLE))

    flows = build_static_flows(doc.data)

    assert flows == {
        "hello_world": StaticFlowConfig(
            name="hello_world",
            import_path="acme_prefect.flows.hello_world:hello_world",
            cron="0 12 * * 1-5",
            description="Hello World",
            work_pool_name="ecs-pool",
        )
    }


def test_an_empty_static_config_means_no_overrides(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path / "static.yaml", "# nothing yet\n"))
    assert build_static_flows(doc.data) == {}


def test_static_flow_keys_are_normalized_and_collisions_refused(tmp_path: Path) -> None:
    assert list(build_static_flows({"hello-world": {}})) == ["hello_world"]

    message = static_error(tmp_path, "hello_world: {}\nhello-world: {}\n")

    assert message.startswith(f"{STATIC_FLOWS_FILE}:2:1: hello-world: ")
    assert "repeats 'hello_world'" in message


def test_the_optional_extras_of_the_seed_format_are_accepted(tmp_path: Path) -> None:
    text = SEED_EXAMPLE + textwrap.indent(textwrap.dedent("""\
        work_queue_name: high
        parameters: {count: 3}
        paused: true
        concurrency_limit: 2
        tags: [team=data, nightly]
        job_variables: {cpu: 512}
        triggers: [{enabled: true}]
    """), "    ")
    (flow,) = build_static_flows(load_yaml(write(tmp_path / "s.yaml", text)).data).values()

    assert flow.work_queue_name == "high"
    assert flow.parameters == {"count": 3}
    assert flow.paused is True
    assert flow.concurrency_limit == 2
    assert flow.tags == ["team=data", "nightly"]
    assert flow.job_variables == {"cpu": 512}
    (trigger,) = flow.triggers  # completed with Prefect's defaults (see test_automations)
    assert trigger["enabled"] is True and trigger["trigger"]["type"] == "event"


# --------------------------------------------------------------------------- located errors


def test_an_unknown_key_names_file_line_column_and_suggests_the_right_one(tmp_path: Path) -> None:
    text = SEED_EXAMPLE.replace("work_pool_name:", "work_pool_nam:")

    message = static_error(tmp_path, text)

    assert message == (
        f"{STATIC_FLOWS_FILE}:6:5: hello_world.work_pool_nam: unknown key 'work_pool_nam'; "
        "did you mean 'work_pool_name'?"
    )


def test_an_unknown_nested_key_in_environments_is_located(tmp_path: Path) -> None:
    text = ENVIRONMENTS.replace("{name: ecs-pool, type: ecs}\n    secrets", "{name: ecs-pool, typ: ecs}\n    secrets")

    message = environments_error(tmp_path, text)

    assert message.startswith(f"{ENVIRONMENTS_FILE}:10:33: environments.uat.work_pool.typ: ")
    assert "unknown key 'typ'; did you mean 'type'?" in message


@pytest.mark.parametrize(
    ("line", "key_path", "expected"),
    [
        ('    paused: "yes"', "hello_world.paused", "expected bool, got str"),
        ("    paused: yes please", "hello_world.paused", "expected bool, got str"),
        ("    tags: nightly", "hello_world.tags", "expected a list, got str"),
        ("    concurrency_limit: true", "hello_world.concurrency_limit", "expected int, got a boolean"),
        ("    parameters: [1, 2]", "hello_world.parameters", "expected a mapping, got list"),
        ("    work_queue_name: [a, b]", "hello_world.work_queue_name", "expected str, got list"),
        ("    concurrency_limit: 0", "hello_world.concurrency_limit", "must be at least 1"),
    ],
)
def test_a_wrong_type_names_the_key_path_and_its_line(
    tmp_path: Path, line: str, key_path: str, expected: str
) -> None:
    message = static_error(tmp_path, SEED_EXAMPLE + line + "\n")

    assert message.startswith(f"{STATIC_FLOWS_FILE}:7:5: {key_path}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("replace", "by", "key_path", "expected"),
    [
        ("paused: false", 'paused: "no"', "environments.prod.paused", "expected bool, got str"),
        ("secrets: [DB_PASSWORD]", "secrets: DB_PASSWORD", "environments.uat.secrets", "expected a list"),
        ("env: {LOG_LEVEL: debug, PORT: 8080}", "env: [LOG_LEVEL=debug]", "environments.dev.env",
         "expected a mapping"),
        ("schedules: true", "schedules: 1", "environments.prod.schedules", "expected bool, got int"),
    ],
)
def test_wrong_types_in_environments_name_the_key_path(
    tmp_path: Path, replace: str, by: str, key_path: str, expected: str
) -> None:
    assert replace in ENVIRONMENTS
    message = environments_error(tmp_path, ENVIRONMENTS.replace(replace, by))

    assert re.match(rf"{re.escape(ENVIRONMENTS_FILE)}:\d+:\d+: {re.escape(key_path)}: ", message), message
    assert expected in message


def test_numbers_in_env_values_are_kept_as_text() -> None:
    envs = build_environments({"environments": {"dev": {"env": {"PORT": 8080}}}}, "acme")
    assert envs.environments["dev"].env == {"PORT": "8080"}


def test_a_bad_cron_is_rejected_at_its_line(tmp_path: Path) -> None:
    message = static_error(tmp_path, SEED_EXAMPLE.replace('"0 12 * * 1-5"', '"0 12 * *"'))

    assert message.startswith(f"{STATIC_FLOWS_FILE}:4:5: hello_world.cron: ")
    assert "must have 5 fields" in message


def test_promotion_path_with_an_unknown_env_is_located_with_a_did_you_mean(tmp_path: Path) -> None:
    message = environments_error(tmp_path, ENVIRONMENTS.replace("[dev, uat, prod]", "[dev, uat, prd]"))

    assert message.startswith(f"{ENVIRONMENTS_FILE}:3:28: promotion_path.2: ")
    assert "unknown environment 'prd'; did you mean 'prod'?" in message


def test_an_env_twice_on_the_promotion_path_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        build_environments({"promotion_path": ["dev", "dev"], "environments": {"dev": {}}}, "acme")
    assert raised.value.path == ("promotion_path",)


@pytest.mark.parametrize("key", ["PROJECT_NAME", "BRANCH_NAME", "COMMIT_HASH", "PACKAGE_VERSION", "MANAGED_BY"])
def test_reserved_tag_keys_are_refused_in_both_files(tmp_path: Path, key: str) -> None:
    static = static_error(tmp_path, SEED_EXAMPLE + f"    tags: [ok, {key}=mine]\n")
    assert static.startswith(f"{STATIC_FLOWS_FILE}:7:") and "hello_world.tags.1: " in static
    assert f"tag key {key!r} is reserved" in static

    envs = environments_error(tmp_path, ENVIRONMENTS + f"    tags: [{key}=x]\n")
    assert "environments.prod.tags.0: " in envs and f"tag key {key!r} is reserved" in envs


def test_a_tag_that_merely_contains_a_reserved_key_is_fine() -> None:
    flows = build_static_flows({"f": {"tags": ["OLD_COMMIT_HASH=1", "COMMIT_HASHES", "x=COMMIT_HASH=1"]}})
    assert flows["f"].tags == ["OLD_COMMIT_HASH=1", "COMMIT_HASHES", "x=COMMIT_HASH=1"]


def test_a_secret_that_is_also_a_plain_env_var_is_refused(tmp_path: Path) -> None:
    text = ENVIRONMENTS.replace("secrets: [DB_PASSWORD]", "secrets: [DB_PASSWORD]\n    env: {DB_PASSWORD: x}")
    message = environments_error(tmp_path, text)
    assert "environments.uat.secrets.0: " in message and "both a secret and a plain env var" in message


def test_an_env_name_without_letters_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        build_environments({"environments": {"//": {}}}, "acme")
    assert raised.value.path == ("environments", "//")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("hello_world:\n    name: [unclosed\n    cron: x\n", 3),
        ("a: 1\n  b: 2\n", 2),
        ("key: 'unterminated\n", 2),
    ],
)
def test_malformed_yaml_names_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(ConfigError) as raised:
        load_yaml(write(tmp_path / "bad.yaml", text), STATIC_FLOWS_FILE)

    message = str(raised.value)
    assert re.match(rf"{re.escape(STATIC_FLOWS_FILE)}:{line}:\d+: malformed YAML", message), message
    assert "\n" not in message


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_yaml(tmp_path / "absent.yaml", "config/absent.yaml")
    assert str(raised.value) == "config/absent.yaml: file not found"


def test_locate_falls_back_to_the_deepest_known_key() -> None:
    doc = YamlDocument("f.yaml", {}, {(): (1, 1), ("a",): (2, 3), ("a", "b"): (4, 5)})

    assert doc.locate(("a", "b", "c", 0)) == (4, 5)
    assert doc.locate(("a", "z")) == (2, 3)
    assert doc.locate(("q",)) == (1, 1)
    assert str(doc.error(ConfigError("bad", ("a", "b", "c")))) == "f.yaml:4:5: a.b.c: bad"


# --------------------------------------------------------------------------- cron


@given(valid_crons)
def test_valid_crons_are_accepted(cron: str) -> None:
    assert cron_problem(cron) is None


@given(st.sampled_from([1, 2, 3, 4, 6, 7, 8, 9]).flatmap(
    lambda n: st.lists(st.one_of(cron_fields), min_size=n, max_size=n)))
def test_crons_with_the_wrong_number_of_fields_are_rejected(fields: list[str]) -> None:
    problem = cron_problem(" ".join(fields))
    assert problem is not None
    assert f"must have 5 fields (minute hour day month weekday), not {len(fields)}" in problem


@given(st.integers(0, 4), st.data())
def test_out_of_range_values_are_rejected(position: int, data: st.DataObject) -> None:
    low, high = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)][position]
    value = data.draw(st.integers(high + 1, 999) | st.integers(0, low - 1) if low else st.integers(high + 1, 999))
    fields = ["*"] * 5
    fields[position] = str(value)

    problem = cron_problem(" ".join(fields))

    assert problem is not None and f"out of range {low}-{high}" in problem


@pytest.mark.parametrize("cron", ["*/0 * * * *", "0 0/0 * * *", "0 0 * * MON/0", "x * * * *", "0 12 * * FUNDAY",
                                  "", "@often", "0 12 * * 1-5 extra"])
def test_malformed_crons_are_rejected(cron: str) -> None:
    assert cron_problem(cron) is not None


# --------------------------------------------------------------------------- dotenv

# `str.splitlines` also splits on these; a dotenv value cannot hold them
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
dotenv_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True)
one_line = st.text(alphabet=st.characters(exclude_characters=_LINE_BREAKS), max_size=20)


def _unquoted_ok(value: str) -> bool:
    """What a bare `K=v` can carry: no outer whitespace, no ` #` comment, not quote-wrapped."""
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    return value == value.strip() and not re.search(r"\s#", value) and not quoted


@st.composite
def dotenv_lines(draw: st.DrawFn, key: str, value: str) -> str:
    styles = ["single"] if "\\" in value else ["double", "single"]
    if _unquoted_ok(value):
        styles.append("bare")
    style = draw(st.sampled_from(styles))
    prefix = draw(st.sampled_from(["", "export "]))
    eq = draw(st.sampled_from(["=", " = ", "= "]))
    if style == "double":
        return f'{prefix}{key}{eq}"{value.replace(chr(34), chr(92) + chr(34))}"'
    if style == "single":
        return f"{prefix}{key}{eq}'{value}'"
    return f"{prefix}{key}{eq}{value}"


@given(st.dictionaries(dotenv_keys, one_line, max_size=6), st.data())
def test_dotenv_round_trips(values: dict[str, str], data: st.DataObject) -> None:
    lines = []
    for key, value in values.items():
        if data.draw(st.booleans()):
            lines.append(data.draw(st.sampled_from(["", "# a comment", "   ", "#K=not a value"])))
        lines.append(data.draw(dotenv_lines(key, value)))

    assert parse_dotenv("\n".join(lines)) == values


def test_dotenv_details() -> None:
    text = 'A=1 # comment\nB="x#y"\nC=a#b\nD="line\\nbreak"\nA=2\n'
    assert parse_dotenv(text) == {"A": "2", "B": "x#y", "C": "a#b", "D": "line\nbreak"}


def test_a_malformed_dotenv_line_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_dotenv("A=1\nnot a pair\n", "config/app.dev.1.env")
    assert str(raised.value) == "config/app.dev.1.env:2: expected KEY=VALUE"


# --------------------------------------------------------------------------- load_workspace


def test_load_workspace_reads_both_files(tmp_path: Path) -> None:
    write(tmp_path / ENVIRONMENTS_FILE, ENVIRONMENTS)
    write(tmp_path / STATIC_FLOWS_FILE, SEED_EXAMPLE)

    config = load_workspace(tmp_path).config

    assert config.project == "acme-prefect"
    assert config.promotion_path == ("dev", "uat", "prod")
    assert config.environment("dev").config.work_pool == WorkPoolConfig("local-pool", "process", True)
    assert config.environment("dev").config.env == {"LOG_LEVEL": "debug", "PORT": "8080"}
    assert config.environment("uat").config.secrets == ["DB_PASSWORD"]
    assert config.environment("prod").config.paused is False
    assert config.flow_config("hello_world").work_pool_name == "ecs-pool"
    assert config.flow_config("not_configured") == StaticFlowConfig()


def test_load_workspace_takes_the_project_name_from_pyproject(tmp_path: Path) -> None:
    write(tmp_path / ENVIRONMENTS_FILE, ENVIRONMENTS.replace("project: acme-prefect\n", ""))
    write(tmp_path / "pyproject.toml", '[project]\nname = "from-pyproject"\nversion = "1.2.3"\n')

    assert load_workspace(tmp_path).config.project == "from-pyproject"
    assert load_workspace(tmp_path).config.flows == {}


def test_load_workspace_errors_point_into_environments_yaml(tmp_path: Path) -> None:
    write(tmp_path / ENVIRONMENTS_FILE, ENVIRONMENTS.replace("    paused: false", "    pasued: false"))
    write(tmp_path / STATIC_FLOWS_FILE, SEED_EXAMPLE)

    with pytest.raises(ConfigError) as raised:
        load_workspace(tmp_path)

    assert str(raised.value) == (
        f"{ENVIRONMENTS_FILE}:15:5: environments.prod.pasued: unknown key 'pasued'; "
        "did you mean 'paused'?"
    )


def test_load_workspace_errors_point_into_the_static_config(tmp_path: Path) -> None:
    write(tmp_path / ENVIRONMENTS_FILE, ENVIRONMENTS)
    write(tmp_path / STATIC_FLOWS_FILE, SEED_EXAMPLE.replace('"0 12 * * 1-5"', '"*/0 12 * * *"'))

    with pytest.raises(ConfigError) as raised:
        load_workspace(tmp_path)

    assert str(raised.value).startswith(f"{STATIC_FLOWS_FILE}:4:5: hello_world.cron: ")


def test_a_directory_without_environments_yaml_is_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_workspace(tmp_path)
    assert f"{ENVIRONMENTS_FILE} is missing" in str(raised.value)
