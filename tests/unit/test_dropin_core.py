"""Rules behind `flowportal init`, the seed SDK's CLI and the extension's records (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_core.config import ProjectConfig, StaticFlowConfig, build_environments
from portal_core.env_file import render_env_file
from portal_core.errors import ConfigError, PlanError
from portal_core.flows import FlowRecord
from portal_core.github import deploy_inputs, parse_input_names, promote_inputs
from portal_core.naming_style import flow_name_for, tags_for, version_for
from portal_core.scaffold import (
    InitConfig,
    RepoFacts,
    decide,
    detect_flows_root,
    file_actions,
    github_route,
    import_module_for,
    planned_files,
    render_sdk_module,
)
from portal_core.sdk_compat import (
    name_part,
    one_per_slot,
    parse_flows_arg,
    sdk_project_config,
    select_flow_records,
)
from portal_core.tags import VersionTags

ident = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
names = st.lists(ident, min_size=1, max_size=4, unique=True)


# ------------------------------------------------------------------ init


def test_flows_root_is_the_package_in_a_src_layout_and_ignores_tests():
    paths = ["src/acme/flows/a.py", "src/acme/flows/sub/b.py", "tests/test_x.py"]
    assert detect_flows_root(paths) == "src/acme"
    assert detect_flows_root(["acme/flows/a.py", "docs/example.py"]) == "acme"


def test_flows_in_two_packages_or_at_the_root_give_the_whole_repository():
    assert detect_flows_root(["one/a.py", "two/b.py"]) == "."
    assert detect_flows_root(["flow.py"]) == "."
    assert detect_flows_root([]) == "."


@given(package=ident, folders=st.lists(ident, max_size=3), module=ident)
def test_every_flow_lies_under_the_detected_root(package, folders, module):
    path = "/".join(["src", package, *folders, f"{module}.py"])
    root = detect_flows_root([path])
    assert path.startswith(root + "/")
    assert import_module_for(path, "src") == ".".join([package, *folders, module])


def test_src_is_not_part_of_the_import_path_but_a_flat_layout_keeps_its_folders():
    assert import_module_for("src/acme/flows/x.py", "src") == "acme.flows.x"
    assert import_module_for("acme/flows/__init__.py", "") == "acme.flows"


def facts(**changes) -> RepoFacts:
    base = {"directory_name": "repo", "pyproject_name": "acme_prefect",
            "flow_paths": ("src/acme_prefect/flows/x.py",), "existing": frozenset()}
    return RepoFacts(**{**base, **changes})


def test_a_repository_that_used_the_sdk_keeps_its_naming_and_static_config():
    config = decide(facts(uses_acme_portal_sdk=True,
                          existing=frozenset({".acme_portal_sdk/static_flow_deploy_config.yaml"})))
    assert config.flow_name_style == "sdk"
    assert config.project == "acme-prefect"  # as the SDK's CLI turned `_` into `-`
    text = dict(planned_files(config, acme_portal=False))["config/environments.yaml"]
    assert "static_config: .acme_portal_sdk/static_flow_deploy_config.yaml" in text
    assert "flow_name_style: sdk" in text


def test_the_written_environments_file_is_valid_config():
    from ruamel.yaml import YAML

    config = decide(facts())
    text = dict(planned_files(config, acme_portal=True))["config/environments.yaml"]
    value = build_environments(YAML(typ="safe").load(text), None)
    assert value.project == "acme_prefect" and value.flows_root == "src/acme_prefect"
    assert value.promotion_path == ["dev", "uat", "prod"]
    assert value.environments["dev"].work_pool is not None
    assert value.environments["dev"].work_pool.create is True


@given(existing=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=5)),
       planned=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=5)),
       force=st.booleans())
def test_init_never_overwrites_without_force_and_a_rerun_writes_nothing(existing, planned, force):
    actions = file_actions(list(planned.items()), dict(existing), force)
    after = dict(existing)
    for action in actions:
        if action.action in ("create", "overwrite"):
            after[action.path] = planned[action.path]
        if not force:
            assert action.action != "overwrite"
    again = file_actions(list(planned.items()), after, force)
    assert all(a.action in ("unchanged", "kept") for a in again)


def test_an_sdk_github_module_keeps_its_route_and_ours_reads_back_the_same():
    theirs = 'deploy = GithubActionsDeployWorkflow(workflow_file="deploy.yml")'
    route = github_route("flow_deploy", theirs)
    assert route is not None and (route.workflow, route.inputs) == ("deploy.yml", "sdk")
    ours = render_sdk_module("flow_deploy", route)
    assert github_route("flow_deploy", ours) == route
    assert github_route("flow_deploy", render_sdk_module("flow_deploy")) is None


def test_sdk_modules_written_by_init_name_the_sdk_variable_of_each_object():
    config = InitConfig(project="p", flows_root=".", static_config=None, flow_name_style="prefect")
    files = dict(planned_files(config, acme_portal=True))
    assert "flow_finder = FlowportalFlowFinder(ROOT)" in files[".acme_portal_sdk/flow_finder.py"]
    assert "promote = FlowportalPromoteWorkflow(ROOT)" in files[".acme_portal_sdk/deployment_promote.py"]


# ------------------------------------------------------------------ naming style


def flow(original: str, function: str, explicit: bool) -> FlowRecord:
    return FlowRecord(key=original.replace("-", "_"), original_name=original, function_name=function,
                      description="", relative_path="f.py", line_number=1,
                      has_explicit_name=explicit)


@given(function=ident)
def test_sdk_flow_names_are_underscored_prefect_ones_hyphenated(function):
    record = flow(function, function, explicit=False)
    assert flow_name_for("sdk", record) == function
    assert flow_name_for("prefect", record) == function.replace("_", "-")


def test_sdk_flow_name_follows_an_explicit_name():
    assert flow_name_for("sdk", flow("hello-dw", "main", explicit=True)) == "hello_dw"


@given(project=ident, branch=ident, commit=ident, version=ident)
def test_sdk_tags_are_exactly_the_four_version_tags_and_version_is_branch_commit(
        project, branch, commit, version):
    tags = VersionTags(project, branch, commit, version)
    assert tags_for("sdk", tags, ()) == (f"PROJECT_NAME={project}", f"BRANCH_NAME={branch}",
                                         f"COMMIT_HASH={commit}", f"PACKAGE_VERSION={version}")
    assert "MANAGED_BY=flowportal" in tags_for("prefect", tags, ())
    assert version_for("sdk", tags) == f"{branch}-{commit}"
    assert VersionTags.from_tags(tags_for("sdk", tags, ("team=x",))) == tags


def test_an_unknown_flow_name_style_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'sdk'"):
        build_environments({"environments": {"dev": {}}, "flow_name_style": "sdkk"}, "p")


# ------------------------------------------------------------------ env file


def test_env_file_placeholders():
    assert render_env_file("{app}.{env}.{ver}.env", "dev", "proj", {"app": "acme", "ver": "3"}) == \
        "acme.dev.3.env"
    assert render_env_file("config/{app}.{env}.env", "uat", "proj") == "config/proj.uat.env"
    with pytest.raises(ConfigError, match=r"\{ver\} but no value"):
        render_env_file("{app}.{env}.{ver}.env", "dev", "proj")
    with pytest.raises(ConfigError, match=r"uses \{region\}"):
        render_env_file("{region}.env", "dev", "proj")


# ------------------------------------------------------------------ the SDK's CLI


@given(flows=names)
def test_flows_to_deploy_comma_list_round_trips(flows):
    assert parse_flows_arg(",".join(flows)) == tuple(flows)
    assert parse_flows_arg(" , ".join(flows)) == tuple(flows)


def test_flows_to_deploy_all_and_bad_lists():
    assert parse_flows_arg("all") == ("all",)
    for bad in ("", "a,,b", ","):
        with pytest.raises(PlanError):
            parse_flows_arg(bad)


@given(value=st.text(max_size=12))
def test_name_part_is_what_the_sdk_parser_did(value):
    assert name_part(value) == value.replace("_", "-")
    assert "_" not in name_part(value)


def test_sdk_config_gives_every_flow_the_sdks_defaults_and_keeps_static_overrides():
    static = {"a": StaticFlowConfig(work_pool_name="p1", concurrency_limit=3)}
    config: ProjectConfig = sdk_project_config("acme_prefect", "src/acme", ["dev", "tst"], static,
                                               ["a", "b"])
    assert config.project == "acme-prefect" and config.flow_name_style == "sdk"
    assert config.flows["a"].work_pool_name == "p1" and config.flows["a"].concurrency_limit == 3
    assert config.flows["b"].work_pool_name == "ecs-pool" and config.flows["b"].concurrency_limit == 1
    assert config.flows["b"].paused is False
    assert config.environment("tst").config.env_file == "{app}.{env}.{ver}.env"
    assert config.environment("dev").config.work_pool is None  # so the static pool applies


# ------------------------------------------------------------------ the extension's records

slot_records = st.lists(st.fixed_dictionaries({
    "flow_name": st.sampled_from(["a", "b"]), "branch": st.sampled_from(["main", "x"]),
    "env": st.sampled_from(["dev", "uat"]), "updated_at": st.sampled_from(["2026-01-01", "2026-02-01"]),
    "id": st.uuids().map(str)}), max_size=12)


@given(records=slot_records)
def test_one_deployment_per_slot_and_it_is_the_newest(records):
    kept = one_per_slot(records)
    slots = [(r["flow_name"], r["branch"], r["env"]) for r in kept]
    assert len(slots) == len(set(slots))
    assert set(slots) == {(r["flow_name"], r["branch"], r["env"]) for r in records}
    for record in kept:
        same = [r for r in records if (r["flow_name"], r["branch"], r["env"]) ==
                (record["flow_name"], record["branch"], record["env"])]
        assert record["updated_at"] == max(r["updated_at"] for r in same)


def test_flow_records_selected_by_name_and_file_or_by_group():
    records = [{"name": "a", "source_relative": "x/a.py", "grouping": ["x"]},
               {"name": "a", "source_relative": "y/a.py", "grouping": ["y"]},
               {"name": "b", "source_relative": "y/b.py", "grouping": ["y"]}]
    assert select_flow_records(records, None, None) == records
    assert select_flow_records(records, [("a", "y/a.py")], None) == [records[1]]
    assert select_flow_records(records, None, ["y"]) == records[1:]


# ------------------------------------------------------------------ dispatch inputs


@given(flows=names, env=ident)
def test_sdk_preset_sends_a_comma_list_and_env_label(flows, env):
    sdk = parse_input_names("sdk")
    assert deploy_inputs(flows, env, "main", names=sdk) == {"flows-to-deploy": ",".join(flows),
                                                            "env-label": env}
    assert promote_inputs(flows, "dev", "tst", None, False, names=sdk) == {
        "flows-to-deploy": ",".join(flows), "source-env": "dev", "target-env": "tst"}


def test_default_inputs_are_unchanged_and_bad_specs_are_refused():
    assert deploy_inputs(["a"], "dev", "main") == {"flows": '["a"]', "env": "dev"}
    assert promote_inputs([], "dev", "tst", None, False, names=parse_input_names("sdk")) == {
        "flows-to-deploy": "all", "source-env": "dev", "target-env": "tst"}
    for bad in ("nope", "colour=x", "format=xml"):
        with pytest.raises(PlanError):
            parse_input_names(bad)


# ------------------------------------------------------------------ the SDK's triggers mapping


def test_the_sdks_triggers_mapping_is_accepted_as_prefects_list_form():
    from portal_core.config import build_static_flows

    event = {"expect": ["prefect.flow-run.Completed"], "match": {"prefect.resource.id": "prefect.flow-run.*"}}
    metric = {"metric": {"name": "lateness", "threshold": 60, "operator": ">"}}
    sdk = build_static_flows({"hello_world": {"triggers": {
        "DeploymentEventTrigger": event, "DeploymentMetricTrigger": metric}}})
    prefect = build_static_flows({"hello_world": {"triggers": [
        {"type": "event", **event}, {"type": "metric", **metric}]}})
    assert sdk["hello_world"].triggers == prefect["hello_world"].triggers
    assert [t["trigger"]["type"] for t in sdk["hello_world"].triggers] == ["event", "metric"]


def test_an_unknown_trigger_class_names_the_key_and_the_known_ones():
    from portal_core.config import build_static_flows

    with pytest.raises(ConfigError) as caught:
        build_static_flows({"hello_world": {"triggers": {"DeploymentEventTriger": {}}}})
    assert caught.value.path == ("hello_world", "triggers", "DeploymentEventTriger")
    assert "did you mean 'DeploymentEventTrigger'" in caught.value.message
