"""The parameter schema read from source equals the one Prefect computes by running the code.

Each test writes a flow module as text, hands the text to the pure core, and
also executes that same text here (test code, never the product) so that
Prefect's own `parameter_schema` can say what the answer must be.
"""

from __future__ import annotations

import json
import sys
import textwrap
import typing
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal_core.parameter_schema import (
    SchemaResult,
    describe_schema_changes,
    flow_parameter_schema,
    parameter_descriptions,
)

HEADER = '''\
{future}import datetime
import datetime as dt
import decimal
import enum
import pathlib
import typing
import typing as t
import uuid
from datetime import date, timedelta

import pydantic
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from pydantic import Field
from typing import Annotated, Any, Dict, List, Literal, Optional, Tuple, Union
from typing import Optional as Opt
from uuid import UUID


class Color(enum.Enum):
    """Colours a flow can paint with.

    Pick one.
    """

    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = enum.auto()
    HIGH = enum.auto()


LIMIT = 5
'''


def prefect_schema(source: str, name: str) -> dict[str, Any]:
    """What Prefect computes for `name` once the module has run."""
    from prefect.utilities.callables import parameter_schema

    # typing caches subscripted generics by their arguments, and unions compare equal in any
    # order: `List[Union[int, str]]` built earlier in the process would come back for
    # `List[Union[str, int]]`. Clearing the caches makes Prefect's answer depend on this
    # source only (the generated unions also list their members in one canonical order).
    for clear in typing._cleanups:  # type: ignore[attr-defined]
        clear()
    namespace: dict[str, Any] = {"__name__": "generated_flow_module"}
    exec(compile(source, "generated_flow_module.py", "exec", dont_inherit=True), namespace)  # test code
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parameter_schema(namespace[name]).model_dump_for_openapi()


def canonical(schema: Any) -> str:
    """Exact comparison: 1, 1.0 and True differ, key order does not."""
    return json.dumps(schema, sort_keys=True)


def module(body: str, future: bool = False) -> str:
    header = HEADER.format(future="from __future__ import annotations\n" if future else "")
    return header + "\n\n" + textwrap.dedent(body)


def core(source: str, name: str = "flow_fn") -> SchemaResult:
    return flow_parameter_schema(source, name, "flows/generated.py")


def assert_matches_prefect(source: str, name: str = "flow_fn") -> SchemaResult:
    result = core(source, name)
    assert result.schema is not None
    assert canonical(result.schema) == canonical(prefect_schema(source, name))
    return result


# --- examples, one per supported kind ------------------------------------------------------

#: The core gives `*args`/`**kwargs` the schema Prefect computes on Python 3.11+ (an array
#: and an object with defaults). On Python 3.10, Prefect's own answer for them differs
#: (plain required fields); the core does not follow the interpreter, so on 3.10 those
#: cases are expected to differ (strict: the difference itself is checked) and the property
#: generates no var-args.
VARARGS_AS_ON_311 = sys.version_info >= (3, 11)
PREFECT_310_VARARGS = pytest.mark.xfail(
    not VARARGS_AS_ON_311, strict=True,
    reason="Prefect's schema for *args/**kwargs differs on Python 3.10; the core follows 3.11+",
)


