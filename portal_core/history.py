"""Change records: a durable, shareable history of what flowportal applied.

The open-source Prefect server keeps no deployment version history (it drops
`version_info`) and its events expire after days, so rollback, drift detection
and "who changed uat on Tuesday" need a history of our own. It is kept *on the
Prefect server* (as artifacts, see `portal_io.history_store`), so laptops, CI
and editor extensions read one history, and it lives as long as the server's
data does.

A record is a plain value: who changed which deployment, how (deploy, promote,
rollback, prune), the code version before and after, the field-level diff with
secrets masked, and the applied spec itself (secrets masked) with a stable
fingerprint, so drift can be judged against what was last applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from portal_core.deployments import DeployedState, DeploymentFields, Schedule
from portal_core.errors import PlanError
from portal_core.json_values import json_like
from portal_core.names import DeploymentName, slugify
from portal_core.plan import REDACTED, Change, FieldChange
from portal_core.redaction import Redactor

VERBS = ("deploy", "promote", "rollback", "prune")
RECORD_FORMAT = 1
#: The stored form of several records of one apply (`RecordBatch`).
BATCH_FORMAT = 2
BATCH_SIZE = 100
BATCH_BYTES = 400_000
#: The artifact `type` of a change record; other artifacts are never read as ours.
RECORD_TYPE = "flowportal-change"
KEY_PREFIX = "fph-"


# --------------------------------------------------------------------------- values


@attrs.frozen
class CodeVersion:
    """What identifies the code a deployment runs (never its environment's settings)."""

    commit: str | None = None
    package_version: str | None = None
    branch: str | None = None
    image: str | None = None
    entrypoint: str | None = None
    version: str | None = None

    @classmethod
    def of(cls, fields: DeploymentFields) -> CodeVersion:
        tags = fields.version_tags
        return cls(
            commit=tags.commit if tags else None,
            package_version=tags.package_version if tags else None,
            branch=tags.branch if tags else None,
            image=fields.image,
            entrypoint=fields.entrypoint or None,
            version=fields.version or None,
        )

    def label(self) -> str:
        if self.commit is None and self.package_version is None:
            return self.version or "?"
        return f"{self.commit or '?'} / {self.package_version or '?'}"

    def same_code(self, other: CodeVersion | None) -> bool:
        if other is None:
            return False
        return (self.commit, self.package_version, self.image, self.entrypoint) == (
            other.commit, other.package_version, other.image, other.entrypoint)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CodeVersion | None:
        if data is None:
            return None
        names = {a.name for a in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _changes(value: Iterable[FieldChange]) -> tuple[FieldChange, ...]:
    return tuple(value)


@attrs.frozen
class ChangeRecord:
    """One change to one deployment, as stored on the server."""

    deployment: str  # the full deployment name
    env: str  # slug of the environment (from the name)
    flow_key: str
    verb: str
    when: str  # ISO-8601 UTC, given by the shell
    who: str
    ci_url: str | None = None
    source_env: str | None = None  # promotions: where the code came from
    before: CodeVersion | None = None
    after: CodeVersion | None = None  # None for a prune
    diff: tuple[FieldChange, ...] = attrs.field(default=(), converter=_changes)
    fingerprint: str | None = None  # of `applied`
    applied: Mapping[str, Any] | None = None  # the applied spec, secrets masked
    deployment_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "deployment": self.deployment,
            "env": self.env,
            "flow_key": self.flow_key,
            "verb": self.verb,
            "when": self.when,
            "who": self.who,
            "ci_url": self.ci_url,
            "source_env": self.source_env,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
            "diff": [{"field": f.field, "before": f.before, "after": f.after,
                      **({"note": f.note} if f.note is not None else {})} for f in self.diff],
            "fingerprint": self.fingerprint,
            "applied": dict(self.applied) if self.applied is not None else None,
            "deployment_id": self.deployment_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeRecord:
        """Raises ValueError for anything that is not one of our records."""
        if not isinstance(data, Mapping) or data.get("format") != RECORD_FORMAT:
            raise ValueError("not a flowportal change record")
        try:
            return cls(
                deployment=str(data["deployment"]),
                env=str(data["env"]),
                flow_key=str(data["flow_key"]),
                verb=str(data["verb"]),
                when=str(data["when"]),
                who=str(data["who"]),
                ci_url=data.get("ci_url"),
                source_env=data.get("source_env"),
                before=CodeVersion.from_json(data.get("before")),
                after=CodeVersion.from_json(data.get("after")),
                diff=tuple(FieldChange(d["field"], d.get("before"), d.get("after"), d.get("note"))
                           for d in data.get("diff") or ()),
                fingerprint=data.get("fingerprint"),
                applied=data.get("applied"),
                deployment_id=data.get("deployment_id"),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed change record: {err}") from None

    def summary(self) -> str:
        """One line for the artifact's description in the Prefect UI."""
        before = self.before.label() if self.before else "-"
        after = self.after.label() if self.after else "(deleted)"
        source = f" from {self.source_env}" if self.source_env else ""
        return f"{self.verb}{source} by {self.who}: {before} -> {after}"


@attrs.frozen
class Actor:
    who: str
    ci_url: str | None = None


# --------------------------------------------------------------------------- applied spec


def applied_spec(fields: DeploymentFields, secret_names: Iterable[str],
                 redactor: Redactor | None = None) -> dict[str, Any]:
    """The writable fields as JSON, with secret env values replaced by a mask.

    This is what a record keeps as "last applied": enough to compare with the
    server (drift) and to re-apply its code version (rollback), and nothing
    that must not be stored.
    """
    secrets = frozenset(secret_names)
    job_variables = json_like(fields.job_variables)
    env = job_variables.get("env")
    if isinstance(env, dict):
        job_variables["env"] = {k: (REDACTED if k in secrets else v) for k, v in env.items()}
    data = {
        "name": fields.name,
        "flow_name": fields.flow_name,
        "entrypoint": fields.entrypoint,
        "description": fields.description,
        "version": fields.version,
        "tags": list(fields.tags),
        "work_pool_name": fields.work_pool_name,
        "work_queue_name": fields.work_queue_name,
        "job_variables": job_variables,
        "parameters": json_like(fields.parameters),
        "parameter_schema": json_like(fields.parameter_schema),
        "schedules": [attrs.asdict(s) for s in fields.schedules],
        "paused": fields.paused,
        "concurrency_limit": fields.concurrency_limit,
        "pull_steps": json_like(fields.pull_steps),
        "enforce_parameter_schema": fields.enforce_parameter_schema,
        "secret_names": sorted(secrets),
    }
    return redactor.data(data) if redactor else data  # type: ignore[no-any-return,unused-ignore]


def fingerprint(applied: Mapping[str, Any]) -> str:
    """A stable hash of an applied spec: key order and container types do not matter."""
    canonical = json.dumps(json_like(applied), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def state_from_applied(applied: Mapping[str, Any]) -> DeployedState:
    """An applied spec as a state, so promotion's rules can take it as a source."""
    return DeployedState(
        name=applied["name"],
        flow_name=applied.get("flow_name") or "",
        entrypoint=applied.get("entrypoint") or "",
        description=applied.get("description") or "",
        version=applied.get("version") or "",
        tags=tuple(applied.get("tags") or ()),
        work_pool_name=applied.get("work_pool_name") or "",
        work_queue_name=applied.get("work_queue_name"),
        job_variables=dict(applied.get("job_variables") or {}),
        parameters=dict(applied.get("parameters") or {}),
        parameter_schema=applied.get("parameter_schema"),
        schedules=tuple(Schedule(**s) for s in applied.get("schedules") or ()),
        paused=applied.get("paused"),
        concurrency_limit=applied.get("concurrency_limit"),
        pull_steps=tuple(applied.get("pull_steps") or ()),
        enforce_parameter_schema=bool(applied.get("enforce_parameter_schema", True)),
    )


# --------------------------------------------------------------------------- building


def record_for_change(change: Change, verb: str, when: str, actor: Actor,
                      source_env: str | None = None, deployment_id: str | None = None,
                      redactor: Redactor | None = None) -> ChangeRecord:
    """The record of one applied change of a plan."""
    spec = change.spec
    parsed = DeploymentName.parse(spec.name)
    applied = applied_spec(spec, spec.secret_names, redactor)
    diff = tuple(
        attrs.evolve(f, before=redactor.data(f.before), after=redactor.data(f.after)) if redactor else f
        for f in change.fields
    )
    return ChangeRecord(
        deployment=spec.name,
        env=parsed.env if parsed else "",
        flow_key=spec.flow_key or (parsed.flow_key if parsed else ""),
        verb=verb,
        when=when,
        who=actor.who,
        ci_url=actor.ci_url,
        source_env=source_env,
        before=CodeVersion.of(change.current) if change.current else None,
        after=CodeVersion.of(spec),
        diff=diff,
        fingerprint=fingerprint(applied),
        applied=applied,
        deployment_id=deployment_id or (change.current.id if change.current else None),
    )


def prune_record(state: DeployedState, when: str, actor: Actor) -> ChangeRecord:
    parsed = DeploymentName.parse(state.name)
    return ChangeRecord(
        deployment=state.name,
        env=parsed.env if parsed else "",
        flow_key=parsed.flow_key if parsed else "",
        verb="prune",
        when=when,
        who=actor.who,
        ci_url=actor.ci_url,
        before=CodeVersion.of(state),
        after=None,
        deployment_id=state.id,
    )


# --------------------------------------------------------------------------- batches and keys


Place = tuple[str, str]
"""A project slug and an environment slug: the scope of one change log."""


@attrs.frozen
class RecordBatch:
    """The records of one apply in one place, stored as one artifact.

    One artifact per apply rather than one per deployment: the server spends
    about the same on an artifact of one record as on one of a hundred (most
    of it the write itself), so a first deploy of 100 flows records its
    history in one request instead of 100 (2.5 s of server time on SQLite).

    `known` is the log's manifest: every deployment of the place whose newest
    record applied something, as of this batch. Drift must judge every such
    deployment, including ones deleted since (only the history remembers
    them), yet should read only the newest batches: the manifest tells it when
    it has seen enough. None for a record stored alone by an earlier version.
    """

    key: str
    records: tuple[ChangeRecord, ...]
    known: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format": BATCH_FORMAT, "records": [r.to_json() for r in self.records],
                "known": list(self.known or ())}

    def summary(self) -> str:
        """One line for the artifact's description in the Prefect UI."""
        first = self.records[0]
        if len(self.records) == 1:
            return f"{first.deployment}: {first.summary()}"
        verbs = "/".join(dict.fromkeys(r.verb for r in self.records))
        return f"{verbs} of {len(self.records)} deployments by {first.who}"


def _key_part(slug: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in slug.lower())


def batch_key(project_slug: str, env_slug: str) -> str:
    """The artifact key of one project's and environment's change log.

    All its batches share the key, so the Prefect UI shows an environment's
    history as the versions of one artifact. Readable, and exact through a hash
    (lower-casing alone could merge two slugs). Its shape, `fph-P--changes--E-H`,
    is matched by `key_pattern(P, E)` like the per-deployment keys that earlier
    versions wrote (`fph-P--BRANCH--FLOW--E-H`, one record each), so a read finds
    both and nobody's older history is lost.
    """
    digest = hashlib.sha256(f"{project_slug}/{env_slug}".encode()).hexdigest()[:8]
    return f"{KEY_PREFIX}{_key_part(project_slug)}--changes--{_key_part(env_slug)}-{digest}"


def place_of_deployment(name: str) -> Place | None:
    parsed = DeploymentName.parse(name)
    return (parsed.project, parsed.env) if parsed else None


def place_of(record: ChangeRecord) -> Place:
    return place_of_deployment(record.deployment) or ("unscoped", _key_part(record.env or "none"))


def places(records: Iterable[ChangeRecord]) -> list[Place]:
    """The places whose change logs `records` go to, in order of first appearance."""
    return list(dict.fromkeys(place_of(r) for r in records))


def known_after(known: Iterable[str], records: Iterable[ChangeRecord]) -> tuple[str, ...]:
    """A manifest after `records` (oldest first): what they applied joins, what they pruned leaves."""
    names = dict.fromkeys(known)
    for record in records:
        if record.after is None:
            names.pop(record.deployment, None)
        else:
            names[record.deployment] = None
    return tuple(sorted(names))


def _chunks(records: Sequence[ChangeRecord], size: int, max_bytes: int) -> Iterator[tuple[ChangeRecord, ...]]:
    """Consecutive runs of at most `size` records and about `max_bytes` of JSON (a record
    larger than that goes alone): an artifact stays small enough for any server."""
    chunk: list[ChangeRecord] = []
    used = 0
    for record in records:
        weight = len(json.dumps(record.to_json(), default=str))
        if chunk and (len(chunk) == size or used + weight > max_bytes):
            yield tuple(chunk)
            chunk, used = [], 0
        chunk.append(record)
        used += weight
    if chunk:
        yield tuple(chunk)


def batches_for(records: Iterable[ChangeRecord], known: Mapping[Place, Iterable[str]],
                size: int = BATCH_SIZE, max_bytes: int = BATCH_BYTES) -> list[RecordBatch]:
    """Records grouped by place (each read looks at one), in order, in batches of at most
    `size` records and about `max_bytes`, so that no artifact grows without bound; each
    batch carries its place's manifest after it, starting from `known` (the manifest
    stored before this apply)."""
    groups: dict[Place, list[ChangeRecord]] = {}
    for record in records:
        groups.setdefault(place_of(record), []).append(record)
    batches = []
    for place, group in groups.items():
        manifest = tuple(known.get(place, ()))
        for chunk in _chunks(group, size, max_bytes):
            manifest = known_after(manifest, chunk)
            batches.append(RecordBatch(batch_key(*place), chunk, manifest))
    return batches


def stored_batch(key: str, data: Any) -> RecordBatch | None:
    """What one stored artifact holds: a batch, or a single record as earlier versions
    stored them (a batch without a manifest). None for a look-alike that is not ours."""
    if not isinstance(data, Mapping):
        return None
    if data.get("format") == BATCH_FORMAT:
        items, known = data.get("records"), data.get("known")
        found = []
        for item in items if isinstance(items, list) else ():
            try:
                found.append(ChangeRecord.from_json(item))
            except ValueError:
                continue
        names = tuple(n for n in known if isinstance(n, str)) if isinstance(known, list) else None
        return RecordBatch(key, tuple(found), names)
    try:
        return RecordBatch(key, (ChangeRecord.from_json(data),))
    except ValueError:
        return None


def records_of(batches: Iterable[RecordBatch]) -> Iterator[ChangeRecord]:
    """The records of batches given newest first, newest first (a batch keeps its
    records in the order they were applied)."""
    for batch in batches:
        yield from reversed(batch.records)


def legacy_known(records: Iterable[ChangeRecord], place: Place) -> tuple[str, ...]:
    """The manifest of a log that only earlier versions wrote (one record per deployment,
    whose newest records the server lists per key): each deployment in `place` whose
    newest record applied something."""
    newest: dict[str, ChangeRecord] = {}
    for record in newest_first(records):
        if in_scope(record.deployment, *place):
            newest.setdefault(record.deployment, record)
    return tuple(sorted(n for n, r in newest.items() if r.after is not None))


def place_for(project: str, env: str) -> Place:
    """The place of a project and environment as configured (names slugged as in
    deployment names)."""
    return (slugify(project, "project"), slugify(env, "environment"))


def key_pattern(place: Place) -> str:
    """A substring pattern (SQL LIKE, the server adds `%` around it) narrowing a read to one
    place. A pre-filter only: records are matched exactly after."""
    project, env = place
    return f"{KEY_PREFIX}{_key_part(project)}--%--{_key_part(env)}-"


# --------------------------------------------------------------------------- reading


def in_scope(deployment: str, project_slug: str, env_slug: str,
             flow_key: str | None = None) -> bool:
    """Whether a deployment name is one of ours in this project and environment (and flow).

    The one rule by which history, drift and rollback select deployments and
    records: key patterns only pre-filter a read (they match by substring), so
    each must still be matched on the parsed name, and all must agree.
    """
    parsed = DeploymentName.parse(deployment)
    return (parsed is not None and parsed.project == project_slug and parsed.env == env_slug
            and (flow_key is None or parsed.flow_key == flow_key))


def newest_first(records: Iterable[ChangeRecord]) -> list[ChangeRecord]:
    # ISO-8601 UTC timestamps of one format sort as text; stable for equal times.
    return sorted(records, key=lambda r: r.when, reverse=True)


def latest_records(batches: Iterable[RecordBatch], keep: Callable[[str], bool],
                   wanted: Collection[str]) -> dict[str, ChangeRecord]:
    """The newest record of each deployment `keep` accepts, from `batches` newest first,
    read until every deployment in `wanted` or in a manifest read so far has one (or
    the batches end).

    Drift needs the last applied spec of each deployment on the server (`wanted`)
    and of each one deleted since (the manifests name them); stopping once all
    are found keeps the read to the newest batches of a long history.
    """
    latest: dict[str, ChangeRecord] = {}
    missing = {n for n in wanted if keep(n)}  # one not kept could never be found
    for batch in batches:
        for record in reversed(batch.records):  # newest first within the batch too
            if record.deployment not in latest and keep(record.deployment):
                latest[record.deployment] = record
        missing |= {n for n in batch.known or () if keep(n)}
        missing -= latest.keys()
        if not missing:
            break
    return latest


def rollback_target(records: Iterable[ChangeRecord], deployment: str,
                    to_commit: str | None = None, steps: int = 1) -> ChangeRecord:
    """The record whose applied code version a rollback re-applies.

    `records` newest first, consumed only as far as needed (a history is read
    page by page while this asks): `--steps N` goes back N distinct code
    versions from the current one and stops there; `--to` picks the newest
    record that applied a commit starting with it, and reads the whole history
    so that an ambiguous prefix is refused, never guessed.
    """
    if steps < 1:
        raise PlanError(["--steps must be at least 1"])
    applied = (r for r in records
               if r.deployment == deployment and r.after is not None and r.applied is not None)
    newest = next(applied, None)
    if newest is None:
        raise PlanError([f"no recorded change of {deployment} to roll back to; history is "
                         f"recorded from the first deploy/promote with this flowportal version"])
    assert newest.after is not None
    if to_commit is not None:
        every = [newest, *applied]
        found = [r for r in every if r.after and r.after.commit
                 and r.after.commit.startswith(to_commit)]
        commits = sorted({r.after.commit for r in found if r.after and r.after.commit})
        if not found:
            known = ", ".join(dict.fromkeys(r.after.commit or "?" for r in every if r.after))
            raise PlanError([f"commit {to_commit!r} was never applied to {deployment} "
                             f"(recorded: {known})"])
        if len(commits) > 1:
            raise PlanError([f"commit {to_commit!r} is ambiguous for {deployment}: "
                             f"{', '.join(commits)}"])
        return found[0]
    last, found_versions = newest.after, 0
    for record in applied:
        assert record.after is not None
        if not record.after.same_code(last):
            found_versions += 1
            last = record.after
            if found_versions == steps:
                return record
    raise PlanError([f"{deployment} has {found_versions} earlier recorded code version(s); "
                     f"cannot go back {steps}"])
