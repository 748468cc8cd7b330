"""Every input the tool reads, made hostile: one located error line, never a crash or a hang.

Classes of input: the files themselves (size, encoding, folders, pipes), YAML
structure (merge keys, alias bombs, odd tags), config values Prefect would
reject mid-apply (time zones, names, non-JSON parameters, URLs), and paths
that must stay inside the repository.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fakes import fake_dependencies
from support.memory_gateway import InMemoryGateway

from flowportal.usecases.deploy import DeployRequest, deploy
from flowportal.workspace import ENVIRONMENTS_FILE, STATIC_FLOWS_FILE, load_workspace
from portal_core.config import build_static_flows
from portal_core.errors import ConfigError, DiscoveryError
from portal_core.validation import (
    PREFECT_BANNED_NAME_CHARS,
    URL_BREAKING_NAME_CHARS,
    api_url_problem,
    is_inside,
    json_datetime,
    json_value,
    name_problem,
    timezone_problem,
)
from portal_io.project_files import read_dotenv, read_pyproject
from portal_io.text_files import MAX_CONFIG_BYTES
from portal_io.yaml_files import ALIAS_BUDGET, load_yaml, parse_yaml

PROPS = settings(max_examples=200, deadline=None)

ENVIRONMENTS = """\
project: acme
flows_root: flows
environments:
  dev:
    work_pool: {name: dev-pool, type: process, create: true}
    env_file: config/app.{env}.env
    working_dir: .
"""

FLOW = "from prefect import flow\n\n\n@flow\ndef hello() -> None:\n    pass\n"

# The classic "billion laughs", about 450 bytes: 9 levels of 9 aliases, 9**9 strings.
BOMB = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(
            f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def project(root: Path, environments: str = ENVIRONMENTS, static: str | None = None) -> Path:
    write(root / ENVIRONMENTS_FILE, environments)
    if static is not None:
        write(root / STATIC_FLOWS_FILE, static)
    write(root / "flows" / "hello.py", FLOW)
    write(root / "config" / "app.dev.env", "FROM_FILE=yes\n")
    return root


def load_error(root: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_workspace(root)
    return str(raised.value)


# --------------------------------------------------------------------------- the files themselves


def test_non_utf8_config_names_file_line_and_column(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path / STATIC_FLOWS_FILE, b"hello:\n  description: caf\xe9\n")
    assert load_error(tmp_path) == (
        f"{STATIC_FLOWS_FILE}:2:19: is not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


@pytest.mark.parametrize("which", [ENVIRONMENTS_FILE, STATIC_FLOWS_FILE])
def test_a_config_file_that_is_a_folder_is_an_error(tmp_path: Path, which: str) -> None:
    project(tmp_path)
    if which == ENVIRONMENTS_FILE:
        (tmp_path / which).unlink()
    (tmp_path / which).mkdir(parents=True)
    assert load_error(tmp_path) == f"{which}: is a folder, expected a file"


def test_a_config_file_that_is_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    project(tmp_path)
    os.mkfifo(tmp_path / STATIC_FLOWS_FILE)
    assert load_error(tmp_path) == f"{STATIC_FLOWS_FILE}: is not a regular file (a pipe or a device?)"


def test_an_oversized_config_is_refused_before_parsing(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path / STATIC_FLOWS_FILE, "# padding\n" * (MAX_CONFIG_BYTES // 10 * 2))
    started = time.perf_counter()
    message = load_error(tmp_path)
    assert time.perf_counter() - started < 1.0
    assert message == f"{STATIC_FLOWS_FILE}: is 2 MiB; config files are limited to 1 MiB"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"A=1\nB=\xff\n", "config/app.dev.env:2:3: is not UTF-8 text (byte 0xff); save it as UTF-8"),
        (None, "config/app.dev.env: is a folder, expected a file"),
        (b"A=1\nnot a pair\n", "config/app.dev.env:2: expected KEY=VALUE"),
    ],
    ids=["non-utf8", "folder", "malformed"],
)
def test_dotenv_problems_name_the_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "config" / "app.dev.env"
    if content is None:
        path.mkdir(parents=True)
    else:
        write(path, content)
    with pytest.raises(ConfigError) as raised:
        read_dotenv(path, "config/app.dev.env")
    assert str(raised.value) == expected


def test_a_missing_dotenv_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        read_dotenv(tmp_path / "nope.env", "config/nope.env")
    assert str(raised.value) == "config/nope.env: env_file not found"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[project]\nname = "caf\xe9"\n', "pyproject.toml:2:12: is not UTF-8 text (byte 0xe9); save it as UTF-8"),
        (None, "pyproject.toml: is a folder, expected a file"),
        (b'project = "flat"\n', "pyproject.toml: [project] must be a table"),
    ],
    ids=["non-utf8", "folder", "not-a-table"],
)
def test_pyproject_problems_name_the_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    if content is None:
        (tmp_path / "pyproject.toml").mkdir()
    else:
        write(tmp_path / "pyproject.toml", content)
    with pytest.raises(ConfigError) as raised:
        read_pyproject(tmp_path)
    assert str(raised.value) == expected


# --------------------------------------------------------------------------- YAML structure


MERGED = """\
defaults: &defaults
  cron: "0 6 * * *"
  timezone: Europe/Paris
  parameters: {region: eu}
