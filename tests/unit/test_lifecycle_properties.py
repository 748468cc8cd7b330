"""Laws of the lifecycle core: change records, drift, prune selection, rollback targets."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.strategies import (
    deployed_states,
    deployment_specs,
    env_keys,
    flow_keys,
    json_values,
    secret_values,
    sluggable_names,
)

from portal_core.deployments import DeployedState, Schedule
from portal_core.drift import assess, compare
from portal_core.errors import PlanError
from portal_core.history import (
    Actor,
    ChangeRecord,
    CodeVersion,
    RecordBatch,
    applied_spec,
    batch_key,
    batches_for,
    fingerprint,
    key_pattern,
    known_after,
    place_for,
    record_for_change,
    rollback_target,
    stored_batch,
)
from portal_core.inventory import age_label
from portal_core.names import DeploymentName
from portal_core.plan import plan_change
from portal_core.prune import owned_branch, select_prunable
from portal_core.redaction import Redactor
from portal_core.tags import MANAGED_BY, VersionTags, is_managed, make_tag, tag_value

#: generating whole deployments is slow on a loaded machine; that is not what is tested
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])

actors = st.builds(Actor, st.text(max_size=12), st.none() | st.text(max_size=30))
times = st.datetimes().map(lambda d: d.isoformat(timespec="microseconds") + "+00:00")


@st.composite
def records(draw: st.DrawFn) -> ChangeRecord:
    spec = draw(deployment_specs())
    spec = attrs.evolve(spec, paused=draw(st.booleans()))
    current = draw(st.none() | deployed_states(name=st.just(spec.name)))
    change = plan_change(spec, current)
    return record_for_change(change, draw(st.sampled_from(["deploy", "promote", "rollback"])),
                             draw(times), draw(actors), draw(st.none() | st.text(max_size=6)),
                             draw(st.none() | st.uuids().map(str)))


# --------------------------------------------------------------------------- records


@SLOW
@given(records())
def test_a_record_survives_a_json_round_trip(record: ChangeRecord) -> None:
    assert ChangeRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


@SLOW
@given(deployment_specs(secrets=st.dictionaries(env_keys, secret_values, min_size=1, max_size=3)),
       actors, times)
def test_secret_values_never_reach_a_record(spec: Any, actor: Actor, when: str) -> None:
    values = [spec.env_vars[name] for name in spec.secret_names]
    assume(all(re.search(r"[^0-9a-f]", v) for v in values))  # not mistakable for the hash

    def record_text(spec: Any) -> str:
        change = plan_change(attrs.evolve(spec, paused=False), None)
        return json.dumps(record_for_change(change, "deploy", when, actor, redactor=Redactor(values)).to_json())

    # A value that the record holds anyway, with no secret in it (`deployme` in the key
    # `deployment_id`), is no leak: the same record with every secret value replaced
    # must not hold it.
    replaced = {**spec.env_vars, **dict.fromkeys(spec.secret_names, "\x00")}
    assume(not [v for v in values if v in record_text(attrs.evolve(
        spec, job_variables={**spec.job_variables, "env": replaced}))])
    text = record_text(spec)
    assert not [v for v in values if v in text]


@SLOW
@given(deployment_specs(), st.randoms())
def test_the_fingerprint_ignores_key_order(spec: Any, random: Any) -> None:
    applied = applied_spec(spec, spec.secret_names)
    keys = list(applied)
    random.shuffle(keys)
    assert fingerprint({k: applied[k] for k in keys}) == fingerprint(applied)


def _like(pattern: str, key: str) -> bool:
    """The server's `key ILIKE '%pattern%'`."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.search(regex, key, re.IGNORECASE) is not None


def _legacy_key(name: str) -> str:
    """The per-deployment key earlier versions stored each record under (format 1)."""
    part = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in name.lower())
    return f"fph-{part}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@SLOW
@given(sluggable_names, sluggable_names, flow_keys, sluggable_names)
def test_batch_and_legacy_keys_are_valid_and_matched_by_their_pattern(
    project: str, branch: str, flow: str, env: str
) -> None:
    name = DeploymentName.build(project, branch, flow, env)
    key = batch_key(name.project, name.env)
    assert re.fullmatch(r"[a-z0-9-]+", key)
    assert _like(key_pattern(place_for(project, env)), key)
    assert _like(key_pattern(place_for(project, env)), _legacy_key(name.format()))


