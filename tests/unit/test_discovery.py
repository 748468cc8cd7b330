"""Flow discovery from source text (portal_core.discovery).

Each discovery defect of the seed SDK has an example
here (bare `@flow`, `async def`, aliases, `@app.flow`, unstable ids, no line
numbers), and the laws that must hold for every input are hypothesis
properties.
"""

from __future__ import annotations

import keyword
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_core.discovery import (
    Discovery,
    ParseResult,
    SourceError,
    could_contain_flow,
    could_contain_flow_bytes,
    discover,
    docstring_summary,
    flow_to_record,
    grouping_for,
    module_path,
    parse_flows,
)
from portal_core.errors import DiscoveryError
from portal_core.names import normalize_flow_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discovery"


def parse(source: str, path: str = "pkg/mod.py", source_root: str = "") -> ParseResult:
    return parse_flows(path, textwrap.dedent(source), source_root)


def keys(source: str) -> list[str]:
    result = parse(source)
    assert result.error is None, result.error
    return [f.key for f in result.flows]


def assert_def_lines(result: ParseResult, text: str) -> None:
    lines = text.splitlines()
    for flow in result.flows:
        line = lines[flow.line_number - 1].lstrip()
        assert line.startswith(("def ", "async def ")), (flow, line)
        assert f"def {flow.function_name}(" in line


# --- decorator styles ------------------------------------------------------------------

STYLES = {
    "bare": "from prefect import flow\n\n@flow\ndef target(): ...\n",
    "called": "from prefect import flow\n\n@flow(retries=2)\ndef target(): ...\n",
    "module": "import prefect\n\n@prefect.flow\ndef target(): ...\n",
    "module_called": "import prefect\n\n@prefect.flow(log_prints=True)\ndef target(): ...\n",
    "alias": "from prefect import flow as pflow\n\n@pflow\ndef target(): ...\n",
    "alias_called": "from prefect import flow as pflow\n\n@pflow()\ndef target(): ...\n",
    "module_alias": "import prefect as pf\n\n@pf.flow\ndef target(): ...\n",
    "module_alias_called": "import prefect as pf\n\n@pf.flow(name='target')\ndef target(): ...\n",
    "flows_module": "from prefect.flows import flow\n\n@flow\ndef target(): ...\n",
    "flows_submodule": "import prefect.flows\n\n@prefect.flows.flow\ndef target(): ...\n",
    "flows_submodule_alias": "import prefect.flows as pff\n\n@pff.flow()\ndef target(): ...\n",
    "from_flows": "from prefect import flows\n\n@flows.flow\ndef target(): ...\n",
    "star": "from prefect import *\n\n@flow\ndef target(): ...\n",
    "async": "from prefect import flow\n\n@flow\nasync def target(): ...\n",
    "async_called": "import prefect\n\n@prefect.flow(retries=1)\nasync def target(): ...\n",
    "parenthesized_import": "from prefect import (\n    task,\n    flow as f,\n)\n\n@f\ndef target(): ...\n",
    "stacked": "import functools\nfrom prefect import flow\n\n@flow\n@functools.lru_cache\ndef target(): ...\n",
    "stacked_below": "import functools\nfrom prefect import flow\n\n@functools.lru_cache\n@flow\ndef target(): ...\n",
    "in_if": "import prefect\nif True:\n    @prefect.flow\n    def target(): ...\n",
    "in_try": "from prefect import flow\ntry:\n    @flow\n    def target(): ...\nexcept Exception:\n    pass\n",
    "fallback_import": (
        "try:\n    from prefect import flow\nexcept ImportError:\n    flow = lambda f: f\n\n"
        "@flow\ndef target(): ...\n"
    ),
    "either_branch": (
        "import sys\nif sys.version_info > (3,):\n    from prefect import flow\n"
        "else:\n    from mylib import flow\n\n@flow\ndef target(): ...\n"
    ),
    "odd_spacing": "import prefect\n\n@ prefect . flow ( )\ndef target(): ...\n",
    "continuation": "import prefect\n\n@prefect \\\n    .flow\ndef target(): ...\n",
}


@pytest.mark.parametrize("source", STYLES.values(), ids=list(STYLES))
def test_every_decorator_style_is_found(source: str) -> None:
    result = parse_flows("pkg/mod.py", source)
    assert result.error is None
    assert [f.function_name for f in result.flows] == ["target"]
    assert could_contain_flow(source)
    assert could_contain_flow_bytes(source.encode())
    assert_def_lines(result, source)


