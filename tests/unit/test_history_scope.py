"""The one selection rule of history, drift and rollback: which names are ours here."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from support.strategies import flow_keys, sluggable_names

from portal_core.history import ChangeRecord, in_scope, latest_by_deployment, matching
from portal_core.names import DeploymentName, normalize_flow_key, slugify

parts = st.tuples(sluggable_names, sluggable_names, flow_keys, sluggable_names)


@given(parts, parts)
def test_a_name_is_in_scope_exactly_when_its_project_env_and_flow_are(
    mine: tuple[str, str, str, str], other: tuple[str, str, str, str]
) -> None:
    project, _branch, flow, env = mine
    name = DeploymentName.build(*other).format()
    o_project, _o_branch, o_flow, o_env = other
    same_place = (slugify(project, "project"), slugify(env, "environment")) == (
        slugify(o_project, "project"), slugify(o_env, "environment"))
    same_flow = normalize_flow_key(flow) == normalize_flow_key(o_flow)
    here = (slugify(project, "project"), slugify(env, "environment"))
    own = DeploymentName.build(*mine).format()
    assert in_scope(own, *here) and in_scope(own, *here, normalize_flow_key(flow))
    assert in_scope(name, *here) is same_place
    assert in_scope(name, *here, normalize_flow_key(flow)) is (same_place and same_flow)


def test_names_not_of_our_shape_are_never_in_scope() -> None:
    assert not in_scope("hello-world/dev", "acme", "dev")
    assert not in_scope("", "acme", "dev")


record_times = st.sampled_from(["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00",
                                "2026-01-03T00:00:00+00:00"])


@given(st.lists(st.tuples(st.sampled_from(["acme", "other"]), st.sampled_from(["a", "b"]),
                          st.sampled_from(["dev", "uat"]), record_times), max_size=8))
def test_matching_and_latest_select_the_newest_record_of_each_deployment_in_scope(
    rows: list[tuple[str, str, str, str]],
) -> None:
    records = [ChangeRecord(deployment=DeploymentName.build(p, "main", f, e).format(), env=e,
                            flow_key=f, verb="deploy", when=when, who="t")
               for p, f, e, when in rows]
    kept = matching(records, "acme", "dev")
    assert sorted((r.deployment, r.when) for r in kept) == sorted(
        (r.deployment, r.when) for r in records
        if r.deployment.startswith("acme--") and r.deployment.endswith("--dev"))
    assert [r.when for r in kept] == sorted((r.when for r in kept), reverse=True)
    latest = latest_by_deployment(kept)
    for name, record in latest.items():
        assert in_scope(name, "acme", "dev")
        assert record.when == max(r.when for r in kept if r.deployment == name)
    assert set(latest) == {r.deployment for r in kept}