def _record(name: DeploymentName, when: str) -> ChangeRecord:
    return ChangeRecord(deployment=name.format(), env=name.env, flow_key=name.flow_key,
                        verb="deploy", when=when, who="t",
                        after=CodeVersion(commit="c1"), applied={"name": name.format()})


@SLOW
@given(st.lists(st.tuples(st.sampled_from(["acme", "other"]), flow_keys,
                          st.sampled_from(["dev", "uat", "dev-2"])), max_size=30),
       st.integers(1, 7), st.integers(100, 2000))
def test_batches_keep_every_record_once_in_order_per_project_and_environment(
    rows: list[tuple[str, str, str]], size: int, max_bytes: int
) -> None:
    records = [_record(DeploymentName.build(p, "main", f, e), f"2026-01-01T00:00:{i:02d}")
               for i, (p, f, e) in enumerate(rows)]
    batches = batches_for(records, {}, size, max_bytes)
    weight = lambda r: len(json.dumps(r.to_json(), default=str))  # noqa: E731
    for batch in batches:  # within both bounds, unless one record alone is over the bytes
        assert len(batch.records) == 1 or sum(map(weight, batch.records)) <= max_bytes
    stored = [stored_batch(b.key, b.to_json()) for b in batches]
    assert stored == batches  # what is read back is what was written, manifests included
    assert sorted((r for b in batches for r in b.records), key=records.index) == records
    for batch in batches:
        assert 1 <= len(batch.records) <= size
        places = {(n.project, n.env) for n in (DeploymentName.parse(r.deployment)
                                               for r in batch.records) if n}
        assert len(places) == 1 and batch.key == batch_key(*places.pop())
        assert [records.index(r) for r in batch.records] == sorted(
            records.index(r) for r in batch.records)
    assert len({b.key for b in batches}) == len({
        (DeploymentName.build(p, "main", "x", e).project, DeploymentName.build(p, "main", "x", e).env)
        for p, _f, e in rows})


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                 st.dictionaries(st.sampled_from(["format", "records", "deployment"]),
                                 st.one_of(st.integers(0, 3), st.lists(st.none()), st.text()))))
def test_a_stored_artifact_that_is_not_ours_holds_no_records(data: object) -> None:
    batch = stored_batch("k", data)
    assert batch is None or batch.records == ()


def test_a_record_stored_alone_by_an_earlier_version_is_still_read() -> None:
    record = _record(DeploymentName.build("acme", "main", "etl", "dev"), "2026-01-01T00:00:00")
    assert stored_batch("k", record.to_json()) == RecordBatch("k", (record,), None)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=12))
def test_a_manifest_names_what_was_applied_last_and_not_pruned_since(
    steps: list[tuple[str, bool]]
) -> None:
    records = [ChangeRecord(deployment=f"p--main--{f}--dev", env="dev", flow_key=f,
                            verb="deploy" if applied else "prune", when="t", who="t",
                            after=CodeVersion(commit="c") if applied else None)
               for f, applied in steps]
    last = {r.deployment: r for r in records}
    assert known_after((), records) == tuple(sorted(n for n, r in last.items() if r.after))
    # one apply at a time or all at once: the same manifest
    one_by_one: tuple[str, ...] = ()
    for record in records:
        one_by_one = known_after(one_by_one, [record])
    assert one_by_one == known_after((), records)


@SLOW
@given(st.lists(st.sampled_from(["a1", "b2", "c3"]), min_size=2, max_size=8))
def test_rollback_goes_back_exactly_one_distinct_version(commits: list[str]) -> None:
    """`commits` oldest first; --steps 1 lands on the newest commit differing from the current."""
    assume(len(set(commits)) > 1)
    history = [ChangeRecord(deployment="p--main--f--uat", env="uat", flow_key="f", verb="promote",
                            when=f"2026-01-01T00:00:{i:02d}", who="t",
                            after=CodeVersion(commit=c, package_version="1", entrypoint="f.py:f"),
                            applied={"name": "p--main--f--uat"})
               for i, c in enumerate(commits)]
    chosen = rollback_target(list(reversed(history)), "p--main--f--uat")
    expected = next(c for c in reversed(commits) if c != commits[-1])
    assert chosen.after is not None and chosen.after.commit == expected
    with pytest.raises(PlanError):
        rollback_target(history, "p--main--f--uat", to_commit="zz")