hello:
  <<: *defaults
  description: Hello
other:
  <<: *defaults
  cron: "0 7 * * *"
"""


def test_merge_keys_are_supported(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path / "s.yaml", MERGED), "s.yaml")
    flows = build_static_flows(doc.data)
    assert flows["hello"].cron == "0 6 * * *" and flows["hello"].description == "Hello"
    assert flows["hello"].parameters == {"region": "eu"}
    assert flows["other"].cron == "0 7 * * *" and flows["other"].timezone == "Europe/Paris"


def test_an_error_in_a_merged_value_points_where_it_is_written(tmp_path: Path) -> None:
    project(tmp_path, static=MERGED.replace("Europe/Paris", "Europe/Pariss"))
    assert load_error(tmp_path) == (
        f"{STATIC_FLOWS_FILE}:3:3: defaults.timezone: timezone 'Europe/Pariss' is not an IANA"
        " time zone name; did you mean 'Europe/Paris'?"
    )


def test_a_merged_key_is_located_in_the_mapping_it_comes_from(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path / "s.yaml", MERGED), "s.yaml")
    assert doc.where(("other", "timezone")) == "s.yaml:3:3"  # written under `defaults`
    assert doc.where(("other", "cron")) == "s.yaml:10:3"  # its own, overriding
    assert doc.where(("hello", "description")) == "s.yaml:7:3"


def test_an_alias_bomb_is_one_located_error_in_well_under_a_second() -> None:
    assert 300 < len(BOMB) < 500
    parse_yaml("warm: up\n", "x.yaml")  # ruamel's import is not the bomb's cost
    started = time.perf_counter()
    with pytest.raises(ConfigError) as raised:
        parse_yaml(BOMB, "config/static_flow_deploy_config.yaml")
    assert time.perf_counter() - started < 0.5
    message = str(raised.value)
    assert message.startswith("config/static_flow_deploy_config.yaml:")
    assert f"expand to more than {ALIAS_BUDGET} values" in message
    assert "\n" not in message


def test_aliases_within_budget_are_expanded() -> None:
    doc = parse_yaml("a: &x [1, 2]\nb: [*x, *x]\n", "x.yaml")
    assert doc.data == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: !custom x\n", "x.yaml:2:1: unsupported YAML value (tag !custom); use plain strings, numbers, lists and mappings"),
        ("a: !!binary aGk=\n", "x.yaml:1:1: unsupported YAML value (binary); use plain strings, numbers, lists and mappings"),
        ("a: !!set {x}\n", "x.yaml:1:1: unsupported YAML value (a set: use a list); use plain strings, numbers, lists and mappings"),
        ("a:\n  ? [1, 2]\n  : x\n", "x.yaml:1:1: a mapping key must be a plain value, not a list or mapping"),
        ("a: 1\na: 2\n", 'x.yaml:2:1: malformed YAML: found duplicate key "a" with value "2" (original value: "1")'),
        ("a: [1, 2\n", "x.yaml:2:1: malformed YAML: expected ',' or ']', but got '<stream end>'"),
    ],
    ids=["tag", "binary", "set", "complex-key", "duplicate", "unclosed"],
)
def test_odd_yaml_is_refused_where_it_appears(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_yaml(text, "x.yaml")
    assert str(raised.value) == expected


def test_deep_nesting_is_refused_not_a_stack_overflow() -> None:
    for depth in (100, 5000):
        with pytest.raises(ConfigError) as raised:
            parse_yaml("a: " + "[" * depth + "]" * depth + "\n", "x.yaml")
        assert str(raised.value).startswith("x.yaml")
        assert "nested" in str(raised.value)


# --------------------------------------------------------------------------- values Prefect would reject


@pytest.mark.parametrize(
    ("static", "expected"),
    [
        ("hello:\n  timezone: Mars/Olympus\n",
         "2:3: hello.timezone: timezone 'Mars/Olympus' is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')"),
        ("hello:\n  timezone: europe/paris\n",
         "2:3: hello.timezone: timezone 'europe/paris' is not an IANA time zone name; did you mean 'Europe/Paris'?"),
        ("hello:\n  work_pool_name: team/pool\n",
         "2:3: hello.work_pool_name: work pool name 'team/pool' contains /; Prefect names cannot contain / % & < > ? #"),
        ("hello:\n  work_queue_name: 'q?x'\n",
         "2:3: hello.work_queue_name: work queue name 'q?x' contains ?; Prefect names cannot contain / % & < > ? #"),
        ("hello:\n  parameters:\n    ratio: .nan\n",
         "3:5: hello.parameters.ratio: nan is not a JSON number; quote it if text is meant"),
        ("hello:\n  parameters:\n    limits: [1, -.inf]\n",
         "3:17: hello.parameters.limits.1: -inf is not a JSON number; quote it if text is meant"),
        ("hello:\n  parameters:\n    by_id: {1: one}\n",
         "3:13: hello.parameters.by_id.1: key 1 is not text; JSON keys are strings (quote it: '1')"),
        ("hello:\n  concurrency_limit: 99999999999\n",
         "2:3: hello.concurrency_limit: concurrency_limit 99999999999 is larger than 2147483647,"
         " the most Prefect stores"),
    ],
    ids=["timezone", "timezone-case", "pool-slash", "queue-question", "nan", "inf", "int-key", "huge-limit"],
)
def test_static_values_fail_at_load_with_their_location(tmp_path: Path, static: str, expected: str) -> None:
    project(tmp_path, static=static)
    assert load_error(tmp_path) == f"{STATIC_FLOWS_FILE}:{expected}"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("name: dev-pool", "name: 'dev%pool'",
         "5:17: environments.dev.work_pool.name: work pool name 'dev%pool' contains %; Prefect names cannot contain / % & < > ? #"),
        ("    working_dir: .\n", "    working_dir: .\n    work_queue: 'a#b'\n",
         "8:5: environments.dev.work_queue: work queue name 'a#b' contains #; Prefect names cannot contain / % & < > ? #"),
        ("    working_dir: .\n", "    working_dir: .\n    prefect_api_url: ftp://example.com/api\n",
         "8:5: environments.dev.prefect_api_url: prefect_api_url 'ftp://example.com/api' must start with http:// or https:// (scheme: 'ftp')"),
        ("    working_dir: .\n", "    working_dir: .\n    prefect_api_url: http://:4200/api\n",
         "8:5: environments.dev.prefect_api_url: prefect_api_url 'http://:4200/api' has no host"),
        ("    working_dir: .\n", "    working_dir: .\n    ui_url: 'http://[::1'\n",
         "8:5: environments.dev.ui_url: ui_url 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
        ("    working_dir: .\n", "    working_dir: .\n    ui_url: 'http://host:99999'\n",
         "8:5: environments.dev.ui_url: ui_url 'http://host:99999' is not a valid URL (Port out of range 0-65535)"),
    ],
    ids=["pool-percent", "queue-hash", "scheme", "no-host", "malformed", "port"],
)
def test_environment_values_fail_at_load_with_their_location(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    assert replace in ENVIRONMENTS
    project(tmp_path, ENVIRONMENTS.replace(replace, by))
    assert load_error(tmp_path) == f"{ENVIRONMENTS_FILE}:{expected}"


def test_dates_in_parameters_become_the_text_the_server_stores(tmp_path: Path) -> None:
    project(tmp_path, static=textwrap.dedent("""\
        hello:
          parameters:
            day: 2024-01-02
            at: 2024-01-02T03:04:05Z
            local: 2024-01-02 03:04:05.5
            offset: 2024-01-02T03:04:05+02:00
            nested: {days: [2024-02-29]}
        """))
    parameters = load_workspace(tmp_path).config.flow_config("hello").parameters
    assert parameters == {
        "day": "2024-01-02",
        "at": "2024-01-02T03:04:05Z",
        "local": "2024-01-02T03:04:05.500000",
        "offset": "2024-01-02T03:04:05+02:00",
        "nested": {"days": ["2024-02-29"]},
    }


def test_bad_values_fail_before_any_pool_is_created_or_deployment_written(tmp_path: Path) -> None:
    """The failure used to come mid-apply, after the work pool had been created."""
    gateway = InMemoryGateway(pools=set())
    request = DeployRequest(flows=("all",), env="dev", branch="main", commit="abc1234",
                            package_version="1.0.0")
    bad_statics = [
        "hello:\n  timezone: Not/AZone\n",
        "hello:\n  parameters: {x: .nan}\n",
        "hello:\n  work_pool_name: 'a/b'\n",
    ]
    for static in bad_statics:
        project(tmp_path, static=static)
        with pytest.raises(ConfigError) as raised:
            deploy(load_workspace(tmp_path), request, fake_dependencies(gateway))
        assert str(raised.value).startswith(f"{STATIC_FLOWS_FILE}:2:")
    assert gateway.created_pools == [] and gateway.attempts == []
    # The same project with sane values does create the pool: the test above could fail.
    project(tmp_path, static="hello:\n  timezone: Europe/Paris\n")
    deploy(load_workspace(tmp_path), request, fake_dependencies(gateway))
    assert gateway.created_pools == [("dev-pool", "process")]


# --------------------------------------------------------------------------- paths in the repository


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("flows_root: flows", "flows_root: ../outside",
         "2:1: flows_root: flows_root '../outside' resolves outside the repository {root}; give a folder inside it"),
        ("flows_root: flows", "flows_root: /etc",
         "2:1: flows_root: flows_root '/etc' must be relative to the repository root"),
        ("flows_root: flows", "flows_root: missing",
         "2:1: flows_root: flows_root 'missing' does not exist under {root}"),
        ("flows_root: flows", "flows_root: flows/hello.py",
         "2:1: flows_root: flows_root 'flows/hello.py' is not a folder under {root}"),
        ("env_file: config/app.{env}.env", "env_file: ../secrets/{env}.env",
         "6:5: environments.dev.env_file: env_file '../secrets/dev.env' resolves outside the repository {root}"),
        ("working_dir: .", "working_dir: ../..",
         "7:5: environments.dev.working_dir: working_dir '../..' resolves outside the repository {root};"
         " for a folder inside an image, give pull_steps instead"),
        ("flows_root: flows", 'flows_root: "fl\\0ws"',
         "2:1: flows_root: flows_root 'fl\\x00ws' contains a NUL character"),
        ("working_dir: .", "working_dir: " + "w" * 300,
         "7:5: environments.dev.working_dir: working_dir is too long for a path"
         " (at most 255 bytes per folder name, 1024 in all)"),
    ],
    ids=["flows-root-up", "flows-root-absolute", "flows-root-missing", "flows-root-file", "env-file",
         "working-dir", "nul", "too-long"],
)
def test_config_paths_must_stay_in_the_repository(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    root = tmp_path / "repo"
    (tmp_path / "outside").mkdir()
    project(root, ENVIRONMENTS.replace(replace, by))
    assert load_error(root) == f"{ENVIRONMENTS_FILE}:{expected.format(root=root)}"


def test_a_symlink_out_of_the_repository_is_followed_and_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "elsewhere"
    write(outside / "stolen.py", FLOW)
    project(root, ENVIRONMENTS.replace("flows_root: flows", "flows_root: linked"))
    (root / "linked").symlink_to(outside, target_is_directory=True)
    assert load_error(root) == (
        f"{ENVIRONMENTS_FILE}:2:1: flows_root: flows_root 'linked' resolves outside the repository"
        f" {root}; give a folder inside it"
    )


def test_a_static_config_linked_from_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    project(root)
    target = write(tmp_path / "other.yaml", "hello: {}\n")
    (root / STATIC_FLOWS_FILE).symlink_to(target)
    assert load_error(root) == (
        f"{STATIC_FLOWS_FILE}: resolves to {target}, outside the repository {root};"
        " keep config files in the repository"
    )


def test_paths_inside_the_repository_and_links_within_it_are_fine(tmp_path: Path) -> None:
    root = project(tmp_path / "repo")
    (root / "alias").symlink_to(root / "flows", target_is_directory=True)
    load_workspace(root)
    write(root / ENVIRONMENTS_FILE, ENVIRONMENTS.replace("flows_root: flows", "flows_root: ./alias/"))
    assert load_workspace(root).config.flows_root == "./alias/"


def test_an_empty_flows_root_is_no_flows_found_and_deploy_all_fails(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "flows" / "hello.py").write_text("X = 1\n", encoding="utf-8")
    workspace = load_workspace(tmp_path)
    with pytest.raises(DiscoveryError) as raised:
        workspace.discover()
    assert str(raised.value) == "no flows found under flows"
    gateway = InMemoryGateway(pools={"dev-pool"})
    request = DeployRequest(flows=("all",), env="dev", branch="main", commit="abc1234",
                            package_version="1.0.0")
    with pytest.raises(DiscoveryError):
        deploy(workspace, request, fake_dependencies(gateway))
    assert gateway.attempts == []


# --------------------------------------------------------------------------- the rules themselves

json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@PROPS
@given(json_data)
def test_json_data_passes_unchanged(value: object) -> None:
    assert json_value(value, ("p",)) == value


@PROPS
@given(st.datetimes(timezones=st.none() | st.timezones()) | st.dates())
def test_dates_become_the_text_pydantic_sends(value: dt.date) -> None:
    from pydantic_core import to_jsonable_python

    assert json_value({"d": value}, ()) == {"d": to_jsonable_python(value)}


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_numbers_are_refused_at_their_path(value: float) -> None:
    with pytest.raises(ConfigError) as raised:
        json_value({"a": [0, value]}, ("flow", "parameters"))
    assert raised.value.path == ("flow", "parameters", "a", 1)


safe_names = st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                   blacklist_characters=PREFECT_BANNED_NAME_CHARS + URL_BREAKING_NAME_CHARS),
                     min_size=1, max_size=20)


@PROPS
@given(safe_names, st.sampled_from(PREFECT_BANNED_NAME_CHARS + URL_BREAKING_NAME_CHARS), st.integers(0, 20))
def test_a_name_is_refused_exactly_when_it_holds_a_banned_character(name: str, bad: str, at: int) -> None:
    assert name_problem(name, "work pool") is None
    spoiled = name[:at] + bad + name[at:]
    problem = name_problem(spoiled, "work pool")
    assert problem is not None and bad in problem


def test_timezones_are_checked_against_the_given_names() -> None:
    known = {"UTC", "Europe/Paris"}
    assert timezone_problem("Europe/Paris", known) is None
    assert timezone_problem("Europe/Pariss", known) is not None
    assert timezone_problem("anything", set()) is None  # no zone data: not checkable here


@pytest.mark.parametrize("url", ["http://127.0.0.1:4200/api", "https://api.prefect.cloud/api/accounts/x"])
def test_good_api_urls_pass(url: str) -> None:
    assert api_url_problem(url, "prefect_api_url") is None


@pytest.mark.parametrize("url", ["localhost:4200", "file:///tmp/api", "http://", "https://exa mple.com", "http://h:0/"])
def test_bad_api_urls_are_refused(url: str) -> None:
    assert api_url_problem(url, "prefect_api_url") is not None


def test_json_datetime_uses_z_for_utc_only() -> None:
    assert json_datetime(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == "2024-01-02T03:04:05Z"
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert json_datetime(dt.datetime(2024, 1, 2, tzinfo=eastern)) == "2024-01-02T00:00:00-05:00"


@PROPS
@given(st.lists(st.text("ab.", min_size=1, max_size=3), min_size=1, max_size=4))
def test_is_inside_is_a_prefix_of_whole_segments(parts: list[str]) -> None:
    root = "/repo/" + "/".join(parts)
    assert is_inside(root, root)
    assert is_inside(root, root + "/x")
    assert not is_inside(root, root + "x")
    assert not is_inside(root + "/x", root)


def test_a_bad_prefect_api_url_from_the_shell_is_one_error_with_credentials_masked(tmp_path: Path) -> None:
    from flowportal.bootstrap import PrefectApis

    workspace = load_workspace(project(tmp_path))
    apis = PrefectApis({"PREFECT_API_URL": "htp://me:hunter2@host/api"})
    with pytest.raises(ConfigError) as raised:
        apis.target(workspace, workspace.config.environment("dev"), lambda _message: None)
    assert str(raised.value) == (
        "PREFECT_API_URL: PREFECT_API_URL 'htp://me:<secret>@host/api' must start with http://"
        " or https:// (scheme: 'htp') (set in the shell)"
    )


# --------------------------------------------------------------------------- any document at all

ENV_KEYS = ["project", "flows_root", "image_template", "promotion_path", "write_concurrency",
            "environments", "dev", "prefect_api_url", "api_key_env", "ui_url", "work_pool", "name",
            "type", "create", "work_queue", "env", "env_file", "secrets", "working_dir", "pull_steps",
            "job_variables", "tags", "paused", "schedules"]
FLOW_KEYS = ["hello", "name", "import_path", "cron", "timezone", "description", "work_pool_name",
             "work_queue_name", "parameters", "paused", "concurrency_limit", "tags", "job_variables",
             "triggers"]
yaml_scalars = st.sampled_from([
    "null", "true", "0", "-1", "1.5", ".nan", ".inf", "2024-01-02", "2024-01-02T03:04:05Z", "''",
    "dev", "flows", "../x", "/etc", "UTC", "Mars/X", "a/b", "'0 * * * *'", "'@daily'", "'* *'",
    "http://h/api", "ftp://h", "'%'", "[]", "{}", "!tag x", "!!binary aGk=", "'{env}'", "k=v",
    '"a\\0b"', "x" * 300, "'{branch:>9}'", "'\U0001F600'",
])


def yaml_documents(keys: list[str]) -> st.SearchStrategy[str]:
    """Random block-style YAML over the config's own vocabulary, so documents get deep."""

    def block(depth: int) -> st.SearchStrategy[str]:
        if depth == 0:
            return yaml_scalars
        child = block(depth - 1)
        mapping = st.lists(st.tuples(st.sampled_from(keys), child), min_size=1, max_size=4).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in dict(pairs).items()) + "}")
        sequence = st.lists(child, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
        return st.one_of(yaml_scalars, mapping, sequence)

    return st.lists(st.tuples(st.sampled_from(keys), block(3)), min_size=1, max_size=6).map(
        lambda pairs: "".join(f"{k}: {v}\n" for k, v in dict(pairs).items()))


@settings(max_examples=300, deadline=None)
@given(environments=yaml_documents(ENV_KEYS), static=yaml_documents(FLOW_KEYS))
def test_no_config_document_crashes_loading(tmp_path_factory: pytest.TempPathFactory,
                                            environments: str, static: str) -> None:
    """Whatever the two files say, loading either works or fails with one line naming a file."""
    root = tmp_path_factory.mktemp("any")
    project(root, environments, static)
    try:
        load_workspace(root)
    except ConfigError as err:
        message = str(err)
        assert message.startswith((ENVIRONMENTS_FILE, STATIC_FLOWS_FILE, "pyproject.toml")), message
        assert "\n" not in message


FULL_ENVIRONMENTS = """\
project: acme
flows_root: flows
image_template: "img:{branch}-{commit}"
promotion_path: [dev, prod]
write_concurrency: 2
environments:
  dev:
    prefect_api_url: http://127.0.0.1:4299/api
    api_key_env: KEY
    ui_url: http://127.0.0.1:4299
    work_pool: {name: dev-pool, type: process, create: true}
    work_queue: q
    env: {A: "1"}
    env_file: config/app.{env}.env
    secrets: [S]
    working_dir: .
    job_variables: {image: x}
    tags: [team=data]
    paused: false
    schedules: true
  prod:
    pull_steps: [{step: {directory: /x}}]
"""
FULL_STATIC = """\
hello:
  name: hello
  import_path: flows.hello:hello
  cron: "0 6 * * *"
  timezone: UTC
  description: d
  work_pool_name: p
  work_queue_name: q
  parameters: {a: 1}
  paused: false
  concurrency_limit: 2
  tags: [x]
  job_variables: {k: v}
  triggers: []
"""


def with_one_value_replaced(text: str) -> st.SearchStrategy[str]:
    """`text` with the value after one `key:` swapped for anything from `yaml_scalars`."""
    lines = text.splitlines(keepends=True)
    valued = [i for i, line in enumerate(lines) if ": " in line]

    def swap(index: int, value: str) -> str:
        key = lines[index].split(": ", 1)[0]
        return "".join([*lines[:index], f"{key}: {value}\n", *lines[index + 1:]])

    return st.builds(swap, st.sampled_from(valued), yaml_scalars | yaml_documents(ENV_KEYS).map(
        lambda doc: "{" + doc.strip().replace("\n", ", ") + "}"))


def test_the_full_examples_load(tmp_path: Path) -> None:
    config = load_workspace(project(tmp_path, FULL_ENVIRONMENTS, FULL_STATIC)).config
    assert config.environment("prod").config.pull_steps == [{"step": {"directory": "/x"}}]
    assert config.flow_config("hello").timezone == "UTC"


@settings(max_examples=300, deadline=None)
@given(environments=with_one_value_replaced(FULL_ENVIRONMENTS), static=with_one_value_replaced(FULL_STATIC))
def test_no_single_bad_value_crashes_loading(tmp_path_factory: pytest.TempPathFactory,
                                             environments: str, static: str) -> None:
    root = tmp_path_factory.mktemp("one")
    project(root, environments, static)
    try:
        load_workspace(root)
    except ConfigError as err:
        message = str(err)
        assert message.startswith((ENVIRONMENTS_FILE, STATIC_FLOWS_FILE)), message
        assert re.match(r"config/[a-z_]+\.yaml:\d+:\d+: ", message), message  # file:line:col
        assert "\n" not in message


# --------------------------------------------------------------------------- dotenv text


@PROPS
@given(st.text(st.sampled_from("ab #\t='\""), max_size=30))
def test_dotenv_comments_are_cut_as_before(value: str) -> None:
    """The linear comment search gives what `re.sub(r"\\s+#.*$", "", v)` gave."""
    from portal_core.dotenv import parse_dotenv

    text = f"K={value}\n"
    line = text.strip()
    raw = line[2:].strip() if line.startswith("K=") else None
    if raw is None or (len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""):
        return  # quoted values are not comment-stripped
    assert parse_dotenv(text)["K"] == re.sub(r"\s+#.*$", "", raw)


def test_a_dotenv_line_full_of_spaces_parses_in_linear_time() -> None:
    from portal_core.dotenv import parse_dotenv

    started = time.perf_counter()
    values = parse_dotenv("A=x" + " " * 500_000 + "y # note\nB=v" + " \t" * 200_000 + "#\n")
    assert time.perf_counter() - started < 1.0
    assert values == {"A": "x" + " " * 500_000 + "y", "B": "v"}


@pytest.mark.parametrize(
    "cron", ["9" * 5000 + " * * * *", "*/" + "9" * 5000 + " * * * *", "*/\u0661 * * * *"],
    ids=["huge-field", "huge-step", "arabic-digit"],
)
def test_odd_cron_numbers_are_a_problem_not_a_crash(cron: str) -> None:
    from portal_core.config import cron_problem

    problem = cron_problem(cron)
    assert problem is not None and "is not a valid field" in problem


def test_an_image_template_with_a_format_spec_fails_at_load(tmp_path: Path) -> None:
    project(tmp_path, ENVIRONMENTS.replace("flows_root: flows\n",
                                           'flows_root: flows\nimage_template: "x:{branch:>999999999}"\n'))
    assert load_error(tmp_path) == (
        f"{ENVIRONMENTS_FILE}:3:1: image_template: image_template 'x:{{branch:>999999999}}':"
        " {branch:>999999999} is not allowed; use only {project}, {branch}, {commit}, {version}"
    )


@PROPS
@given(st.lists(st.sampled_from(["{project}", "{branch}", "{commit}", "{version}"])
                | st.text(st.characters(blacklist_characters="{}"), max_size=5), max_size=6))
def test_templates_of_the_four_fields_pass(parts: list[str]) -> None:
    from portal_core.validation import image_template_problem

    assert image_template_problem("".join(parts)) is None