def test_async_flows_are_marked_async() -> None:
    result = parse_flows("m.py", STYLES["async"])
    assert result.flows[0].is_async
    assert not parse_flows("m.py", STYLES["bare"]).flows[0].is_async


NOT_FLOWS = {
    "app_flow": """
        from prefect import task
        app = object()

        @app.flow
        def target(): ...
        """,
    "app_flow_call": """
        import prefect
        app = object()

        @app.flow(name="x")
        def target(): ...
        """,
    "flow_from_elsewhere": """
        import prefect
        from workflows import flow

        @flow
        def target(): ...
        """,
    "relative_import": """
        import prefect
        from .prefect import flow

        @flow
        def target(): ...
        """,
    "lookalike_package": """
        from prefect_aws import flow  # prefect is not prefect_aws

        @flow
        def target(): ...
        """,
    "not_imported": """
        # mentions prefect but never imports it
        @flow
        def target(): ...
        """,
    "import_after_def": """
        @flow
        def target(): ...

        from prefect import flow
        """,
    "shadowed_by_def": """
        from prefect import flow

        def flow(fn):
            return fn

        @flow
        def target(): ...
        """,
    "shadowed_by_assignment": """
        from prefect import flow
        flow = print

        @flow
        def target(): ...
        """,
    "shadowed_by_import": """
        from prefect import flow
        from other import flow

        @flow
        def target(): ...
        """,
    "prefect_task": """
        from prefect import task

        @task
        def target(): ...
        """,
    "other_prefect_attribute": """
        import prefect

        @prefect.task
        def target(): ...
        """,
    "method": """
        from prefect import flow

        class Jobs:
            @flow
            def target(self): ...
        """,
    "nested_function": """
        from prefect import flow

        def outer():
            @flow
            def target(): ...
            return target
        """,
    "star_from_elsewhere": """
        from mylib import *
        import prefect

        @flow
        def target(): ...
        """,
}


@pytest.mark.parametrize("source", NOT_FLOWS.values(), ids=list(NOT_FLOWS))
def test_things_that_are_not_flows_are_not_reported(source: str) -> None:
    result = parse(source)
    assert result.error is None
    assert result.flows == ()


def test_attribute_assignment_does_not_unbind_prefect() -> None:
    assert keys(
        """
        import prefect
        prefect.settings_seen = True

        @prefect.flow
        def target(): ...
        """
    ) == ["target"]


# --- names, descriptions, lines, grouping ---------------------------------------------


def test_key_and_original_name_come_from_name_literal() -> None:
    (flow,) = parse(
        """
        from prefect import flow

        @flow(name="Daily Report-v2")
        def build_report(): ...
        """
    ).flows
    assert flow.key == "Daily_Report_v2"
    assert flow.original_name == "Daily Report-v2"
    assert flow.function_name == "build_report"
    assert flow.has_explicit_name
    assert flow.prefect_flow_name == "Daily Report-v2"


def test_without_name_the_function_name_is_used() -> None:
    (flow,) = parse(
        """
        from prefect import flow

        @flow(retries=3)
        def build_report(): ...
        """
    ).flows
    assert (flow.key, flow.original_name, flow.has_explicit_name) == (
        "build_report",
        "build_report",
        False,
    )
    assert flow.prefect_flow_name == "build-report"


@pytest.mark.parametrize("name_arg", ['name=""', "name=NAME", 'name=f"x{1}"', "name=None"])
def test_non_literal_or_empty_names_fall_back_to_the_function(name_arg: str) -> None:
    (flow,) = parse(
        f"""
        from prefect import flow
        NAME = "dynamic"

        @flow({name_arg})
        def build_report(): ...
        """
    ).flows
    assert flow.key == "build_report"
    assert not flow.has_explicit_name


def test_name_without_letters_is_an_error_not_a_crash() -> None:
    source = textwrap.dedent(
        """
        from prefect import flow

        @flow(name="---")
        def odd(): ...

        @flow
        def fine(): ...
        """
    )
    result = parse_flows("m.py", source)
    assert [f.key for f in result.flows] == ["fine"]
    assert result.error is not None
    assert result.error.line == 5
    assert result.error.format().startswith("m.py:5: ")