# --------------------------------------------------------------------------- drift


@SLOW
@given(deployed_states())
def test_a_state_equal_to_the_applied_spec_has_no_drift(state: DeployedState) -> None:
    assert compare(applied_spec(state, ()), state) == ()


EDITS = ["paused", "work_queue_name", "work_pool_name", "description", "concurrency_limit",
         "tags", "env", "job_variables", "parameters", "schedule_active", "secret_value"]


@SLOW
@given(deployed_states(), st.sampled_from(EDITS), st.data())
def test_a_single_field_edit_is_reported_as_exactly_that_field(
    state: DeployedState, edit: str, data: st.DataObject
) -> None:
    secret = "WAREHOUSE_PASSWORD"
    state = attrs.evolve(state, job_variables={**state.job_variables,
                                               "env": {**state.env_vars, secret: "s3cr3t-1"}})
    applied = applied_spec(state, [secret])
    expected: set[str]
    if edit == "paused":
        edited, expected = attrs.evolve(state, paused=not state.paused), {"paused"}
    elif edit == "work_queue_name":
        queue = data.draw(st.sampled_from(["q1", "q2"]))
        edited, expected = attrs.evolve(state, work_queue_name=queue), {"work_queue_name"}
    elif edit == "work_pool_name":
        edited, expected = attrs.evolve(state, work_pool_name=state.work_pool_name + "x"), {
            "work_pool_name"}
    elif edit == "description":
        edited, expected = attrs.evolve(state, description=state.description + "!"), {"description"}
    elif edit == "concurrency_limit":
        edited, expected = attrs.evolve(state, concurrency_limit=(state.concurrency_limit or 0) + 1), {
            "concurrency_limit"}
    elif edit == "tags":
        edited, expected = attrs.evolve(state, tags=(*state.tags, "ui-added tag")), {"tags"}
        assume("ui-added tag" not in state.tags)
    elif edit == "env":
        key = data.draw(env_keys.filter(lambda k: k != secret))
        value = data.draw(st.text(max_size=5).filter(lambda v: v != state.env_vars.get(key)))
        env = {**state.env_vars, key: value}
        edited, expected = attrs.evolve(state, job_variables={**state.job_variables, "env": env}), {
            f"env.{key}"}
    elif edit == "job_variables":
        key = data.draw(st.text(min_size=1, max_size=6).filter(lambda k: k not in ("env",)))
        new = data.draw(json_values.filter(lambda v: v != state.job_variables.get(key)))
        edited = attrs.evolve(state, job_variables={**state.job_variables, key: new})
        expected = {f"job_variables.{key}"}
    elif edit == "parameters":
        key = data.draw(st.text(max_size=6))
        param = data.draw(json_values.filter(lambda v: v != state.parameters.get(key)))
        edited, expected = attrs.evolve(state, parameters={**state.parameters, key: param}), {
            f"parameters.{key}"}
    elif edit == "schedule_active":
        schedules = state.schedules or (Schedule("0 0 * * *"),)
        state = attrs.evolve(state, schedules=schedules)
        applied = applied_spec(state, [secret])
        index = data.draw(st.integers(0, len(schedules) - 1))
        flipped = tuple(attrs.evolve(s, active=not s.active) if i == index else s
                        for i, s in enumerate(schedules))
        edited, expected = attrs.evolve(state, schedules=flipped), {f"schedules[{index}].active"}
    else:  # a secret's value is never compared (records do not keep it)
        env = {**state.env_vars, secret: "s3cr3t-2"}
        edited, expected = attrs.evolve(state, job_variables={**state.job_variables, "env": env}), set()
    changes = compare(applied, edited)
    assert {c.field for c in changes} == expected
    assert "s3cr3t" not in json.dumps([attrs.asdict(c) for c in changes], default=str)


def test_a_deleted_deployment_is_drift_and_a_pruned_one_is_not() -> None:
    applied = {"name": "p--main--f--dev", "entrypoint": "f.py:f"}
    live = ChangeRecord("p--main--f--dev", "dev", "f", "deploy", "t1", "a", applied=applied)
    pruned = ChangeRecord("p--main--g--dev", "dev", "g", "prune", "t2", "a")
    report = assess("dev", [], {live.deployment: live, pruned.deployment: pruned})
    assert [(d.name, d.status) for d in report.deployments] == [("p--main--f--dev", "deleted")]
    assert report.exit_code == 2