@pytest.mark.parametrize("signature", [
    "a, b=1, c=None",
    "a: int, b: str = 'x', c: float = 1.5, d: bool = True, e: bytes = b'raw'",
    "a: list = [], b: dict = {}, c: tuple = (), d: set = set(), e: frozenset = frozenset()",
    "a: list[int] = [1, 2], b: dict[str, float] = {'x': 1.0}, c: tuple[int, str] = (1, 'a')",
    "a: tuple[int, ...] = (), b: tuple[()] = (), c: set[str] = {'b', 'a'}",
    "a: List[int], b: Dict[str, Any], c: Tuple[int, ...], d: t.List[t.Dict[str, int]] = []",
    "a: Optional[int] = None, b: Union[int, str] = 1, c: int | None = None, d: Opt[str] = None",
    "a: Union[int, Union[str, int], None] = None, b: Optional[Any] = None, c: None = None",
    "a: Literal['x', 'y'] = 'x', b: Literal[1] = 1, c: Literal['a', None] = None",
    "a: Literal[True, False] = False, b: t.Literal[Color.RED] = Color.RED",
    "a: Any = 3, b: Annotated[int, 'meta'] = 1",
    "a: Sequence[int] = (), b: Mapping[str, int] = {}, c: typing.Sequence = 'ab', d: t.Mapping = {}",
    "a: Literal[1.5, 1] = 1, b: typing.MutableSequence[str] = []",
    "a: datetime.datetime, b: date, c: dt.time, d: timedelta, e: UUID, f: Path, g: Decimal",
    "a: uuid.UUID = None, b: pathlib.Path = 'out', c: decimal.Decimal = 1.5",
    "a: Color = Color.GREEN, b: Level = Level.HIGH, c: list[Color] = [], d: Optional[Level] = None",
    "a: dict[Color, int] = {}, b: dict[Literal['k'], int] = {}, c: dict[date, str] = {}",
    "a, /, b, *, c: int, d: int = LIMIT",
    pytest.param("*args: int, **kwargs: str", marks=PREFECT_310_VARARGS),
    pytest.param("self, *args, **kwargs", marks=PREFECT_310_VARARGS),
    "a: 'int' = 1, b: 'list[Color]' = [], c: 'Optional[date]' = None",
    "a: List['int'] = [], b: Optional['Color'] = None",
    "a=-1, b=+2.5, c=0x10, d=1_000, e='\\u00e9', f=b'\\xff', g={'k': (1, b'x')}, h={3, 1, 2}",
    "a={True: 1, None: 2, 1.5: 3}, b=..., c={'b', 'a'}, d=[{'b'}], e=1e400",
    "model_config: int = 2, json: str = 'j', copy: bool = False",
    "a: int = Field(3, description='the a', ge=1), b: str = pydantic.Field(default='x', title='B')",
    "a: list[int] = Field(default_factory=list), b: int = Field(description='req'), c=Field()",
    "a: int = Field(1, json_schema_extra={'k': [1, 2], 'position': 9}), b=Field(None)",
])
def test_each_supported_kind_matches_prefect(signature: str) -> None:
    result = assert_matches_prefect(module(f"def flow_fn({signature}):\n    pass\n"))
    assert not [w for w in result.warnings if "not a literal" in w]


@pytest.mark.parametrize("signature", [
    "a: int = 1, b: list[date] = [], c: Optional[Color] = None, d: 'date' = None",
    "a: datetime.datetime, b: t.Dict[str, t.List[int]] = {}, *, c: UUID | None = None",
])
def test_postponed_annotations_match_prefect(signature: str) -> None:
    assert_matches_prefect(module(f"def flow_fn({signature}):\n    pass\n", future=True))


def test_async_flows_and_the_last_definition_count() -> None:
    source = module("""\
        def flow_fn(a: int):
            pass


        async def flow_fn(b: str = "x"):
            pass
        """)
    result = assert_matches_prefect(source)
    assert list(result.schema["properties"]) == ["b"]  # type: ignore[index]


@pytest.mark.parametrize("docstring", [
    "Sum.\n\nArgs:\n    a: first\n    b (int): second\n        continued\n    c:\n",
    "Sum.\n\nArguments:\n    a: x\n\nParameters:\n    b: y\n",
    "Args:\n  a: two-space\n  b: y\n\nReturns:\n    z\n",
    "Sum.\nArgs:\n    a: no blank line above, not a section\n",
    "Sum.\n\nArgs:\n    a: x\n\n    b: after a blank line\n",
    "Sum.\n\nArgs:\n    a: line one\n\n        second paragraph\n",
    "Sum.\n\nArgs:\n    a : spaced colon\n    b(int): no space\n    c (int, optional): opt\n",
    "Sum.\n\nParameters\n----------\na : int\n    NumPy style: Prefect reads nothing\n",
    "Sum.\n\n:param a: Sphinx style: Prefect reads nothing\n:type a: int\n",
    "Sum.\n\n```\nArgs:\n    a: inside a fence\n```\n",
    "Sum.\n\nArgs:\n    a: x\n\nArgs:\n    no colon here\n",
    "Sum.\n\nArgs:\n\tb: tab\n",
])
def test_docstring_descriptions_match_prefect(docstring: str) -> None:
    body = textwrap.indent(docstring, "    ")
    assert_matches_prefect(module(f'def flow_fn(a, b=1, c=2):\n    """{body}    """\n'))


