"""Recording, history and rollback refusals through the real use cases, in memory."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from invoke.exceptions import Exit
from support.demo_project import SECRET, demo_workspace, name, run_deploy, run_promote
from support.fakes import fake_dependencies
from support.memory_history import GatewayWithHistory

from flowportal.tasks.common import fail_on_history
from flowportal.usecases.drift import drift
from flowportal.usecases.history import history
from flowportal.usecases.rollback import RollbackRequest, rollback
from flowportal.workspace import Workspace, load_workspace
from portal_core.errors import PlanError


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The same project as the deploy/promote use-case tests."""
    return demo_workspace(tmp_path, monkeypatch)


class Warnings:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def plan(self, plan: object) -> None: ...
    def step(self, message: str) -> None: ...
    def applied(self, result: object) -> None: ...

    def warning(self, message: str) -> None:
        self.lines.append(message)


def test_each_applied_deployment_is_recorded_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "dana")
    gw = GatewayWithHistory(pools={"dev-pool"})
    run_deploy(workspace, gw)
    assert sorted(r.deployment for r in gw.history.records) == sorted(gw.writes)
    assert {(r.verb, r.who, r.before) for r in gw.history.records} == {("deploy", "dana", None)}
    run_deploy(workspace, gw)  # unchanged: nothing applied, nothing recorded
    assert len(gw.history.records) == 3
    gw.fail_on = {name("hello_world", "dev")}
    run_deploy(workspace, gw, commit="def5678")
    newer = [r for r in gw.history.records if r.after and r.after.commit == "def5678"]
    assert name("hello_world", "dev") not in {r.deployment for r in newer} and len(newer) == 2
    listing = history(workspace, "dev", "nightly_etl", 20, fake_dependencies(gw))
    assert [r.after.commit for r in listing.records if r.after] == ["def5678", "abc1234"]


def test_a_history_that_cannot_be_written_is_one_warning_and_fails_only_when_strict(
    workspace: Workspace,
) -> None:
    gw = GatewayWithHistory(pools={"dev-pool"})
    gw.history.fail = True
    reporter = Warnings()
    outcome = run_deploy(workspace, gw, reporter=reporter)
    assert outcome.exit_code == 0 and len(gw.writes) == 3
    assert len(reporter.lines) == 1 and "not recorded for 3 of 3" in reporter.lines[0]
    assert outcome.history_error == reporter.lines[0]
    fail_on_history(outcome, strict_history=False)
    with pytest.raises(Exit) as failed:
        fail_on_history(outcome, strict_history=True)
    assert failed.value.code == 1


def test_secret_values_never_reach_the_history(workspace: Workspace) -> None:
    dev, uat = GatewayWithHistory(pools={"dev-pool"}), GatewayWithHistory(pools={"uat-pool"})
    run_deploy(workspace, dev)
    run_promote(workspace, dev, uat)
    assert uat.history.records and all(r.verb == "promote" for r in uat.history.records)
    assert uat.states[name("hello_world", "uat")].env_vars["DB_PASSWORD"] == SECRET
    assert SECRET not in json.dumps([r.to_json() for r in uat.history.records])


def test_rollback_refuses_without_a_record_or_a_readable_earlier_version(
    workspace: Workspace,
) -> None:
    gw = GatewayWithHistory(pools={"dev-pool"})
    run_deploy(workspace, gw)
    gw.history.records.clear()
    request = RollbackRequest(env="dev", flow="hello_world")
    with pytest.raises(PlanError, match="no recorded change"):
        rollback(workspace, request, fake_dependencies(gw))
    run_deploy(workspace, gw, commit="aaa1111")
    run_deploy(workspace, gw, commit="def5678")
    # aaa1111 is not a commit of this (git-less) directory: its source cannot be read
    with pytest.raises(PlanError, match="not in this clone"):
        rollback(workspace, request, fake_dependencies(gw))
    assert gw.states[name("hello_world", "dev")].version == "1.0.0+def5678"