def test_description_prefers_the_decorator() -> None:
    (flow,) = parse(
        '''
        from prefect import flow

        @flow(description="From the decorator.")
        def f():
            """From the docstring."""
        '''
    ).flows
    assert flow.description == "From the decorator."


def test_description_is_the_first_docstring_paragraph_collapsed() -> None:
    (flow,) = parse(
        '''
        from prefect import flow

        @flow(description="")
        def f():
            """First line
               continues   here.

            Second paragraph is left out.
            """
        '''
    ).flows
    assert flow.description == "First line continues here."


def test_description_defaults_to_empty() -> None:
    (flow,) = parse("from prefect import flow\n@flow\ndef f(): pass\n").flows
    assert flow.description == ""


@pytest.mark.parametrize(
    ("doc", "summary"),
    [(None, ""), ("", ""), ("  \n  ", ""), ("One.", "One."), ("a\n b\n\n c", "a b"), ("\n\nx\n", "x")],
)
def test_docstring_summary(doc: str | None, summary: str) -> None:
    assert docstring_summary(doc) == summary


def test_line_numbers_point_at_the_def_not_the_decorator() -> None:
    source = textwrap.dedent(
        '''
        """Module."""
        import prefect
        from prefect import flow


        @flow(
            name="multi-line",
            description="decorator spans lines",
        )
        def first(): ...

        @prefect.flow
        @staticmethod
        async def second(): ...

        if True:
            @flow
            def third(): ...
        '''
    )
    result = parse_flows("m.py", source)
    assert [(f.function_name, f.line_number) for f in result.flows] == [
        ("first", 11),
        ("second", 15),
        ("third", 19),
    ]
    assert_def_lines(result, source)


@pytest.mark.parametrize(
    ("path", "source_root", "grouping"),
    [
        ("src/pkg/etl/extract.py", "src/pkg", ("etl",)),
        ("src/pkg/etl/extract.py", "src/pkg/", ("etl",)),
        ("src/pkg/etl/extract.py", "./src/pkg", ("etl",)),
        ("src/pkg/a/b/c.py", "src", ("pkg", "a", "b")),
        ("src/pkg/top.py", "src/pkg", ()),
        ("flows.py", "", ()),
        ("a/b/flows.py", "", ("a", "b")),
        ("other/x.py", "src", ("other",)),  # outside the source root: keep all folders
        ("srcx/x.py", "src", ("srcx",)),  # a prefix of a name is not a folder
    ],
)
def test_grouping(path: str, source_root: str, grouping: tuple[str, ...]) -> None:
    assert grouping_for(path, source_root) == grouping
    (flow,) = parse_flows(path, STYLES["bare"], source_root).flows
    assert flow.grouping == grouping
    assert flow.relative_path == path
    assert flow.entrypoint == f"{path}:target"


def test_byte_order_mark_is_tolerated() -> None:
    assert [f.key for f in parse_flows("m.py", "\ufeff" + STYLES["bare"]).flows] == ["target"]


# --- errors and collisions ---------------------------------------------------------


def fixture_files() -> list[tuple[str, str]]:
    return sorted(
        (p.relative_to(FIXTURES).as_posix(), p.read_text(encoding="utf-8"))
        for p in FIXTURES.rglob("*.py")
    )


def test_syntax_error_is_reported_with_path_and_line_and_the_scan_continues() -> None:
    result = discover(fixture_files())
    (error,) = result.errors
    assert error.relative_path == "broken_syntax.py"
    assert error.line == 9
    assert error.format().startswith("broken_syntax.py:9: syntax error")
    assert "fine_flow" in result.keys


def test_unparseable_source_never_raises() -> None:
    for text in ("x = 1\x00\n", "(" * 500 + ")" * 500, "def f(:\n", "\ufeff\ufeffx"):
        result = parse_flows("weird.py", text)
        assert isinstance(result, ParseResult)


def test_collisions_name_every_location() -> None:
    result = discover(fixture_files())
    (collision,) = result.collisions
    assert collision.key == "nightly_report"
    assert collision.locations == ("pkg_a/report.py:6", "pkg_b/report.py:6")
    with pytest.raises(DiscoveryError) as caught:
        result.raise_for_collisions()
    assert "pkg_a/report.py:6" in str(caught.value)
    assert "pkg_b/report.py:6" in str(caught.value)
    assert "nightly_report" in str(caught.value)


