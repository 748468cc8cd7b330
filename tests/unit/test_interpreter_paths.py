"""Code that differs between Python 3.10 (the declared minimum) and 3.11+.

`read_pyproject` falls back to a line reader where `tomllib` does not exist
(3.10), and discovery knows `except*` blocks only where the parser has them
(3.11+). CI runs the unit suite on both interpreters when it can; these tests
pin what each path must do, and compare the 3.10 path with tomllib wherever
tomllib exists, so the fallback cannot drift unnoticed on a 3.11 machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_core.discovery import parse_flows
from portal_io.project_files import PyprojectInfo, _read_pyproject_lines, read_pyproject

#: plain TOML basic-string content: what real package names and versions look like
_plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_+ ", max_size=15)


@st.composite
def pyprojects(draw: st.DrawFn) -> tuple[str, PyprojectInfo]:
    """A pyproject.toml text and the `[project]` name/version it holds.

    Other tables carry their own `name =` / `version =` keys, before and after
    `[project]`, because a reader that ignored section headers would take those.
    """
    name = draw(st.none() | _plain)
    version = draw(st.none() | _plain)
    project = [f'name = "{name}"'] if name is not None else []
    if version is not None:
        project.append(f'version = "{version}"')
    project.insert(draw(st.integers(0, len(project))), 'description = "x"')
    before = draw(st.sampled_from(["", '[build-system]\nname = "decoy"\nversion = "0"\n']))
    after = draw(st.sampled_from(["", '[tool.other]\nname = "decoy"\n', "[tool.x.version]\nversion = \"9\"\n"]))
    text = f"{before}[project]\n" + "\n".join(project) + f"\n\n{after}"
    return text, PyprojectInfo(name=name, version=version)


@given(pyprojects())
def test_the_310_reader_finds_exactly_the_project_tables_name_and_version(
    case: tuple[str, PyprojectInfo]
) -> None:
    text, expected = case
    assert _read_pyproject_lines(text) == expected


@given(pyprojects())
def test_read_pyproject_agrees_with_the_310_reader(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, PyprojectInfo]
) -> None:
    # On 3.11+ this is tomllib against the line reader; on 3.10 both are the line reader
    # and the expected values still have to come out.
    text, expected = case
    root = tmp_path_factory.mktemp("pyproject")
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    assert read_pyproject(root) == expected == _read_pyproject_lines(text)


def test_no_pyproject_means_no_name_or_version(tmp_path: Path) -> None:
    assert read_pyproject(tmp_path) == PyprojectInfo()


def test_a_flow_defined_around_an_except_star_block() -> None:
    source = (
        "try:\n    from prefect import flow\nexcept* ImportError:\n    flow = None\n\n"
        "@flow\ndef target(): ...\n"
    )
    result = parse_flows("pkg/mod.py", source)
    if sys.version_info >= (3, 11):
        assert result.error is None
        assert [f.function_name for f in result.flows] == ["target"]
    else:  # the 3.10 parser has no `except*`: one clear error, no exception, no flows
        assert result.error is not None
        assert result.flows == ()
