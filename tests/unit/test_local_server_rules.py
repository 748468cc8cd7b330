"""The embedded server's lifecycle decisions, checked without starting any process."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portal_io.local_server import rules
from portal_io.local_server.record import ServerRecord, StaleRecord, parse_record
from portal_io.local_server.rules import (
    DEFAULT_PORT,
    Identity,
    ProcessFacts,
    Verdict,
    argv_option,
    choose_port,
    database_label,
    decide_recorded,
    decide_stop,
    identify,
    is_server_command,
    port_candidates,
    server_environment,
)

PROPS = settings(max_examples=300, deadline=None)
HOME = "/work/project/.portal/server/home"
OTHER_HOME = "/work/copy/.portal/server/home"
PY = "/venv/bin/python"

ports = st.integers(min_value=1, max_value=65535)
small_ports = st.sampled_from([4200, 4201, 5000, 8080, 41234])


def server_argv(port: int, host: str = "127.0.0.1") -> tuple[str, ...]:
    return (PY, "-m", "prefect", "server", "start", "--host", host, "--port", str(port))


@st.composite
def argvs(draw: st.DrawFn) -> tuple[str, ...] | None:
    """Command lines a recorded pid may turn out to run: ours on some port, near misses, junk."""
    port = draw(small_ports)
    return draw(
        st.sampled_from(
            [
                None,
                (),
                server_argv(port),
                ("/usr/bin/prefect", "server", "start", "--port", str(port)),
                (PY, "-m", "prefect", "worker", "start", "--port", str(port)),
                (PY, "-c", "import time; time.sleep(60)"),
                (PY, "-m", "prefect", "server", "start"),
                ("bash", "-c", f"prefect server start --port {port}"),
                ("/bin/sleep", "60"),
            ]
        )
    )


facts_strategy = st.builds(
    ProcessFacts,
    alive=st.booleans(),
    argv=argvs(),
    prefect_home=st.sampled_from([None, HOME, OTHER_HOME]),
)


def proves_ours(facts: ProcessFacts, port: int) -> bool:
    """The independent statement of 'this pid is the server the record describes'."""
    return (
        facts.alive
        and facts.argv is not None
        and is_server_command(facts.argv, port)
        and facts.prefect_home in (None, HOME)
    )


# ------------------------------------------------------------------ identity


def test_identify_examples() -> None:
    assert identify(ProcessFacts(False, server_argv(4300), HOME), 4300, HOME) is Identity.GONE
    assert identify(ProcessFacts(True, None, None), 4300, HOME) is Identity.UNKNOWN
    assert identify(ProcessFacts(True, server_argv(4300), HOME), 4300, HOME) is Identity.OURS
    assert identify(ProcessFacts(True, server_argv(4300), None), 4300, HOME) is Identity.OURS
    # a copied project's record: same command line, another project's home
    assert identify(ProcessFacts(True, server_argv(4300), OTHER_HOME), 4300, HOME) is Identity.FOREIGN
    # the pid was recycled by something else, or it is another project's server on another port
    assert identify(ProcessFacts(True, ("/bin/sleep", "60"), None), 4300, HOME) is Identity.FOREIGN
    assert identify(ProcessFacts(True, server_argv(4301), HOME), 4300, HOME) is Identity.FOREIGN
    assert identify(ProcessFacts(True, (), None), 4300, HOME) is Identity.FOREIGN


def test_server_command_and_option_parsing() -> None:
    assert is_server_command(server_argv(4242), 4242)
    assert is_server_command(("/x/bin/prefect", "server", "start", "--port", "4242"), 4242)
    assert not is_server_command(server_argv(4242), 4243)
    assert not is_server_command(("python", "server", "start", "--port", "4242"), 4242)
    assert not is_server_command(("prefect", "start", "server", "--port", "4242"), 4242)
    assert argv_option(server_argv(4242, "::1"), "--host") == "::1"
    assert argv_option(server_argv(4242), "--port") == "4242"
    assert argv_option(("prefect", "--port"), "--port") is None


@PROPS
@given(facts=facts_strategy, port=small_ports, healthy=st.booleans(),
       requested=st.one_of(st.none(), small_ports), same_db=st.booleans())
def test_never_signals_a_pid_the_record_does_not_prove_ours(
    facts: ProcessFacts, port: int, healthy: bool, requested: int | None, same_db: bool
) -> None:
    identity = identify(facts, port, HOME)
    decision = decide_recorded(
        identity=identity, healthy=healthy, pid=1234, url=f"http://127.0.0.1:{port}/api",
        recorded_port=port, requested_port=requested,
        recorded_database="sqlite", requested_database="sqlite" if same_db else "postgresql://u@h/db",
    )
    if decision.signal:
        assert proves_ours(facts, port)
        assert decision.verdict is Verdict.REPLACE
    if decide_stop(identity):
        assert proves_ours(facts, port)
    if not proves_ours(facts, port):
        assert not decision.signal and not decide_stop(identity)


@PROPS
@given(facts=facts_strategy, port=small_ports, healthy=st.booleans(),
       requested=st.one_of(st.none(), small_ports), same_db=st.booleans())
def test_reuse_only_a_live_healthy_server_run_as_asked(
    facts: ProcessFacts, port: int, healthy: bool, requested: int | None, same_db: bool
) -> None:
    identity = identify(facts, port, HOME)
    decision = decide_recorded(
        identity=identity, healthy=healthy, pid=1234, url="u", recorded_port=port, requested_port=requested,
        recorded_database="sqlite", requested_database="sqlite" if same_db else "postgresql://u@h/db",
    )
    if decision.verdict is Verdict.REUSE:
        assert identity in (Identity.OURS, Identity.UNKNOWN) and healthy
        assert requested in (None, port) and same_db
    if identity in (Identity.GONE, Identity.FOREIGN):
        assert decision.verdict is Verdict.REPLACE
    if decision.verdict is Verdict.REFUSE:
        assert "stop it first" in decision.reason
    # every non-reuse says why, for the notice or the error
    assert (decision.verdict is Verdict.REUSE) == (decision.reason == "")


def test_unhealthy_ours_is_stopped_unknown_only_forgotten() -> None:
    common = {"healthy": False, "pid": 7, "url": "http://127.0.0.1:4300/api", "recorded_port": 4300,
              "requested_port": None, "recorded_database": "sqlite", "requested_database": "sqlite"}
    ours = decide_recorded(identity=Identity.OURS, **common)  # type: ignore[arg-type]
    assert ours.verdict is Verdict.REPLACE and ours.signal
    assert "does not answer http://127.0.0.1:4300/api/health" in ours.reason
    unknown = decide_recorded(identity=Identity.UNKNOWN, **common)  # type: ignore[arg-type]
    assert unknown.verdict is Verdict.REPLACE and not unknown.signal


# ---------------------------------------------------------------------- ports


@PROPS
@given(requested=st.one_of(st.none(), small_ports), recorded=st.one_of(st.none(), small_ports),
       busy=st.frozensets(small_ports), spare=st.integers(min_value=30000, max_value=60999))
def test_port_choice_laws(requested: int | None, recorded: int | None, busy: frozenset[int], spare: int) -> None:
    assume(spare not in busy)
    choice = choose_port(requested=requested, recorded=recorded, busy=busy, spare=spare, host="127.0.0.1")
    if choice.port is None:
        assert requested is not None and requested in busy and choice.error
        return
    assert choice.port not in busy
    assert choice.error is None
    if requested is not None:
        assert choice.port == requested and choice.notice is None
        return
    wanted = recorded if recorded is not None else DEFAULT_PORT
    assert (choice.port == wanted) == (choice.notice is None)
    # A busy recorded port is never "solved" by taking Prefect's shared default.
    if recorded is not None and recorded != DEFAULT_PORT and recorded in busy:
        assert choice.port == spare != DEFAULT_PORT
    # The default is only taken by a project with no other history.
    if choice.port == DEFAULT_PORT:
        assert recorded in (None, DEFAULT_PORT)


@given(requested=st.one_of(st.none(), ports), recorded=st.one_of(st.none(), ports))
def test_candidates_are_exactly_the_ports_the_choice_may_take_without_a_spare(
    requested: int | None, recorded: int | None
) -> None:
    candidates = port_candidates(requested, recorded)
    choice = choose_port(requested=requested, recorded=recorded, busy=frozenset(), spare=1, host="h")
    assert candidates == (choice.port,)


def test_port_choice_examples() -> None:
    taken = frozenset({DEFAULT_PORT})
    fresh = choose_port(requested=None, recorded=None, busy=taken, spare=41000, host="127.0.0.1")
    assert fresh.port == 41000
    assert fresh.notice == "port 4200 on 127.0.0.1 is in use by another process; using port 41000 instead"
    assert choose_port(requested=None, recorded=None, busy=frozenset(), spare=1, host="h").port == DEFAULT_PORT
    moved = choose_port(requested=None, recorded=5000, busy=frozenset({5000}), spare=41000, host="h")
    assert moved.port == 41000  # not 4200, although 4200 is free
    refused = choose_port(requested=5000, recorded=None, busy=frozenset({5000}), spare=41000, host="127.0.0.1")
    assert refused.port is None
    assert refused.error == "port 5000 on 127.0.0.1 is in use by another process; pass --port or stop it"


# ---------------------------------------------------------------- environment

env_names = st.one_of(
    st.sampled_from(["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "WAREHOUSE_PASSWORD",
                     "AWS_SECRET_ACCESS_KEY", "PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE",
                     "GITHUB_TOKEN", "PYTHONPATH", "LD_PRELOAD", "http_proxy", "PATHX", "XLC_ALL"]),
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True),
)
env_maps = st.dictionaries(env_names, st.text(max_size=8), max_size=12)


@PROPS
@given(caller=env_maps, settings_=env_maps.filter(lambda d: "PATH" not in d))
def test_server_environment_is_an_allow_list_plus_our_settings(
    caller: dict[str, str], settings_: dict[str, str]
) -> None:
    env = server_environment(caller, settings_)
    for name, value in env.items():
        if name in settings_:
            assert value == settings_[name]
        else:
            assert name in rules.PASSED_ENV_NAMES or name.startswith("LC_")
            assert value == caller[name]
    for name in ("PATH", "HOME", "LANG", "TMPDIR", "LC_ALL"):
        if name in caller and name not in settings_:
            assert env[name] == caller[name]
    assert set(settings_) <= set(env)


def test_secrets_and_foreign_prefect_settings_stay_out() -> None:
    caller = {"PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "LC_ALL": "C", "TMPDIR": "/tmp/x",
              "WAREHOUSE_PASSWORD": "hunter2", "PREFECT_API_URL": "https://api.prefect.cloud/x",
              "PREFECT_API_KEY": "pnu_secret"}
    env = server_environment(caller, {"PREFECT_HOME": "/s/home"})
    assert env == {"PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "LC_ALL": "C",
                   "TMPDIR": "/tmp/x", "PREFECT_HOME": "/s/home"}


@given(user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
       password=st.from_regex(r"[A-Za-z0-9]{6,16}", fullmatch=True))
def test_database_label_never_holds_the_password(user: str, password: str) -> None:
    assume(password not in f"postgresql+asyncpg://{user}:@127.0.0.1:5432/prefect")
    label = database_label(f"postgresql+asyncpg://{user}:{password}@127.0.0.1:5432/prefect")
    assert password not in label
    assert label.startswith(f"postgresql+asyncpg://{user}:") and label.endswith("@127.0.0.1:5432/prefect")
    assert database_label(None) == "sqlite"


# --------------------------------------------------------------------- record


@given(st.one_of(st.text(max_size=40), st.builds(json.dumps, st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["pid", "port", "url", "host", "x"]), inner, max_size=5)),
    max_leaves=8))))
def test_any_record_text_parses_or_is_reported_stale(text: str) -> None:
    try:
        record = parse_record(text, Path("server.json"))
    except StaleRecord as exc:
        assert str(exc).startswith("unreadable server record server.json: ")
        return
    assert record.pid > 0 and 0 < record.port < 65536


@given(pid=st.integers(min_value=1, max_value=2**22), port=ports,
       database=st.sampled_from(["sqlite", "postgresql+asyncpg://u:<secret>@h/db"]))
def test_record_round_trips(pid: int, port: int, database: str) -> None:
    record = ServerRecord(pid, port, f"http://127.0.0.1:{port}/api", "2026-01-01T00:00:00+00:00",
                          "127.0.0.1", database)
    assert parse_record(json.dumps(record.to_json()), Path("s")) == record


def test_old_records_without_database_mean_sqlite() -> None:
    text = json.dumps({"pid": 5, "port": 4300, "url": "http://127.0.0.1:4300/api"})
    assert parse_record(text, Path("s")).database == "sqlite"


# --------------------------------------------------------------------- purity

IO_MODULES = ("os", "pathlib", "subprocess", "socket", "fcntl", "signal", "time", "urllib", "http",
              "io", "tempfile", "shutil", "prefect", "httpx", "datetime")


def io_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    return sorted(m for m in imported if m.split(".")[0] in IO_MODULES)


def test_rules_module_does_no_io() -> None:
    assert io_imports(Path(rules.__file__)) == []
    assert "open(" not in Path(rules.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize("line", ["import os.path", "from subprocess import run", "import datetime as dt"])
def test_purity_check_would_notice(tmp_path: Path, line: str) -> None:
    sample = tmp_path / "s.py"
    sample.write_text(line + "\n")
    assert io_imports(sample) != []
