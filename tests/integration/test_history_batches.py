"""The change history on a real Prefect server: one artifact per apply, read lazily,
and the per-deployment records earlier versions wrote still read alongside."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

import pytest

from portal_core.history import (
    RECORD_TYPE,
    ChangeRecord,
    CodeVersion,
    latest_records,
    place_for,
    records_of,
    rollback_target,
)
from portal_core.names import DeploymentName
from portal_io.history_store import HistoryStore
from tests.support.server_api import api

pytestmark = pytest.mark.integration


def _post(url: str, path: str, body: Any) -> Any:
    return api(url, "POST", path, body)


def _artifacts(url: str, project: str) -> list[dict[str, Any]]:
    return [a for a in _post(url, "/artifacts/filter", {
        "artifacts": {"type": {"any_": [RECORD_TYPE]}, "key": {"like_": f"fph-{project}--"}},
        "limit": 200}) if a["key"].startswith(f"fph-{project}--")]


def _record(project: str, flow: str, env: str, commit: str, verb: str = "deploy") -> ChangeRecord:
    name = DeploymentName.build(project, "main", flow, env).format()
    applied = None if verb == "prune" else {"name": name, "entrypoint": f"flows/{flow}.py:{flow}"}
    return ChangeRecord(deployment=name, env=env, flow_key=flow, verb=verb,
                        when=f"2026-11-27T00:00:{len(commit):02d}.{commit}", who="t",
                        after=None if verb == "prune" else CodeVersion(commit=commit),
                        applied=applied, fingerprint=commit)


def _legacy_write(url: str, record: ChangeRecord) -> None:
    """A record stored as flowportal stored them before batches: one artifact per
    deployment, under a per-deployment key."""
    part = "".join(c if c.isascii() and c.isalnum() else "-" for c in record.deployment.lower())
    key = f"fph-{part}-{hashlib.sha256(record.deployment.encode()).hexdigest()[:8]}"
    _post(url, "/artifacts/", {"key": key, "type": RECORD_TYPE, "data": record.to_json(),
                               "description": record.summary()})


def _project() -> str:
    return f"hb{uuid.uuid4().hex[:8]}"


def test_one_apply_is_one_artifact_read_back_whole_with_its_manifest(prefect_api_url: str) -> None:
    project = _project()
    store = HistoryStore(prefect_api_url)
    records = [_record(project, f"flow_{i}", "dev", "c1") for i in range(120)]
    records.append(_record(project, "flow_0", "uat", "c1"))
    assert store.write(records) == []
    # 120 records of dev in two batches (at most 100 each), one of uat; before them, per
    # place, the newest manifest (none yet) and the per-deployment records of old (none)
    assert store.requests == 3 + 2 * 2
    assert len(_artifacts(prefect_api_url, project)) == 3
    place = place_for(project, "dev")
    assert list(records_of(store.scan(place))) == [*reversed(records[:120])]  # newest first
    assert set(store.known(place)) == {r.deployment for r in records[:120]}
    assert store.known(place_for(project, "uat")) == (records[120].deployment,)


def test_readers_stop_at_what_they_need_in_a_long_history(prefect_api_url: str) -> None:
    """Forty single-flow deploys after one of everything: drift of every deployment and a
    one-step rollback read a few pages, not the whole history."""
    project = _project()
    store = HistoryStore(prefect_api_url)
    flows = [f"flow_{i}" for i in range(10)]
    assert store.write([_record(project, f, "dev", "c0") for f in flows]) == []
    for n, flow in zip(range(1, 41), itertools.cycle(flows[:3]), strict=False):
        assert store.write([_record(project, flow, "dev", f"c{n}")]) == []
    place = place_for(project, "dev")
    names = {DeploymentName.build(project, "main", f, "dev").format() for f in flows}

    store.requests = 0
    latest = latest_records(store.scan(place), lambda n: n in names, store.known(place))
    assert set(latest) == names  # flow_3..9 only in the oldest batch: read to the end
    whole = store.requests

    store.requests = 0
    recent = {n for n in names if any(f"--{f.replace('_', '-')}--" in n for f in flows[:3])}
    latest = latest_records(store.scan(place), lambda n: n in recent, recent)
    assert {r.after.commit for r in latest.values() if r.after} == {"c38", "c39", "c40"}
    assert store.requests == 1 < whole  # the first small page held all three

    store.requests = 0
    target = rollback_target(records_of(store.scan(place)), sorted(recent)[0], steps=1)
    assert target.after is not None and target.after.commit.startswith("c3")
    assert store.requests == 1


def test_records_earlier_versions_stored_are_read_with_the_new_ones(prefect_api_url: str) -> None:
    project = _project()
    store = HistoryStore(prefect_api_url)
    old_a = _record(project, "alpha", "dev", "a1")
    old_b = _record(project, "beta", "dev", "b1")
    old_gone = _record(project, "gamma", "dev", "g1")
    for record in (old_a, old_b, old_gone):
        _legacy_write(prefect_api_url, record)
    place = place_for(project, "dev")
    # no batch yet: the manifest comes from the newest record of each deployment
    assert set(store.known(place)) == {old_a.deployment, old_b.deployment, old_gone.deployment}

    new_a = _record(project, "alpha", "dev", "a2")
    pruned = _record(project, "gamma", "dev", "g1", verb="prune")
    assert store.write([new_a, pruned]) == []
    assert store.known(place) == (new_a.deployment, old_b.deployment)  # sorted names
    everything = list(records_of(store.scan(place)))
    assert everything[:2] == [pruned, new_a]
    assert sorted(everything[2:], key=lambda r: r.deployment) == [old_a, old_b, old_gone]
    latest = latest_records(store.scan(place), lambda n: True, store.known(place))
    assert latest[old_b.deployment] == old_b  # found among the old records
    assert latest[new_a.deployment] == new_a
    target = rollback_target(records_of(store.scan(place)), new_a.deployment, steps=1)
    assert target == old_a