def test_no_collisions_no_error() -> None:
    discover([("a.py", STYLES["bare"])]).raise_for_collisions()


def test_files_that_cannot_hold_flows_are_not_parsed() -> None:
    # A syntax error in a file without prefect is not our business and costs nothing.
    result = discover([("broken.py", "def (:\n"), ("ok.py", STYLES["bare"])])
    assert result.errors == ()
    assert result.keys == ("target",)


def test_flows_are_sorted_by_key() -> None:
    files = [
        (f"{name}.py", f"from prefect import flow\n@flow\ndef {name}(): ...\n")
        for name in ("zeta", "alpha", "mid")
    ]
    assert discover(files).keys == ("alpha", "mid", "zeta")


def test_ids_are_stable_across_runs_and_distinct() -> None:
    first = discover(fixture_files())
    second = discover(list(reversed(fixture_files())))
    assert [f.id for f in first.flows] == [f.id for f in second.flows]
    assert len({f.id for f in first.flows}) == len(first.flows)


# --- JSON record -------------------------------------------------------------------------


def test_flow_to_record_keeps_the_seed_field_names() -> None:
    (flow,) = parse_flows(
        "src/pkg/etl/extract.py",
        'from prefect import flow\n\n@flow(name="extract-orders")\nasync def run():\n    """Doc."""\n',
        "src/pkg",
    ).flows
    record = flow_to_record(flow, "/repo")
    assert record == {
        "name": "extract_orders",
        "original_name": "extract-orders",
        "description": "Doc.",
        "id": flow.id,
        "source_path": "/repo/src/pkg/etl/extract.py",
        "source_relative": "src/pkg/etl/extract.py",
        "line_number": 4,
        "grouping": ["etl"],
        "child_attributes": {
            "entrypoint": "src/pkg/etl/extract.py:run",
            "function_name": "run",
            "is_async": True,
            "prefect_flow_name": "extract-orders",
            "has_explicit_name": True,
            "obj_name": "run",
            "module": "extract",
            "import_path": "pkg.etl.extract",
        },
    }
    assert flow_to_record(flow, "/repo/")["source_path"] == "/repo/src/pkg/etl/extract.py"
    assert flow_to_record(flow, "")["source_path"] == "src/pkg/etl/extract.py"


FLOW_SOURCE = "from prefect import flow\n\n@flow\ndef run():\n    pass\n"


@pytest.mark.parametrize(
    ("path", "import_path"),
    [("src/pkg/module.py", "pkg.module"), ("src/pkg/sub/__init__.py", "pkg.sub"),
     ("src/module.py", "module"), ("pkg/module.py", "pkg.module"), ("module.py", "module"),
     ("pkg/src/module.py", "pkg.src.module")],
)
def test_the_import_path_is_what_python_imports_in_src_and_flat_layouts(
    path: str, import_path: str
) -> None:
    (flow,) = discover([(path, FLOW_SOURCE), ("src/pkg/helpers.py", "X = 1\n")]).flows
    child = flow_to_record(flow, "/repo")["child_attributes"]
    assert isinstance(child, dict)
    assert child["import_path"] == import_path
    assert child["module"] == import_path.rsplit(".", 1)[-1]


def test_a_caller_that_looked_at_the_disk_decides_the_import_root() -> None:
    (flow,) = discover([("src/pkg/module.py", FLOW_SOURCE)]).flows
    # a `src/` that is itself a package (src/__init__.py) is imported as `src.pkg`
    child = flow_to_record(flow, "/repo", import_root="")["child_attributes"]
    assert isinstance(child, dict) and child["import_path"] == "src.pkg.module"


@pytest.mark.parametrize(
    ("path", "dotted"),
    [("a/b.py", "a.b"), ("a/__init__.py", "a"), ("x.py", "x"), ("a/b/c.py", "a.b.c")],
)
def test_module_path(path: str, dotted: str) -> None:
    assert module_path(path) == dotted


def test_source_error_format() -> None:
    assert SourceError("a.py", 3, "boom").format() == "a.py:3: boom"
    assert str(SourceError("a.py", 0, "unreadable")) == "a.py: unreadable"


# --- properties ------------------------------------------------------------------------

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
    and not keyword.issoftkeyword(s)
    and s not in {"flow", "flows", "prefect", "task", "target"}
)