def test_descriptions_are_read_google_style() -> None:
    assert parameter_descriptions("S.\n\nArgs:\n    n (int): how many\n        at most") == {
        "n": "how many\nat most"}


def test_a_user_type_gets_a_permissive_entry_and_a_warning_naming_it() -> None:
    source = textwrap.dedent("""\
        from prefect import flow
        from my_project.models import Settings


        @flow
        def nightly(
            settings: Settings,
            when: Optional[Settings] = None,
            retries: int = 3,
        ):
            pass
        """)
    result = flow_parameter_schema(source, "nightly", "flows/nightly.py")
    assert result.schema is not None
    props = result.schema["properties"]
    assert props["settings"] == {"position": 0, "title": "settings"}
    assert props["when"] == {"default": None, "position": 1, "title": "when"}
    assert props["retries"] == {"default": 3, "position": 2, "title": "retries", "type": "integer"}
    assert result.schema["required"] == ["settings"]
    assert result.warnings == (
        "flows/nightly.py:7: parameter 'settings': type Settings is not known without importing "
        "it; its schema accepts any value",
        "flows/nightly.py:8: parameter 'when': type Optional[Settings] is not known without "
        "importing it; its schema accepts any value",
    )


def test_a_computed_default_is_left_out_with_a_warning() -> None:
    source = "import os\n\ndef f(path: str = os.environ.get('X', 'y'), n: int = 2 ** 4):\n    pass\n"
    result = flow_parameter_schema(source, "f", "f.py")
    assert result.schema is not None
    assert result.schema["properties"]["path"] == {"position": 0, "title": "path", "type": "string"}
    assert "required" not in result.schema
    assert [w.split(": ", 1)[0] for w in result.warnings] == ["f.py:3", "f.py:3"]
    assert "os.environ.get('X', 'y')" in result.warnings[0]


def test_unreadable_source_or_missing_function_gives_no_schema() -> None:
    broken = flow_parameter_schema("def f(:\n", "f", "bad.py")
    assert broken.schema is None and broken.warnings[0].startswith("bad.py: cannot parse")
    missing = flow_parameter_schema("def g():\n    pass\n", "f", "g.py")
    assert missing.schema is None and "no function 'f'" in missing.warnings[0]


def test_nothing_in_the_module_runs() -> None:
    source = "raise SystemExit('ran!')\nopen('/nonexistent/marker', 'w')\n\ndef f(a: int = 1):\n    pass\n"
    result = flow_parameter_schema(source, "f", "f.py")
    assert result.schema is not None and result.schema["properties"]["a"]["default"] == 1


# --- the law: generated signatures ------------------------------------------------------

NAMES = ["alpha", "beta", "count", "when", "label", "items", "mode", "limit", "path", "json",
         "copy", "schema", "data", "x", "y2", "value"]

ATOMS = ["int", "str", "float", "bool", "bytes", "None", "Any", "typing.Any", "list", "dict",
         "tuple", "set", "frozenset", "List", "Dict", "Tuple", "t.List", "datetime.datetime",
         "dt.date", "date", "datetime.time", "timedelta", "UUID", "uuid.UUID", "Path",
         "pathlib.Path", "Decimal", "decimal.Decimal", "Color", "Level",
         "Literal['a', 'b']", "Literal[1, 2]", "Literal[True]", "Literal['x', None]",
         "t.Literal[Color.RED, 'red']", "Literal[Literal[1], 2]", "Literal[1.5, 1]",
         "typing.Sequence", "Mapping"]
