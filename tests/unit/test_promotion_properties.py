"""The laws of promotion: the code version travels, the environment's settings do not.

What reaches prod must be exactly what was tested in uat (entrypoint, image,
version, version tags, pull steps, parameter schema), while everything that
belongs to the target environment (env vars, secrets, work pool, schedules,
paused) comes from the target's own config, never from the source deployment.
And a promotion is all or nothing: every problem is found before anything is
written, and listed, one line each.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.memory_gateway import InMemoryGateway
from support.strategies import (
    any_text,
    branch_names,
    env_dicts,
    flow_keys,
    json_values,
    parameter_schemas,
    project_configs,
    pull_steps,
    schedules,
    secret_values,
    sluggable_names,
    tag_values,
    user_tags,
)

from portal_core.config import EnvironmentConfig, ProjectConfig, StaticFlowConfig, WorkPoolConfig
from portal_core.deploy import DIRTY_SUFFIX
from portal_core.deployments import DeployedState, Schedule
from portal_core.environment import EnvValues, pool_takes_image
from portal_core.errors import PlanError
from portal_core.names import DeploymentName, slugify
from portal_core.plan import Action, Plan, make_plan
from portal_core.promotion import plan_promotion, promoted_spec
from portal_core.tags import (
    BRANCH_NAME,
    COMMIT_HASH,
    PACKAGE_VERSION,
    PROJECT_NAME,
    VersionTags,
    tag_value,
)
from portal_core.tags import (
    user_tags as user_tags_of,
)

ENVS = ("dev", "uat", "prod")
SOURCE_ONLY = "SRC_ONLY_"  # env var keys only the source deployment has


def name_of(config: ProjectConfig, branch: str, key: str, env: str) -> str:
    return DeploymentName.build(config.project, branch, key, env).format()


@st.composite
def source_state(
    draw: st.DrawFn, config: ProjectConfig, branch: str, key: str, env: str
) -> DeployedState:
    """A deployment of `key` in `env`, as a deploy there would have left it."""
    name = name_of(config, branch, key, env)
    # exact project and branch, as deploy tags them; commit and version are arbitrary text,
    # but a clean commit (one deployed from uncommitted changes is refused without --force)
    commit = draw(tag_values.filter(lambda c: not c.endswith(DIRTY_SUFFIX)))
    version = VersionTags(config.project, branch, commit, draw(tag_values))
    job_variables: dict[str, Any] = {
        "env": {
            **draw(env_dicts),
            f"{SOURCE_ONLY}{draw(st.integers(0, 99))}": draw(any_text),
            "DEPLOYMENT_NAME": name,
        },
        "source_only_setting": draw(json_values),
    }
    if draw(st.booleans()):
        job_variables["image"] = draw(st.text(min_size=1, max_size=30))
    return DeployedState(
        name=name,
        flow_name=draw(st.text(min_size=1, max_size=15)),
        entrypoint=f"flows/{key}.py:{key}",
        description=draw(any_text),
        version=draw(any_text),
        tags=(*version.to_tags(), *draw(st.lists(user_tags, max_size=2))),
        work_pool_name=draw(st.sampled_from(["source-pool", "ecs-src"])),
        work_queue_name=draw(st.none() | st.just("source-queue")),
        job_variables=job_variables,
        parameters=draw(st.dictionaries(st.text(max_size=5), json_values, max_size=2)),
        parameter_schema=draw(parameter_schemas),
        schedules=tuple(draw(schedules)),
        paused=draw(st.booleans()),
        concurrency_limit=draw(st.none() | st.integers(1, 9)),
        pull_steps=tuple(draw(pull_steps)),
        enforce_parameter_schema=draw(st.booleans()),
        id=str(draw(st.uuids())),
        flow_id=str(draw(st.uuids())),
    )


@attrs.frozen
class Case:
    config: ProjectConfig
    branch: str
    src: str
    dst: str
    keys: tuple[str, ...]  # flows deployed in src for this project and branch
    source_states: tuple[DeployedState, ...]  # ours plus noise
    target_states: tuple[DeployedState, ...]
    values: EnvValues

    def source(self, key: str) -> DeployedState:
        name = name_of(self.config, self.branch, key, self.src)
        return next(s for s in self.source_states if s.name == name)

    def plan(self, **overrides: Any) -> Plan:
        args: dict[str, Any] = {
            "config": self.config, "src": self.src, "dst": self.dst, "branch": self.branch,
            "flows": [], "source_states": self.source_states, "target_states": self.target_states,
            "values": self.values,
        }
        return plan_promotion(**{**args, **overrides})


@st.composite
def cases(draw: st.DrawFn) -> Case:
    keys = draw(st.lists(flow_keys, unique=True, min_size=1, max_size=3))
    configured = draw(st.lists(st.sampled_from(keys), unique=True))
    config = draw(project_configs(envs=ENVS, flows=st.just(configured)))
    # every flow needs a pool somewhere: the static config supplies one when the env has none
    flows = {
        key: attrs.evolve(config.flow_config(key), work_pool_name=f"static-{key}")
        for key in keys
    }
    config = attrs.evolve(config, flows=flows)
    branch = draw(branch_names)
    src_index = draw(st.integers(0, len(ENVS) - 2))
    src, dst = ENVS[src_index], ENVS[src_index + 1]

    ours = [draw(source_state(config, branch, key, src)) for key in keys]
    noise = []
    other_branch = draw(branch_names)
    if slugify(other_branch) != slugify(branch):
        noise.append(draw(source_state(config, other_branch, keys[0], src)))
    noise.append(draw(source_state(config, branch, keys[0], dst)))  # the target env, not the source
    noise.append(attrs.evolve(ours[0], name="hand-made deployment"))  # not our name shape
    other_project = draw(sluggable_names)
    if slugify(other_project) != slugify(config.project):
        noise.append(draw(source_state(attrs.evolve(config, project=other_project), branch, keys[0], src)))

    target = []
    for key in draw(st.lists(st.sampled_from(keys), unique=True)):
        target.append(draw(source_state(config, branch, key, dst)))

    env = config.environment(dst).config
    values = EnvValues(
        from_file=draw(env_dicts),
        secrets={name: draw(secret_values) for name in env.secrets},
    )
    return Case(config, branch, src, dst, tuple(keys), (*ours, *noise), tuple(target), values)


# --------------------------------------------------------------------------- what travels


@given(cases())
def test_the_code_version_of_every_target_equals_the_sources(case: Case) -> None:
    plan = case.plan()

    assert sorted(c.flow_key for c in plan.changes) == sorted(case.keys)
    env = case.config.environment(case.dst).config
    for change in plan.changes:
        spec, source = change.spec, case.source(change.flow_key)
        assert spec.name == name_of(case.config, case.branch, change.flow_key, case.dst)
        assert spec.entrypoint == source.entrypoint
        assert spec.version == source.version
        # the flow name travels too, unless a same-named target deployment under another
        # flow is adopted in place (never two deployments with one name)
        assert spec.flow_name == (change.adopted_flow or source.flow_name)
        assert change.adopted_flow is None or change.current.flow_name == change.adopted_flow
        assert spec.pull_steps == source.pull_steps
        assert spec.parameter_schema == source.parameter_schema
        for key in (COMMIT_HASH, PACKAGE_VERSION, BRANCH_NAME, PROJECT_NAME):
            assert tag_value(spec.tags, key) == tag_value(source.tags, key)
        assert spec.version_tags == source.version_tags
        if pool_takes_image(env):
            assert spec.image == source.image
        else:
            assert "image" not in spec.job_variables


@given(cases())
def test_target_only_settings_come_from_the_target_config_and_never_from_the_source(case: Case) -> None:
    plan = case.plan()

    env = case.config.environment(case.dst).config
    for change in plan.changes:
        spec, source = change.spec, case.source(change.flow_key)
        static = case.config.flow_config(change.flow_key)
        expected_env = {**case.values.from_file, **env.env, **case.values.secrets,
                        "DEPLOYMENT_NAME": spec.name}
        assert dict(spec.env_vars) == expected_env
        leaked = (set(source.env_vars) - set(expected_env)) & set(spec.env_vars)
        assert not leaked
        assert not any(k.startswith(SOURCE_ONLY) for k in spec.env_vars if k not in expected_env)
        assert "source_only_setting" not in spec.job_variables or (
            "source_only_setting" in {**static.job_variables, **env.job_variables}
        )
        assert spec.secret_names == frozenset(env.secrets)
        assert spec.work_pool_name == (env.work_pool.name if env.work_pool else static.work_pool_name)
        assert spec.work_pool_name not in ("source-pool", "ecs-src")
        wanted_schedules = (
            (Schedule(static.cron, static.timezone or "UTC"),) if env.schedules and static.cron else ()
        )
        assert spec.schedules == wanted_schedules
        assert spec.parameters == static.parameters
        assert spec.concurrency_limit == static.concurrency_limit
        assert set(user_tags_of(spec.tags)) == {*static.tags, *env.tags}
        configured_paused = env.paused if env.paused is not None else static.paused
        if configured_paused is not None:
            assert spec.paused is configured_paused
        else:  # unset: a target paused in the UI stays paused, a new one starts unpaused
            assert spec.paused is bool(change.current.paused if change.current else False)


@given(cases(), st.data())
def test_promoted_spec_ignores_the_source_environments_settings(case: Case, data: st.DataObject) -> None:
    """Two sources with the same code version but different env settings promote alike."""
    key = case.keys[0]
    source = case.source(key)
    other_settings = data.draw(source_state(case.config, case.branch, key, case.src))
    same_code = attrs.evolve(
        other_settings,
        entrypoint=source.entrypoint, version=source.version, flow_name=source.flow_name,
        description=source.description, tags=source.tags, pull_steps=source.pull_steps,
        parameter_schema=source.parameter_schema,
        enforce_parameter_schema=source.enforce_parameter_schema,
        job_variables={**other_settings.job_variables, "image": source.image}
        if source.image else {k: v for k, v in other_settings.job_variables.items() if k != "image"},
    )

    dst = case.config.environment(case.dst)
    first = promoted_spec(source, key, case.config, case.branch, dst, case.values)
    second = promoted_spec(same_code, key, case.config, case.branch, dst, case.values)

    assert first == second


# --------------------------------------------------------------------------- idempotence, order


@given(cases())
def test_planning_against_the_applied_plan_is_all_unchanged(case: Case) -> None:
    target = InMemoryGateway()
    target.seed(case.target_states)
    plan = case.plan(target_states=target.read_deployments())

    results = target.apply([c.spec for c in plan.pending])
    assert all(r.ok for r in results)
    assert sorted(target.writes) == sorted(c.name for c in plan.pending)

    again = case.plan(target_states=target.read_deployments())
    assert [c.action for c in again.changes] == [Action.UNCHANGED] * len(case.keys)
    assert target.apply([c.spec for c in again.pending]) == []


@given(cases(), st.data())
def test_nothing_in_the_plan_depends_on_the_order_of_source_or_target_states(
    case: Case, data: st.DataObject
) -> None:
    shuffled_sources = data.draw(st.permutations(case.source_states))
    shuffled_targets = data.draw(st.permutations(case.target_states))

    assert case.plan(source_states=shuffled_sources, target_states=shuffled_targets) == case.plan()


# --------------------------------------------------------------------------- validation


def _config(**env_overrides: Any) -> ProjectConfig:
    pool = WorkPoolConfig("pool")
    envs = {name: EnvironmentConfig(work_pool=pool, env={"ENV": name}) for name in ENVS}
    envs.update(env_overrides)
    return ProjectConfig(
        project="acme", flows_root=".", image_template=None, promotion_path=ENVS,
        write_concurrency=2, environments=envs,
        flows={"etl": StaticFlowConfig(cron="0 1 * * *")},
    )


def _deployed(key: str, env: str, branch: str = "main", tags: tuple[str, ...] | None = None) -> DeployedState:
    version = VersionTags("acme", branch, "abc1234", "1.0.0")
    return DeployedState(
        name=DeploymentName.build("acme", branch, key, env).format(),
        flow_name=key.replace("_", "-"), entrypoint=f"flows/{key}.py:{key}", version="1.0.0+abc1234",
        tags=version.to_tags() if tags is None else tags, work_pool_name="pool", paused=False,
        job_variables={"env": {"ENV": env}, "image": "registry/acme:main-abc1234"}, id=f"id-{key}",
    )


SOURCES = (_deployed("etl", "dev"), _deployed("report", "dev"), _deployed("etl", "uat"), _deployed("etl", "prod"))


def _promote(src: str, dst: str, flows: list[str] | None = None, force: bool = False,
             sources: tuple[DeployedState, ...] = SOURCES, config: ProjectConfig | None = None,
             values: EnvValues | None = None) -> Plan:
    return plan_promotion(config or _config(), src, dst, "main", flows or [], sources, [],
                          values or EnvValues(), force)


@pytest.mark.parametrize("src", ENVS)
@pytest.mark.parametrize("dst", ENVS)
@pytest.mark.parametrize("force", [False, True])
def test_promotion_goes_one_step_along_the_path_unless_forced(src: str, dst: str, force: bool) -> None:
    allowed = src != dst and (force or ENVS.index(dst) == ENVS.index(src) + 1)
    if allowed:
        plan = _promote(src, dst, ["etl"], force=force)
        assert [c.name for c in plan.changes] == [f"acme--main--etl--{dst}"]
        assert plan.source_env == src
    else:
        with pytest.raises(PlanError) as raised:
            _promote(src, dst, ["etl"], force=force)
        assert len(raised.value.problems) == 1
        assert repr(src) in raised.value.problems[0] and repr(dst) in raised.value.problems[0]


def test_dev_to_prod_is_refused_without_force_and_names_the_next_step() -> None:
    with pytest.raises(PlanError) as raised:
        _promote("dev", "prod", ["etl"])
    (problem,) = raised.value.problems
    assert "'uat'" in problem and "--force" in problem

    assert _promote("dev", "prod", ["etl"], force=True).changes[0].name == "acme--main--etl--prod"


@pytest.mark.parametrize(("src", "dst"), [("prd", "uat"), ("dev", "stage"), ("qa", "dev")])
def test_an_unknown_environment_fails_the_plan(src: str, dst: str) -> None:
    with pytest.raises(PlanError) as raised:
        _promote(src, dst, ["etl"], force=True)
    unknown = src if src not in ENVS else dst
    assert any(f"unknown environment {unknown!r}" in p for p in raised.value.problems)


def test_an_unknown_environment_gets_a_did_you_mean() -> None:
    with pytest.raises(PlanError) as raised:
        _promote("dev", "uta", ["etl"])
    assert "did you mean 'uat'" in raised.value.problems[0]


@given(
    present=st.lists(st.sampled_from(["etl", "report"]), unique=True),
    missing=st.lists(flow_keys.filter(lambda k: k not in ("etl", "report")), unique=True, min_size=1,
                     max_size=4),
    order=st.randoms(use_true_random=False),
)
def test_flows_missing_in_the_source_fail_the_whole_plan_one_line_each(
    present: list[str], missing: list[str], order: Any
) -> None:
    requested = [*present, *missing]
    order.shuffle(requested)

    with pytest.raises(PlanError) as raised:
        _promote("dev", "uat", requested)

    problems = raised.value.problems
    assert len(problems) == len(missing)
    for key in missing:
        assert sum(repr(key) in p for p in problems) == 1
    assert all("has no deployment in 'dev'" in p for p in problems)
    assert str(raised.value) == "; ".join(problems)


def test_every_kind_of_problem_is_listed_together() -> None:
    config = _config(prod=EnvironmentConfig(work_pool=WorkPoolConfig("pool"), secrets=["TOKEN"]))
    untagged = attrs.evolve(_deployed("report", "dev"), tags=("team=data",))

    with pytest.raises(PlanError) as raised:
        _promote("dev", "prod", ["etl", "report", "ghost"], config=config,
                 sources=(_deployed("etl", "dev"), untagged))

    problems = raised.value.problems
    assert len(problems) == 4, problems
    assert "skips or reverses the promotion path" in problems[0]
    assert any("'ghost' has no deployment in 'dev'" in p for p in problems)
    assert any("'TOKEN'" in p and "not set" in p for p in problems)
    assert any("acme--main--report--dev has no version tags" in p for p in problems)


@pytest.mark.parametrize("dropped", [COMMIT_HASH, PACKAGE_VERSION, BRANCH_NAME, PROJECT_NAME])
def test_a_source_without_version_tags_fails(dropped: str) -> None:
    tags = tuple(t for t in _deployed("etl", "dev").tags if not t.startswith(f"{dropped}="))
    sources = (_deployed("etl", "dev", tags=tags), _deployed("report", "dev"))

    with pytest.raises(PlanError) as raised:
        _promote("dev", "uat", ["etl", "report"], sources=sources)

    (problem,) = raised.value.problems
    assert problem.startswith("acme--main--etl--dev has no version tags")


def test_all_flows_with_nothing_deployed_in_the_source_fails() -> None:
    with pytest.raises(PlanError) as raised:
        _promote("dev", "uat", [], sources=(_deployed("etl", "uat"),))
    assert raised.value.problems == [
        "nothing of project 'acme' on branch 'main' is deployed in 'dev'"
    ]


def test_all_flows_promotes_every_flow_of_this_project_and_branch_only() -> None:
    sources = (*SOURCES, _deployed("etl", "dev", branch="feature/x"),
               attrs.evolve(_deployed("etl", "dev"), name="other--main--etl--dev"))

    plan = _promote("dev", "uat", ["all"], sources=sources)

    assert [c.name for c in plan.changes] == ["acme--main--etl--uat", "acme--main--report--uat"]
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.CREATE]


def test_a_flow_asked_for_twice_or_by_its_original_name_is_promoted_once() -> None:
    plan = _promote("dev", "uat", ["etl", "etl ", "report", "report!"])
    assert [c.flow_key for c in plan.changes] == ["etl", "report"]


def test_a_promotion_shows_the_version_change_and_redacts_secrets() -> None:
    config = _config(uat=EnvironmentConfig(work_pool=WorkPoolConfig("pool", type="docker"),
                                           env={"ENV": "uat"}, secrets=["TOKEN"]))
    before = attrs.evolve(
        _deployed("etl", "uat"), version="0.9.0+old1234",
        tags=VersionTags("acme", "main", "old1234", "0.9.0").to_tags(),
        job_variables={"env": {"ENV": "uat", "TOKEN": "old-token-value",
                               "DEPLOYMENT_NAME": "acme--main--etl--uat"},
                       "image": "registry/acme:main-old1234"},
        schedules=(Schedule("0 1 * * *"),),
    )
    plan = plan_promotion(config, "dev", "uat", "main", ["etl"], SOURCES, [before],
                          EnvValues(secrets={"TOKEN": "new-token-value"}))

    (change,) = plan.changes
    rendered = [f.render() for f in change.fields]
    assert change.action is Action.UPDATE
    assert "version: 0.9.0+old1234 -> 1.0.0+abc1234" in rendered
    assert "job_variables.image: registry/acme:main-old1234 -> registry/acme:main-abc1234" in rendered
    assert "env.TOKEN: <secret> -> <secret>" in rendered
    assert not any("token-value" in line for line in rendered)


def test_two_source_deployments_with_one_name_are_refused_not_picked_by_order() -> None:
    """Deployments are unique per (flow, name): renaming a flow leaves a stale twin behind."""
    current = _deployed("etl", "dev")
    stale = attrs.evolve(current, flow_name="old-etl-name", version="0.1.0+stale00",
                         tags=VersionTags("acme", "main", "stale00", "0.1.0").to_tags(), id="id-stale")

    for order in ((current, stale), (stale, current)):
        with pytest.raises(PlanError) as raised:
            _promote("dev", "uat", ["etl"], sources=order)
        (problem,) = raised.value.problems
        assert "acme--main--etl--dev" in problem
        assert "'etl'" in problem and "'old-etl-name'" in problem


@pytest.mark.parametrize(("asked", "deployed"), [("feature/x", "feature-x"), ("feature-x", "feature/x"),
                                                ("feature x", "feature/x")])
def test_a_source_of_another_branch_that_slugs_alike_is_refused(asked: str, deployed: str) -> None:
    """`feature/x` and `feature-x` share deployment names; the tags tell whose code it is."""
    sources = (_deployed("etl", "dev", branch=deployed),)
    assert DeploymentName.parse(sources[0].name) == DeploymentName.build("acme", asked, "etl", "dev")

    with pytest.raises(PlanError) as raised:
        plan_promotion(_config(), "dev", "uat", asked, ["etl"], sources, [], EnvValues())

    (problem,) = raised.value.problems
    assert f"holds branch {deployed!r}, not {asked!r}" in problem
    assert plan_promotion(_config(), "dev", "uat", deployed, ["etl"], sources, [], EnvValues()).changes


def test_the_target_pool_decides_whether_the_image_travels() -> None:
    process = _config(uat=EnvironmentConfig(work_pool=WorkPoolConfig("pool", type="process")))
    docker = _config(uat=EnvironmentConfig(work_pool=WorkPoolConfig("pool", type="docker")))

    assert _promote("dev", "uat", ["etl"], config=process).changes[0].spec.image is None
    assert (_promote("dev", "uat", ["etl"], config=docker).changes[0].spec.image
            == "registry/acme:main-abc1234")


@given(tag_values, tag_values)
def test_version_tag_values_with_equals_spaces_and_unicode_travel_exactly(commit: str, version: str) -> None:
    assume(commit != "abc1234")
    tags = VersionTags("acme", "main", commit, version).to_tags()
    source = attrs.evolve(_deployed("etl", "dev"), tags=tags)

    (change,) = _promote("dev", "uat", ["etl"], sources=(source,)).changes

    assert change.spec.version_tags == VersionTags("acme", "main", commit, version)


def test_a_plan_made_from_target_states_that_match_is_unchanged() -> None:
    first = _promote("dev", "uat", ["etl", "report"])
    target = InMemoryGateway()
    target.apply([c.spec for c in first.pending])

    again = plan_promotion(_config(), "dev", "uat", "main", ["all"], SOURCES,
                           target.read_deployments(), EnvValues())

    assert again.summary() == "0 to create, 0 to update, 2 unchanged"
    assert make_plan("uat", [c.spec for c in again.changes], target.read_deployments()).pending == ()
