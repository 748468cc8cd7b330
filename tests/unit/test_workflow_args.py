"""Workflow inputs -> CLI argument vector, with no shell anywhere in between."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from invoke.parser import Argument, Parser, ParserContext

from flowportal.workflow_args import build_argv, main
from portal_core.errors import PortalError
from portal_core.github import deploy_inputs, promote_inputs

PY = "/opt/python/bin/python3"

names = st.one_of(
    st.sampled_from(
        ["hello world", "etl, nightly", "prod; rm -rf ~", "$(id)", "`id`", "a'b\"c", "☃ 数据", "a=b", "x\ny"]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=30,
    ).filter(lambda s: s.strip() != "" and not s.startswith("-")),
)


def test_deploy_argv_is_exact():
    env = {
        "FLOWS": json.dumps(["hello world", "etl;$(id)"]),
        "ENV": "dev; curl evil | sh",
        "BRANCH": "feature/x",
        "COMMIT": "abc1234",
        "PACKAGE_VERSION": "1.2.3",
        "IMAGE": "registry/org/app:feature-x-abc1234",
        "UNRELATED": "ignored",
    }
    assert build_argv("deploy", env, python=PY) == [
        PY,
        "-m",
        "flowportal.cli",
        "deploy",
        "--flow=hello world",
        "--flow=etl;$(id)",
        "--env=dev; curl evil | sh",
        "--branch=feature/x",
        "--commit=abc1234",
        "--package-version=1.2.3",
        "--image=registry/org/app:feature-x-abc1234",
    ]


def test_deploy_leaves_out_optional_settings_that_are_empty():
    env = {"FLOWS": '["all"]', "ENV": "dev", "BRANCH": "", "COMMIT": "  ", "IMAGE": ""}
    assert build_argv("deploy", env, python=PY) == [
        PY, "-m", "flowportal.cli", "deploy", "--flow=all", "--env=dev",
    ]


def test_promote_argv_is_exact():
    env = {"FLOWS": '["a b"]', "SRC": "uat", "DST": "prod", "BRANCH": "main", "FORCE": "true"}
    assert build_argv("promote", env, python=PY) == [
        PY, "-m", "flowportal.cli", "promote",
        "--src=uat", "--dst=prod", "--flow=a b", "--branch=main", "--force",
    ]


def test_promote_without_flows_promotes_all_and_force_defaults_off():
    for flows in ("[]", ""):
        env = {"FLOWS": flows, "SRC": "dev", "DST": "uat", "BRANCH": "", "FORCE": "false"}
        assert build_argv("promote", env, python=PY) == [
            PY, "-m", "flowportal.cli", "promote", "--src=dev", "--dst=uat",
        ]


@pytest.mark.parametrize(
    ("verb", "env", "fragment"),
    [
        ("deploy", {"FLOWS": '["a"]'}, "ENV is not set"),
        ("deploy", {"FLOWS": "[]", "ENV": "dev"}, "FLOWS is empty"),
        ("deploy", {"FLOWS": "a,b", "ENV": "dev"}, "FLOWS is not a JSON array"),
        ("deploy", {"FLOWS": '["--dry-run"]', "ENV": "dev"}, "starts with '-'"),
        ("deploy", {"FLOWS": '["a"]', "ENV": "dev", "BRANCH": "-x"}, "starts with '-'"),
        ("promote", {"SRC": "dev"}, "DST is not set"),
        ("promote", {"SRC": "dev", "DST": "uat", "FORCE": "maybe"}, "FORCE must be true or false"),
        ("destroy", {}, "unknown verb"),
    ],
)
def test_bad_environments_are_one_clear_error(verb, env, fragment):
    with pytest.raises(PortalError, match=fragment):
        build_argv(verb, env, python=PY)


def _deploy_parser() -> Parser:
    """A parser with the deploy/promote options the CLI documents, to prove the
    argv means what we think to an invoke-based CLI."""
    deploy = ParserContext(
        name="deploy",
        args=[
            Argument(names=("flow",), kind=list),
            Argument(names=("env",)),
            Argument(names=("branch",)),
            Argument(names=("commit",)),
            Argument(names=("package-version",)),
            Argument(names=("image",)),
            Argument(names=("dry-run",), kind=bool),
            Argument(names=("json",), kind=bool),
            Argument(names=("force",), kind=bool),
        ],
    )
    return Parser(contexts=[deploy])


@given(st.lists(names, min_size=1, max_size=5), names)
def test_inputs_survive_the_whole_trip_to_the_cli_parser(flows, env):
    """laptop inputs -> workflow env vars -> argv -> invoke's parser: values unchanged."""
    inputs = deploy_inputs(flows, env, "main")
    environ = {"FLOWS": inputs["flows"], "ENV": inputs["env"]}
    argv = build_argv("deploy", environ, python=PY)
    assert argv[:3] == [PY, "-m", "flowportal.cli"]
    parsed = _deploy_parser().parse_argv(argv[3:])
    context = parsed[0]
    assert context.args["flow"].value == flows
    assert context.args["env"].value == env
    assert context.args["dry-run"].value is None
    assert context.args["force"].value is None


@given(st.lists(names, max_size=5), names, names, st.booleans())
def test_promote_inputs_map_one_to_one_onto_argv(flows, src, dst, force):
    inputs = promote_inputs(flows, src, dst, None, force)
    environ = {"FLOWS": inputs["flows"], "SRC": inputs["src"], "DST": inputs["dst"],
               "BRANCH": inputs["branch"], "FORCE": inputs["force"]}
    argv = build_argv("promote", environ, python=PY)
    assert argv[4:6] == [f"--src={src}", f"--dst={dst}"]
    assert [a.removeprefix("--flow=") for a in argv if a.startswith("--flow=")] == flows
    assert ("--force" in argv) is force


def test_main_execs_the_built_argv(capsys):
    calls = []
    code = main(["deploy"], {"FLOWS": '["a"]', "ENV": "dev"}, execv=lambda p, a: calls.append((p, a)))
    assert code == 0
    (path, argv), = calls
    assert path == argv[0]
    assert argv[1:] == ["-m", "flowportal.cli", "deploy", "--flow=a", "--env=dev"]
    assert "running: -m flowportal.cli deploy --flow=a --env=dev" in capsys.readouterr().out


def test_main_reports_errors_without_exec(capsys):
    calls = []
    assert main(["deploy"], {"FLOWS": "nope"}, execv=lambda p, a: calls.append(a)) == 2
    assert main([], {}, execv=lambda p, a: calls.append(a)) == 2
    assert calls == []
    err = capsys.readouterr().err
    assert "FLOWS is not a JSON array" in err
    assert "usage:" in err
