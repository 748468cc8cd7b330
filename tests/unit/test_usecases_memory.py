"""deploy, promote and diff end to end against in-memory Prefect APIs.

A real temporary project (config files, flow sources that are never imported)
goes through the real use cases; only the Prefect API is replaced, by
`InMemoryGateway`, which records every write. So "nothing was written" and
"only the failed one was rewritten" are facts checked on the recorded writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.demo_project import (
    FLOWS,
    HELLO,
    SECRET,
    demo_workspace,
    gateway,
    name,
    run_deploy,
    run_promote,
)
from support.fakes import fake_dependencies
from support.memory_gateway import InMemoryGateway
from support.strategies import deployed_states, sluggable_names, version_tags

from flowportal.usecases.applying import Outcome
from flowportal.usecases.deploy import DeployRequest, deploy
from flowportal.usecases.promote import PromoteRequest, diff
from flowportal.workspace import Workspace
from portal_core.deployments import DeployedState
from portal_core.errors import ConfigError, PlanError
from portal_core.inventory import build_matrix, classify
from portal_core.names import DeploymentName
from portal_core.plan import Action
from portal_core.tags import VersionTags


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    return demo_workspace(tmp_path, monkeypatch)


@pytest.fixture
def dev() -> InMemoryGateway:
    return gateway("dev-pool")


@pytest.fixture
def uat() -> InMemoryGateway:
    return gateway("uat-pool")


def actions(outcome: Outcome) -> dict[str, Action]:
    return {c.flow_key: c.action for c in outcome.plan.changes}


# --------------------------------------------------------------------------- deploy


def test_first_deploy_creates_every_flow_with_its_version(workspace: Workspace, dev: InMemoryGateway) -> None:
    outcome = run_deploy(workspace, dev)

    assert actions(outcome) == dict.fromkeys(FLOWS, Action.CREATE)
    assert outcome.exit_code == 0
    assert sorted(dev.writes) == sorted(name(f, "dev") for f in FLOWS)
    assert [r.ok for r in outcome.results] == [True, True, True]
    state = dev.states[name("hello_world", "dev")]
    assert state.entrypoint == "flows/hello.py:hello_world"
    assert state.flow_name == "hello-world"
    assert dev.states[name("nightly_etl", "dev")].flow_name == "nightly-etl"
    assert state.version == "1.0.0+abc1234"
    assert state.version_tags == VersionTags("acme-demo", "main", "abc1234", "1.0.0")
    assert state.work_pool_name == "dev-pool"  # the environment's pool wins over the static one
    assert state.env_vars == {"FROM_FILE": "yes", "LOG_LEVEL": "debug", "ONLY_IN_DEV": "1",
                              "DEPLOYMENT_NAME": name("hello_world", "dev")}
    assert state.image == "registry.example.com/acme-demo:main-abc1234"
    assert [s.cron for s in state.schedules] == ["0 12 * * 1-5"]
    assert state.description == "Hello World"
    assert dev.states[name("weekly_report", "dev")].description == "Write the weekly report."
    assert state.paused is False
    for result in outcome.results:
        assert outcome.urls[result.name].endswith(f"/deployments/deployment/{result.deployment_id}")


def test_a_second_deploy_is_unchanged_and_writes_nothing(workspace: Workspace, dev: InMemoryGateway) -> None:
    run_deploy(workspace, dev)
    written = list(dev.writes)

    outcome = run_deploy(workspace, dev)

    assert actions(outcome) == dict.fromkeys(FLOWS, Action.UNCHANGED)
    assert dev.writes == written
    assert dev.attempts == written
    assert outcome.exit_code == 0
    assert outcome.results == ()
    assert set(outcome.urls) == {name(f, "dev") for f in FLOWS}


def test_a_new_commit_updates_only_the_code_version(workspace: Workspace, dev: InMemoryGateway) -> None:
    run_deploy(workspace, dev)

    outcome = run_deploy(workspace, dev, flows=["hello_world"], commit="def5678")

    (change,) = outcome.plan.changes
    assert change.action is Action.UPDATE
    assert {f.field for f in change.fields} == {"version", "tags", "job_variables.image"}
    assert dev.writes[-1] == name("hello_world", "dev")
    assert dev.states[name("hello_world", "dev")].version == "1.0.0+def5678"
    assert dev.states[name("weekly_report", "dev")].version == "1.0.0+abc1234"


def test_a_dry_run_writes_nothing_and_exits_2(workspace: Workspace, dev: InMemoryGateway) -> None:
    outcome = run_deploy(workspace, dev, dry_run=True)

    assert dev.writes == [] and dev.attempts == []
    assert outcome.exit_code == 2
    assert outcome.applied is False
    assert outcome.plan.count(Action.CREATE) == 3
    assert json.loads(json.dumps(outcome.to_json()))["exit_code"] == 2


def test_a_dry_run_with_nothing_to_do_exits_0(workspace: Workspace, dev: InMemoryGateway) -> None:
    run_deploy(workspace, dev)
    attempts = list(dev.attempts)

    outcome = run_deploy(workspace, dev, dry_run=True)

    assert outcome.exit_code == 0
    assert dev.attempts == attempts


def test_an_unknown_flow_fails_before_anything_is_read_or_written(
    workspace: Workspace, dev: InMemoryGateway
) -> None:
    with pytest.raises(PlanError) as raised:
        run_deploy(workspace, dev, flows=["hello_world", "helo_wrld", "nope"])

    assert len(raised.value.problems) == 2
    assert "unknown flow 'helo_wrld'; did you mean 'hello_world'?" in raised.value.problems[0]
    assert dev.attempts == [] and dev.reads == []


def test_an_unknown_env_fails_before_anything_is_written(workspace: Workspace, dev: InMemoryGateway) -> None:
    with pytest.raises(ConfigError) as raised:
        run_deploy(workspace, dev, env="prd")

    assert "unknown environment 'prd'; did you mean 'prod'?" in str(raised.value)
    assert dev.attempts == [] and dev.reads == []


def test_a_missing_work_pool_fails_before_any_write(workspace: Workspace) -> None:
    gw = gateway()  # no pools at all; dev does not allow creating its pool

    with pytest.raises(PlanError) as raised:
        run_deploy(workspace, gw)

    (problem,) = raised.value.problems
    assert "work pool 'dev-pool' does not exist" in problem
    assert "environments.dev.work_pool.create: true" in problem
    assert gw.attempts == [] and gw.created_pools == []


def test_a_missing_work_pool_is_created_when_the_env_allows_it(workspace: Workspace) -> None:
    gw = gateway()

    outcome = run_deploy(workspace, gw, env="prod")

    assert gw.created_pools == [("prod-pool", "docker")]
    assert outcome.exit_code == 0
    assert sorted(gw.writes) == sorted(name(f, "prod") for f in FLOWS)


def test_a_secret_missing_from_the_shell_fails_before_any_write(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DB_PASSWORD")
    gw = gateway("uat-pool")

    with pytest.raises(PlanError) as raised:
        run_deploy(workspace, gw, env="uat")

    assert raised.value.problems == [
        "secret 'DB_PASSWORD' of environment 'uat' is not set in this shell's environment"
    ]
    assert gw.attempts == []


def test_secret_values_are_deployed_but_never_reported(workspace: Workspace) -> None:
    gw = gateway("uat-pool")

    first = run_deploy(workspace, gw, env="uat")
    gw.states[name("hello_world", "uat")] = attrs.evolve(
        gw.states[name("hello_world", "uat")],
        job_variables={**gw.states[name("hello_world", "uat")].job_variables,
                       "env": {"DB_PASSWORD": "an-older-secret-value", "LOG_LEVEL": "info"}},
    )
    second = run_deploy(workspace, gw, env="uat")

    assert gw.states[name("hello_world", "uat")].env_vars["DB_PASSWORD"] == SECRET
    for outcome in (first, second):
        text = json.dumps(outcome.to_json(), ensure_ascii=False) + repr(outcome)
        text += "".join(f.render() for c in outcome.plan.changes for f in c.fields)
        assert SECRET not in text and "an-older-secret-value" not in text
    assert "env.DB_PASSWORD: <secret> -> <secret>" in [
        f.render() for c in second.plan.changes for f in c.fields
    ]


def test_a_failed_write_midway_is_reported_exactly_and_a_rerun_converges(
    workspace: Workspace, dev: InMemoryGateway
) -> None:
    failing = name("nightly_etl", "dev")
    dev.fail_on = {failing}

    outcome = run_deploy(workspace, dev)

    assert outcome.exit_code == 1
    assert [r.name for r in outcome.failed] == [failing]
    assert sorted(r.name for r in outcome.results if r.ok) == sorted(
        name(f, "dev") for f in ("hello_world", "weekly_report")
    )
    assert "simulated write failure" in (outcome.failed[0].error or "")
    assert failing not in dev.states
    report = outcome.to_json()
    assert {r["name"]: r["ok"] for r in report["results"]} == {
        name(f, "dev"): f != "nightly_etl" for f in FLOWS
    }
    assert report["exit_code"] == 1

    dev.fail_on = set()
    written = len(dev.writes)
    rerun = run_deploy(workspace, dev)

    assert dev.writes[written:] == [failing]
    assert actions(rerun) == {"hello_world": Action.UNCHANGED, "nightly_etl": Action.CREATE,
                              "weekly_report": Action.UNCHANGED}
    assert rerun.exit_code == 0
    assert run_deploy(workspace, dev).plan.pending == ()


def test_a_deployment_paused_in_the_ui_stays_paused_across_deploys(
    workspace: Workspace, dev: InMemoryGateway
) -> None:
    run_deploy(workspace, dev)
    dev.set_paused(name("hello_world", "dev"), True)

    outcome = run_deploy(workspace, dev, commit="def5678")

    assert dev.states[name("hello_world", "dev")].paused is True
    assert dev.states[name("weekly_report", "dev")].paused is False
    assert all("paused" not in [f.field for f in c.fields] for c in outcome.plan.changes)


def test_an_explicit_paused_in_config_unpauses(workspace: Workspace) -> None:
    gw = gateway("prod-pool")
    run_deploy(workspace, gw, env="prod")
    gw.set_paused(name("hello_world", "prod"), True)

    outcome = run_deploy(workspace, gw, env="prod")  # prod config says paused: false

    assert actions(outcome)["hello_world"] is Action.UPDATE
    assert gw.states[name("hello_world", "prod")].paused is False


def test_a_branch_that_slugs_like_another_is_refused(workspace: Workspace, dev: InMemoryGateway) -> None:
    deploy(workspace, DeployRequest(flows=("hello_world",), env="dev", branch="feature/x",
                                    commit="abc1234", package_version="1"),
           fake_dependencies(dev))
    written = list(dev.writes)

    with pytest.raises(PlanError) as raised:
        deploy(workspace, DeployRequest(flows=("hello_world",), env="dev", branch="feature-x",
                                        commit="abc1234", package_version="1"),
               fake_dependencies(dev))

    assert "belongs to branch 'feature/x'" in raised.value.problems[0]
    assert dev.writes == written


# --------------------------------------------------------------------------- promote


def test_promote_carries_the_code_version_and_applies_the_targets_settings(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev)

    outcome = run_promote(workspace, dev, uat)

    assert outcome.exit_code == 0
    assert actions(outcome) == dict.fromkeys(FLOWS, Action.CREATE)
    assert outcome.plan.source_env == "dev"
    for flow in FLOWS:
        source, target = dev.states[name(flow, "dev")], uat.states[name(flow, "uat")]
        assert target.entrypoint == source.entrypoint
        assert target.version == source.version
        assert target.image == source.image
        assert target.version_tags == source.version_tags
        assert target.work_pool_name == "uat-pool"
        assert target.env_vars == {"LOG_LEVEL": "info", "DB_PASSWORD": SECRET,
                                   "DEPLOYMENT_NAME": name(flow, "uat")}
    assert dev.attempts == [name(f, "dev") for f in FLOWS]  # the source was only read
    assert SECRET not in json.dumps(outcome.to_json(), ensure_ascii=False)

    again = run_promote(workspace, dev, uat)
    assert actions(again) == dict.fromkeys(FLOWS, Action.UNCHANGED)
    assert len(uat.attempts) == len(FLOWS)


def test_promote_takes_the_deployed_version_not_the_checkout(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev, commit="abc1234")
    (workspace.root / "flows" / "hello.py").write_text(HELLO.replace("hello {name}", "hi"), encoding="utf-8")

    run_promote(workspace, dev, uat, flows=["hello_world"])

    assert uat.states[name("hello_world", "uat")].version == "1.0.0+abc1234"
    assert uat.writes == [name("hello_world", "uat")]


def test_promote_with_one_requested_flow_missing_writes_nothing(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev, flows=["hello_world"])

    with pytest.raises(PlanError) as raised:
        run_promote(workspace, dev, uat, flows=["hello_world", "weekly_report", "nightly_etl"])

    assert len(raised.value.problems) == 2
    assert {p.split("'")[1] for p in raised.value.problems} == {"weekly_report", "nightly_etl"}
    assert uat.attempts == [] and uat.created_pools == []


def test_promote_dev_to_prod_needs_force(workspace: Workspace, dev: InMemoryGateway) -> None:
    run_deploy(workspace, dev)
    prod = gateway("prod-pool")

    with pytest.raises(PlanError):
        run_promote(workspace, dev, prod, dst="prod")
    assert prod.attempts == []

    outcome = run_promote(workspace, dev, prod, dst="prod", force=True)
    assert sorted(prod.writes) == sorted(name(f, "prod") for f in FLOWS)
    assert outcome.exit_code == 0


def test_promote_dry_run_writes_nothing_and_exits_2(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev)

    outcome = run_promote(workspace, dev, uat, dry_run=True)

    assert outcome.exit_code == 2
    assert uat.attempts == []


def test_a_failed_promotion_write_reports_exactly_and_a_rerun_converges(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev)
    failing = name("weekly_report", "uat")
    uat.fail_on = {failing}

    outcome = run_promote(workspace, dev, uat)

    assert outcome.exit_code == 1
    assert [r.name for r in outcome.failed] == [failing]
    assert sorted(r.name for r in outcome.results if r.ok) == sorted(
        name(f, "uat") for f in ("hello_world", "nightly_etl")
    )

    uat.fail_on = set()
    written = len(uat.writes)
    rerun = run_promote(workspace, dev, uat)
    assert uat.writes[written:] == [failing]
    assert rerun.exit_code == 0


def test_one_server_for_all_environments_works_too(workspace: Workspace) -> None:
    shared = gateway("dev-pool", "uat-pool")
    run_deploy(workspace, shared)

    run_promote(workspace, shared, shared, flows=["hello_world"])

    assert name("hello_world", "uat") in shared.states
    assert shared.states[name("hello_world", "uat")].version == shared.states[name("hello_world", "dev")].version


def test_diff_shows_the_promotion_plan_without_applying_it(
    workspace: Workspace, dev: InMemoryGateway, uat: InMemoryGateway
) -> None:
    run_deploy(workspace, dev)
    run_promote(workspace, dev, uat)
    run_deploy(workspace, dev, flows=["hello_world"], commit="def5678")
    attempts = list(uat.attempts)

    both = fake_dependencies(per_env={"dev": dev, "uat": uat})
    outcome = diff(workspace, PromoteRequest("dev", "uat", branch="main"), both)

    assert outcome.exit_code == 2
    assert actions(outcome) == {"hello_world": Action.UPDATE, "nightly_etl": Action.UNCHANGED,
                                "weekly_report": Action.UNCHANGED}
    (change,) = outcome.plan.pending
    assert "version: 1.0.0+abc1234 -> 1.0.0+def5678" in [f.render() for f in change.fields]
    assert uat.attempts == attempts

    run_promote(workspace, dev, uat)
    assert diff(workspace, PromoteRequest("dev", "uat", branch="main"), both).exit_code == 0


# --------------------------------------------------------------------------- inventory


def _managed(flow: str, env: str, commit: str, version: str = "1.0", branch: str = "main",
             project: str = "acme-demo") -> DeployedState:
    return DeployedState(
        name=DeploymentName.build(project, branch, flow, env).format(), flow_name=flow,
        entrypoint=f"flows/{flow}.py:{flow}", tags=VersionTags(project, branch, commit, version).to_tags(),
        id=f"id-{flow}-{env}-{branch}-{project}",
    )


def test_the_matrix_marks_cells_that_differ_from_the_previous_environment() -> None:
    states = [
        _managed("etl", "dev", "bbb"), _managed("etl", "uat", "aaa"), _managed("etl", "prod", "aaa"),
        _managed("report", "dev", "ccc"), _managed("report", "prod", "ccc", version="2.0"),
        _managed("report", "qa", "ccc"),  # an environment not on the path
    ]

    matrix = build_matrix(classify(states, "acme-demo"), ["dev", "uat", "prod"])

    assert matrix.envs == ("dev", "uat", "prod", "qa")
    etl, report = matrix.rows
    assert (etl.flow_key, report.flow_key) == ("etl", "report")
    assert [c.differs if c else None for c in etl.cells] == [False, True, False, None]
    assert [c.label if c else None for c in etl.cells] == ["bbb / 1.0", "aaa / 1.0", "aaa / 1.0", None]
    # a gap (no uat) compares prod with the last environment that has the flow
    assert [c.differs if c else None for c in report.cells] == [False, None, True, True]


def test_unmanaged_deployments_are_counted_never_dropped() -> None:
    others = [
        DeployedState(name="hand made", flow_name="x", entrypoint="x.py:x"),
        DeployedState(name="a--b--c", flow_name="x", entrypoint="x.py:x"),
        DeployedState(name="a--b--c--d--e", flow_name="x", entrypoint="x.py:x"),
        _managed("etl", "dev", "aaa", project="other-project"),
    ]
    untagged = attrs.evolve(_managed("etl", "uat", "aaa"), tags=("team=data",))

    inventory = classify([*others, _managed("etl", "dev", "aaa"), untagged], "acme-demo")
    matrix = build_matrix(inventory, ["dev", "uat"])

    assert sorted(s.name for s in inventory.others) == sorted(s.name for s in others)
    assert matrix.others == 4
    (row,) = matrix.rows
    assert [c.label if c else None for c in row.cells] == ["aaa / 1.0", "(no version tags)"]
    assert row.cells[1] is not None and row.cells[1].differs


@given(
    project=sluggable_names,
    ours=st.lists(st.tuples(st.sampled_from(["etl", "report", "load_data"]), st.sampled_from(["dev", "uat", "prod"]),
                            sluggable_names, version_tags), max_size=8),
    strangers=st.lists(deployed_states(), max_size=5),
)
def test_classify_accounts_for_every_deployment(
    project: str, ours: list[tuple[str, str, str, VersionTags]], strangers: list[DeployedState]
) -> None:
    mine = [
        DeployedState(name=DeploymentName.build(project, branch, flow, env).format(), flow_name=flow,
                      entrypoint="f.py:f", tags=version.to_tags())
        for flow, env, branch, version in ours
    ]
    states = [*mine, *strangers]

    inventory = classify(states, project)
    matrix = build_matrix(inventory, ["dev", "uat", "prod"])

    assert len(inventory.managed) + len(inventory.others) == len(states)
    assert sorted([*(m.state.name for m in inventory.managed), *(s.name for s in inventory.others)]) == sorted(
        s.name for s in states
    )
    assert {m.state.name for m in inventory.managed} >= {s.name for s in mine}
    assert matrix.others == len(inventory.others)
    cells = [c for row in matrix.rows for c in row.cells if c is not None]
    assert len(cells) == len({(m.name.flow_key, m.name.branch, m.name.env) for m in inventory.managed})


# --------------------------------------------------------------------------- the facade's arguments


def test_the_facade_takes_one_flow_name_as_a_string(workspace: Workspace, dev: InMemoryGateway) -> None:
    from flowportal import Portal

    outcome = Portal(workspace.root, deps=fake_dependencies(dev)).deploy("hello_world", "dev", dry_run=True)
    assert [c.flow_key for c in outcome.plan.changes] == ["hello_world"]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda p: p.deploy(None, "dev"), "flows must be a flow name or a list"),
        (lambda p: p.deploy(["hello_world", 3], "dev"), "flow names must be strings"),
        (lambda p: p.deploy(["hello_world"], None), "env must be a non-empty string, not None"),
        (lambda p: p.deploy(["hello_world"], "dev", branch=""), "branch must be a non-empty string"),
        (lambda p: p.promote(None, "uat"), "src must be a non-empty string, not None"),
        (lambda p: p.promote("dev", "uat", flows=None), "flows must be a flow name or a list"),
    ],
)
def test_the_facade_refuses_arguments_of_the_wrong_kind_with_a_typed_error(
    workspace: Workspace, dev: InMemoryGateway, call: Any, fragment: str
) -> None:
    from flowportal import Portal
    from portal_core.errors import UsageError

    with pytest.raises(UsageError, match=fragment) as refused:
        call(Portal(workspace.root, deps=fake_dependencies(dev)))
    assert isinstance(refused.value, TypeError)
    assert dev.writes == []


@pytest.mark.parametrize("flag", ["branch", "commit", "package_version"])
def test_version_values_with_control_characters_are_refused_before_anything_is_written(
    workspace: Workspace, dev: InMemoryGateway, flag: str
) -> None:
    values = {"branch": "main", "commit": "abc1234", "package_version": "1.0.0", flag: "abc\n1234"}
    with pytest.raises(PlanError, match="control character"):
        deploy(workspace, DeployRequest(flows=("all",), env="dev", **values), fake_dependencies(dev))
    assert dev.writes == [] and dev.attempts == []