KEYS = ["str", "int", "Color", "Literal['k', 'j']", "date", "bool"]


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        inner.map(lambda x: f"list[{x}]"),
        inner.map(lambda x: f"List[{x}]"),
        inner.map(lambda x: f"set[{x}]"),
        inner.map(lambda x: f"Sequence[{x}]"),
        st.tuples(st.sampled_from(KEYS), inner).map(lambda p: f"t.MutableMapping[{p[0]}, {p[1]}]"),
        inner.map(lambda x: f"frozenset[{x}]"),
        inner.map(lambda x: f"tuple[{x}, ...]"),
        st.just("tuple[()]"),
        pair.map(lambda p: f"tuple[{p[0]}, {p[1]}]"),
        st.tuples(st.sampled_from(KEYS), inner).map(lambda p: f"dict[{p[0]}, {p[1]}]"),
        st.tuples(st.sampled_from(KEYS), inner).map(lambda p: f"t.Dict[{p[0]}, {p[1]}]"),
        inner.map(lambda x: f"Optional[{x}]"),
        inner.map(lambda x: f"Opt[{x}]"),
        pair.map(lambda p: "Union[{}, {}]".format(*sorted(p))),
        st.tuples(inner, inner, inner).map(lambda p: "t.Union[{}, {}, {}]".format(*sorted(p))),
        inner.filter(lambda x: x != "None").map(lambda x: f"{x} | None"),
        inner.map(lambda x: f"Annotated[{x}, 'note']"),
    )


annotation_texts = st.recursive(st.sampled_from(ATOMS), _compound, max_leaves=4)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8"), max_size=6),
    st.binary(max_size=4),
)
keys = st.one_of(st.text(max_size=4), st.integers(-5, 5))
literal_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=6,
)
# Sets only at the top: pydantic sorts those, while a nested set keeps Python's iteration
# order, an accident of how the set was built (the core sorts those too).
top_level_sets = st.sets(st.integers(-5, 5), max_size=3) | st.sets(st.text("abc", max_size=2), max_size=3)
defaults = st.one_of(
    literal_values.map(repr),
    top_level_sets.map(lambda s: repr(s) if s else "set()"),
    st.sampled_from(["Color.RED", "Level.HIGH", "LIMIT", "set()", "frozenset()", "[]", "{}", "...",
                     "Field(3, description='three')", "pydantic.Field(default='x', ge=1)",
                     "Field(description='required')", "Field(default_factory=list)",
                     "Field(None, json_schema_extra={'ui': 'hidden'})"]),
)


def _description(name: str) -> st.SearchStrategy[str]:
    words = st.text("abc xyz.", min_size=0, max_size=12).map(str.strip)
    more = st.lists(st.text("abc xyz", min_size=1, max_size=8), max_size=2)
    typed = st.sampled_from(["", " (int)", " (str, optional)", "(int)"])
    return st.tuples(typed, words, more, st.sampled_from([4, 2])).map(
        lambda p: f"{name}{p[0]}: {p[1]}" + "".join(f"\n{' ' * p[3]}{line}" for line in p[2]))


@st.composite
def docstrings(draw: st.DrawFn, names: list[str]) -> str | None:
    style = draw(st.sampled_from(["none", "summary", "google", "google", "numpy", "sphinx"]))
    if style == "none":
        return None
    summary = draw(st.sampled_from(["Run the thing.", "Load data\nin two lines.", ""]))
    documented = draw(st.lists(st.sampled_from(names), max_size=len(names))) if names else []
    if style == "summary":
        return summary or "Just a summary."
    if style == "numpy":
        items = "".join(f"{n} : int\n    about {n}\n" for n in documented)
        return f"{summary}\n\nParameters\n----------\n{items}"
    if style == "sphinx":
        return summary + "\n\n" + "".join(f":param {n}: about {n}\n" for n in documented)
    title = draw(st.sampled_from(["Args", "Arguments", "Params", "Parameters", "Keyword Args"]))
    entries = [draw(_description(n)) for n in documented]
    body = "\n".join(textwrap.indent(entry, "    ") for entry in entries) or "    nothing: here"
    blank = draw(st.sampled_from(["\n\n", "\n"]))
    tail = draw(st.sampled_from(["", "\n\nReturns:\n    The result.", "\n\nNote:\n    Be careful."]))
    return f"{summary}{blank}{title}:\n{body}{tail}" if summary else f"{title}:\n{body}{tail}"


