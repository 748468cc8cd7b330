"""The one selection rule of history, drift and rollback: which names are ours here."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st
from support.strategies import flow_keys, sluggable_names

from portal_core.history import (
    ChangeRecord,
    CodeVersion,
    Place,
    RecordBatch,
    batches_for,
    in_scope,
    latest_records,
    place_of,
)
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


@given(st.lists(st.tuples(st.sampled_from(["acme", "other"]), st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["dev", "uat"]), record_times, st.booleans()),
                max_size=10),
       st.sets(st.sampled_from(["a", "b", "c"])), st.integers(1, 4))
def test_latest_records_finds_every_wanted_or_known_deployment_and_reads_no_further(
    rows: list[tuple[str, str, str, str, bool]], wanted_flows: set[str], size: int,
) -> None:
    """Batches as the store writes them (oldest first, manifests included), read newest
    first, with `wanted` as drift passes it (the deployments on the server and the newest
    manifest of the place): the newest record of each deployment wanted or named by a
    manifest is found, and reading stops at the first batch after which nothing is
    missing. Other places' batches (look-alikes the key pattern lets through) are mixed in."""
    oldest_first = sorted(
        (ChangeRecord(deployment=DeploymentName.build(p, "main", f, e).format(), env=e,
                      flow_key=f, verb="deploy" if applied else "prune", when=when, who="t",
                      after=CodeVersion(commit="c") if applied else None)
         for p, f, e, when, applied in rows), key=lambda r: r.when)
    known: dict[Place, tuple[str, ...]] = {}
    batches: list[RecordBatch] = []
    for start in range(0, len(oldest_first), size):
        for batch in batches_for(oldest_first[start:start + size], known):
            batches.append(batch)
            place = place_of(batch.records[0])
            known[place] = batch.known or ()
    here = ("acme", "dev")
    wanted = {DeploymentName.build("acme", "main", f, "dev").format() for f in wanted_flows}
    wanted |= set(known.get(here, ()))
    wanted.add(DeploymentName.build("acme", "main", "z", "uat").format())  # never kept: not awaited
    read: list[RecordBatch] = []

    def reading() -> Iterator[RecordBatch]:
        for batch in reversed(batches):
            read.append(batch)
            yield batch

    latest = latest_records(reading(), lambda name: in_scope(name, *here), wanted)
    records = list(reversed(oldest_first))
    for name, record in latest.items():
        assert in_scope(name, *here)
        assert record is next(r for r in records if r.deployment == name)  # the newest
    with_records = {r.deployment for r in records if in_scope(r.deployment, *here)}
    should_exist = {r.deployment for r in latest_before_all(records) if r.after is not None
                    and in_scope(r.deployment, *here)}
    assert (wanted & with_records) | should_exist <= set(latest)
    # it read no batch beyond the one after which nothing wanted or known was missing
    for position in range(len(read) - 1):
        seen = {r.deployment for b in read[:position + 1] for r in b.records}
        named = {n for b in read[:position + 1] for n in (*wanted, *(b.known or ()))
                 if in_scope(n, *here)}
        assert not named <= seen


def latest_before_all(records: list[ChangeRecord]) -> list[ChangeRecord]:
    """Each deployment's newest record (`records` newest first)."""
    return list({r.deployment: r for r in reversed(records)}.values())