def test_drift_tells_ui_edits_removed_tags_and_deletions_apart_from_pending_config(
    workspace: Workspace,
) -> None:
    gw = GatewayWithHistory(pools={"dev-pool"})
    run_deploy(workspace, gw)
    assert drift(workspace, "dev", None, fake_dependencies(gw)).exit_code == 0
    hello, etl = name("hello_world", "dev"), name("nightly_etl", "dev")
    gw.set_paused(hello, True)
    gw.states[etl] = attrs.evolve(gw.states[etl], tags=("team=data",))  # ours removed in the UI
    del gw.states[name("weekly_report", "dev")]
    report = drift(workspace, "dev", None, fake_dependencies(gw)).report
    assert report.exit_code == 2
    found = {d.name: (d.status, [f.field for f in d.drift]) for d in report.deployments}
    assert found == {hello: ("drift", ["paused"]), etl: ("drift", ["tags"]),
                     name("weekly_report", "dev"): ("deleted", [])}
    # a config edit not deployed yet is pending, and not drift
    config = workspace.root / "config" / "environments.yaml"
    config.write_text(config.read_text().replace("LOG_LEVEL: debug", "LOG_LEVEL: trace"))
    edited = load_workspace(workspace.root)
    again = {d.name: d for d in drift(edited, "dev", "hello_world", fake_dependencies(gw)).report.deployments}
    assert [f.field for f in again[hello].pending] == ["env.LOG_LEVEL"]
    assert [f.field for f in again[hello].drift] == ["paused"]


def test_drift_reads_the_history_only_until_every_recorded_deployment_is_found(
    workspace: Workspace,
) -> None:
    """A managed deployment without any record (made before history was kept) has
    nothing to find: it must not make drift read the whole history."""
    gw = GatewayWithHistory(pools={"dev-pool"})
    for commit in ("abc1234", "bcd2345", "cde3456", "def4567"):
        run_deploy(workspace, gw, commit=commit)
    recorded = len(gw.history.records)
    hello = name("hello_world", "dev")
    unrecorded = name("no_record", "dev")
    gw.states[unrecorded] = attrs.evolve(gw.states[hello], name=unrecorded, id="no-record-id")
    gw.history.batches_read = 0
    report = drift(workspace, "dev", None, fake_dependencies(gw)).report
    per_deploy = recorded // 4
    assert gw.history.batches_read == per_deploy < recorded  # the newest deploy's records only
    statuses = {d.name: d.status for d in report.deployments}
    assert statuses[hello] == "ok" and statuses[unrecorded] == "unrecorded"


class PlanCapture(Warnings):
    def __init__(self) -> None:
        super().__init__()
        self.plans: list[object] = []

    def plan(self, plan: object) -> None:
        self.plans.append(plan)


@pytest.mark.parametrize("history_readable", [True, False])
def test_a_secret_moved_to_plain_config_never_shows_its_old_value(
    workspace: Workspace, history_readable: bool
) -> None:
    """uat's DB_PASSWORD was applied as a secret; the config then makes it a plain value.
    The server still holds the secret: the plan shows the change, never that value (and
    when the history cannot be read, every such value is masked rather than shown)."""
    uat = GatewayWithHistory(pools={"uat-pool"})
    run_deploy(workspace, uat, env="uat")
    config = workspace.root / "config" / "environments.yaml"
    config.write_text(config.read_text().replace(
        "    env: {LOG_LEVEL: info}\n    secrets: [DB_PASSWORD]",
        "    env: {LOG_LEVEL: verbose, DB_PASSWORD: now-plain}"), encoding="utf-8")
    moved = load_workspace(workspace.root)
    uat.history.unreadable = not history_readable
    reporter = PlanCapture()
    outcome = run_deploy(moved, uat, env="uat", dry_run=True, reporter=reporter)
    assert outcome.exit_code == 2 and reporter.plans == [outcome.plan]
    shown = json.dumps(outcome.to_json())
    assert SECRET not in shown
    fields = {f.field: f for c in outcome.plan.changes for f in c.fields}
    assert fields["env.DB_PASSWORD"].before == "<secret>"
    assert fields["env.DB_PASSWORD"].after == "now-plain"
    # a variable that never was a secret still shows what it was
    assert fields["env.LOG_LEVEL"].before == ("info" if history_readable else "<secret>")
    if history_readable:
        uat.history.unreadable = False
        assert run_deploy(moved, uat, env="uat").exit_code == 0
        assert SECRET not in json.dumps([r.to_json() for r in uat.history.records])