@st.composite
def flow_sources(draw: st.DrawFn) -> tuple[str, bool]:
    future = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    if draw(st.integers(0, 9)) == 0:
        names.insert(0, "self")
    positional = draw(st.integers(0, len(names)))
    posonly = draw(st.integers(0, positional))
    star, starstar = draw(st.booleans()), draw(st.booleans())
    star_names = [n for n in ("args", "kwargs") if n not in names]

    def annotated(name: str) -> str:
        if not draw(st.booleans()):
            return name
        text = draw(annotation_texts)
        if not future and draw(st.integers(0, 5)) == 0:
            text = repr(text)  # a string annotation, evaluated by Prefect in the module
        return f"{name}: {text}"

    parts: list[str] = []
    first_default = draw(st.integers(0, positional))
    for index, name in enumerate(names[:positional]):
        part = annotated(name)
        if index >= first_default:
            part += f" = {draw(defaults)}"
        parts.append(part)
        if index == posonly - 1 and posonly:
            parts.append("/")
    if not VARARGS_AS_ON_311:  # see PREFECT_310_VARARGS
        star = starstar = False
    if star and "args" in star_names:
        parts.append("*" + annotated("args"))
    elif names[positional:]:
        parts.append("*")
    for name in names[positional:]:
        part = annotated(name)
        if draw(st.booleans()):
            part += f" = {draw(defaults)}"
        parts.append(part)
    if starstar and "kwargs" in star_names:
        parts.append("**" + annotated("kwargs"))
    doc = draw(docstrings([n for n in names if n != "self"]))
    body = "    pass\n"
    if doc is not None:
        body = f'    """{textwrap.indent(doc, "    ").lstrip()}\n    """\n'
    keyword = draw(st.sampled_from(["def", "async def"]))
    return module(f"{keyword} flow_fn({', '.join(parts)}):\n{body}", future=future), future


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sources())
def test_schema_from_source_equals_prefects_own(case: tuple[str, bool]) -> None:
    source, _ = case
    assert_matches_prefect(source)


# --- readable differences ------------------------------------------------------------------


def schema_of(signature: str) -> dict[str, Any]:
    result = core(module(f"def flow_fn({signature}):\n    pass\n"))
    assert result.schema is not None
    return result.schema


def test_schema_changes_read_as_short_lines() -> None:
    before = schema_of("x: int, n: int = 1, when: str = 'now', k: int = 0")
    after = schema_of("n: int = 2, when: datetime.datetime = None, *, k: int, extra: int = 3")
    assert describe_schema_changes(before, after) == (
        "parameter 'extra' added (integer, default 3)",
        "parameter 'x' removed",
        "'n': default 1 -> 2",
        "'n': position 1 -> 0",
        "'when': type string -> string/date-time",
        "'when': default \"now\" -> null",
        "'when': position 2 -> 1",
        "'k': default 0 removed",
        "'k' now required",
        "'k': position 3 -> 2",
    )


def test_no_change_reads_as_nothing_and_any_change_reads_as_something() -> None:
    schema = schema_of("a: int = 1, b: Color = Color.RED")
    assert describe_schema_changes(schema, schema) == ()
    assert describe_schema_changes(None, schema) == (
        "parameter 'a' added (integer, default 1)", "parameter 'b' added (enum Color, default \"red\")")
    other = json.loads(json.dumps(schema))
    other["definitions"]["Color"]["enum"].append("blue")
    assert describe_schema_changes(schema, other) == ("'b': type details changed (enum Color)",)


def test_a_plan_shows_a_schema_change_as_those_lines() -> None:
    from portal_core.deployments import DeployedState, DeploymentSpec
    from portal_core.plan import diff

    before = schema_of("n: int = 1")
    after = schema_of("n: int = 2, extra: str = 'e'")
    common: dict[str, Any] = {"name": "p--main--f--dev", "flow_name": "f",
                              "entrypoint": "flows/f.py:f", "paused": False}
    state = DeployedState(**common, parameter_schema=before)
    spec = DeploymentSpec(**common, parameter_schema=after, flow_key="f")

    rendered = [change.render() for change in diff(spec, state)]

    assert rendered == [
        "parameter_schema: parameter 'extra' added (string, default \"e\")",
        "parameter_schema: 'n': default 1 -> 2",
    ]


def test_a_set_inside_a_default_is_written_sorted() -> None:
    """Prefect keeps Python's iteration order there, which for strings changes with each
    process's hash seed; sorted keeps the plan stable from one deploy to the next."""
    result = core("def flow_fn(a=[{'b', 'c', 'a'}], b={'k': {3, 1, 2}}):\n    pass\n")
    assert result.schema is not None
    assert result.schema["properties"]["a"]["default"] == [["a", "b", "c"]]
    assert result.schema["properties"]["b"]["default"] == {"k": [1, 2, 3]}