# --------------------------------------------------------------------------- prune

BRANCHES = ["main", "master", "feature/a", "feature/b", "fix-1"]


@st.composite
def fleet(draw: st.DrawFn) -> DeployedState:
    """Deployments of this project and others, owned or not, in dev and uat."""
    project = draw(st.sampled_from(["proj", "other"]))
    branch = draw(st.sampled_from(BRANCHES))
    env = draw(st.sampled_from(["dev", "uat"]))
    flow = draw(st.sampled_from(["ingest", "report"]))
    tags = list(VersionTags(draw(st.sampled_from([project, "proj"])), branch, "c1", "1").to_tags())
    if not draw(st.booleans()):
        tags = [t for t in tags if not t.startswith(MANAGED_BY)]
    if draw(st.booleans()):
        tags.append("team=x")
    name = DeploymentName.build(project, branch, flow, env).format()
    return DeployedState(name=name, flow_name=flow, entrypoint="f.py:f", tags=tuple(tags),
                         id=draw(st.uuids()).hex)


@SLOW
@given(st.lists(fleet(), max_size=12), st.sets(st.sampled_from(BRANCHES)),
       st.sets(st.sampled_from(BRANCHES)),
       st.dictionaries(st.sampled_from(BRANCHES),
                       st.none() | st.frozensets(st.sampled_from(["ingest", "report"]))))
def test_prune_never_selects_foreign_or_protected_and_misses_no_gone_branch(
    states: list[DeployedState], existing: set[str], protected: set[str],
    flows: dict[str, frozenset[str] | None],
) -> None:
    plan = select_prunable(states, "proj", "dev", protected, existing, flows)
    for candidate in plan.candidates:
        state = candidate.state
        assert is_managed(state.tags) and tag_value(state.tags, "PROJECT_NAME") == "proj"
        parsed = DeploymentName.parse(state.name)
        assert parsed is not None and (parsed.project, parsed.env) == ("proj", "dev")
        assert candidate.branch not in protected
        gone_flows = flows.get(candidate.branch)
        assert candidate.branch not in existing or (
            gone_flows is not None and candidate.flow_key not in gone_flows)
    chosen = {c.state.id for c in plan.candidates}
    for state in states:
        owned = owned_branch(state, "proj", "dev")
        if owned is not None and owned[0] not in protected and owned[0] not in existing:
            assert state.id in chosen


def test_prune_ignores_a_deployment_without_the_managed_marker() -> None:
    tags = (make_tag("PROJECT_NAME", "proj"), make_tag("BRANCH_NAME", "gone"),
            make_tag("COMMIT_HASH", "c"), make_tag("PACKAGE_VERSION", "1"))
    state = DeployedState(name="proj--gone--f--dev", flow_name="f", entrypoint="f.py:f", tags=tags)
    assert select_prunable([state], "proj", "dev", (), (), {}).candidates == ()


# --------------------------------------------------------------------------- matrix age


@pytest.mark.parametrize(("updated", "label"), [
    ("2026-01-01T11:59:30Z", "<1m"), ("2026-01-01T11:55:00+00:00", "5m"),
    ("2026-01-01T09:00:00Z", "3h"), ("2025-12-30T12:00:00Z", "2d"), ("garbage", None),
])
def test_age_labels(updated: str, label: str | None) -> None:
    assert age_label(updated, "2026-01-01T12:00:00+00:00") == label


def test_protected_branches_default_and_override() -> None:
    from portal_core.config import build_environments, build_project_config
    from portal_core.errors import ConfigError

    default = build_project_config(build_environments({"environments": {"dev": {}}}, "p"), {})
    assert default.protected_branches == ("main", "master")
    given_ = build_environments({"environments": {"dev": {}}, "protected_branches": ["release"]},
                                "p")
    assert build_project_config(given_, {}).protected_branches == ("release",)
    with pytest.raises(ConfigError, match="did you mean 'protected_branches'"):
        build_environments({"environments": {"dev": {}}, "protected_branch": ["x"]}, "p")