# (import line, decorator) templates; {a} is an alias identifier.
DECORATOR_FORMS = [
    ("from prefect import flow", "@flow"),
    ("from prefect import flow", "@flow({kw})"),
    ("from prefect import flow", "@(flow)"),
    ("import prefect", "@prefect.flow"),
    ("import prefect", "@prefect.flow({kw})"),
    ("import prefect", "@prefect .\\\n    flow({kw})"),
    ("from prefect import flow as {a}", "@{a}"),
    ("from prefect import flow as {a}", "@{a}({kw})"),
    ("from prefect import (\n    task,\n    flow as {a},\n)", "@{a}"),
    ("from prefect import flow \\\n    as {a}", "@{a}"),
    ("import prefect as {a}", "@{a}.flow"),
    ("import prefect as {a}", "@ {a} . flow ({kw})"),
    ("from prefect.flows import flow", "@flow"),
    ("from prefect.flows import flow as {a}", "@{a}({kw})"),
    ("import prefect.flows as {a}", "@{a}.flow"),
    ("from prefect import flows as {a}", "@{a}.flow({kw})"),
    ("from prefect import *", "@flow"),
]
KWARGS = ["", "retries=1", 'name="{n}"', 'name="{n}", description="d"', "\n    log_prints=True,\n"]


@st.composite
def flow_modules(draw: st.DrawFn) -> tuple[str, str]:
    """A module with one flow, in a random decorator style and layout; returns (text, function)."""
    import_line, decorator = draw(st.sampled_from(DECORATOR_FORMS))
    alias = draw(identifiers)
    function = draw(identifiers)
    name = draw(st.from_regex(r"[A-Za-z][A-Za-z0-9 _-]{0,10}", fullmatch=True))
    kw = draw(st.sampled_from(KWARGS)).format(n=name)
    deco = decorator.format(a=alias, kw=kw)
    prefix = draw(st.sampled_from(["", "async "]))
    filler = draw(st.sampled_from(["", "import os\n", "X = 1  # the flow below\n", "'''doc'''\n"]))
    body = f"{deco}\n{prefix}def {function}(x: int = 1) -> int:\n    return x\n"
    if draw(st.booleans()):
        body = "if True:\n" + textwrap.indent(body, "    ")
    text = f"{filler}{import_line.format(a=alias)}\n{filler}\n{body}"
    return text, function


@given(flow_modules())
def test_prefilter_never_rejects_a_flow_module(module: tuple[str, str]) -> None:
    text, function = module
    result = parse_flows("m.py", text)
    assert result.error is None, (result.error, text)
    assert [f.function_name for f in result.flows] == [function], text
    assert could_contain_flow(text), text
    assert could_contain_flow_bytes(text.encode("utf-8")), text
    assert_def_lines(result, text)


@given(st.text(max_size=300))
def test_prefilter_is_sound_on_arbitrary_text(text: str) -> None:
    # Whatever the text, skipping it never hides a flow.
    if not could_contain_flow(text):
        assert parse_flows("m.py", text).flows == ()
    assert isinstance(parse_flows("m.py", text), ParseResult)


flow_names = st.lists(
    st.one_of(
        st.from_regex(r"[a-c][a-c_ -]{0,3}", fullmatch=True),  # collides often
        st.text(max_size=8),
    ),
    max_size=8,
)


@given(flow_names)
def test_collisions_detected_iff_two_names_share_a_key(names: list[str]) -> None:
    files = [
        (f"d{i}/m.py", f"from prefect import flow\n\n@flow(name={name!r})\ndef f{i}(): ...\n")
        for i, name in enumerate(names)
    ]
    result: Discovery = discover(files)
    # "" and names without letters fall back to / fail on the function name:
    expected_keys = []
    for i, name in enumerate(names):
        key = normalize_flow_key(name) if name else f"f{i}"
        if key:
            expected_keys.append(key)
    counts = Counter(expected_keys)
    assert sorted(result.keys) == sorted(expected_keys)
    assert {c.key for c in result.collisions} == {k for k, n in counts.items() if n > 1}
    for collision in result.collisions:
        assert len(collision.locations) == counts[collision.key]
    if result.collisions:
        with pytest.raises(DiscoveryError):
            result.raise_for_collisions()
    else:
        result.raise_for_collisions()
    # Same input, same answer, same ids.
    again = discover(files)
    assert again == result
