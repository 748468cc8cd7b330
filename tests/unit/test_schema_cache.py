"""The parameter-schema cache: content-addressed, so it can only ever save a parse.

A deploy reads every flow file it deploys; only the parse is skipped when the
bytes, the function, the path and the reader's own source are all the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_io import flow_sources
from portal_io.flow_sources import CACHE_FILE_NAME, read_parameter_schemas

FLOW = '''\
from prefect import flow


@flow
def hello(name: str = "world", times: int = {default}) -> None:
    """Say hello.

    Args:
        name: who to greet
    """
'''


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions actually parsed (a cache hit parses nothing)."""
    seen: list[str] = []
    real = flow_sources.flow_parameter_schema

    def counting(text: str, function: str, path: str):  # type: ignore[no-untyped-def]
        seen.append(function)
        return real(text, function, path)

    monkeypatch.setattr(flow_sources, "flow_parameter_schema", counting)
    return seen


def project(tmp_path: Path, default: int = 3) -> Path:
    (tmp_path / "flows").mkdir(exist_ok=True)
    (tmp_path / "flows" / "hello.py").write_text(FLOW.format(default=default))
    return tmp_path


def test_an_unchanged_file_is_not_parsed_again_and_gives_the_same_schema(tmp_path: Path, parses: list[str]) -> None:
    root, cache = project(tmp_path), tmp_path / "cache"
    first = read_parameter_schemas(root, ["flows/hello.py:hello"], cache)
    second = read_parameter_schemas(root, ["flows/hello.py:hello"], cache)
    assert parses == ["hello"]
    assert second == first and first["flows/hello.py:hello"].schema is not None
    assert (cache / CACHE_FILE_NAME).stat().st_mode & 0o077 == 0  # private, like every state file


@given(st.integers(0, 10**6))
def test_a_changed_file_is_parsed_again(tmp_path_factory: pytest.TempPathFactory, default: int) -> None:
    root = project(tmp_path_factory.mktemp("p"), default=1)
    cache = root / "cache"
    read_parameter_schemas(root, ["flows/hello.py:hello"], cache)
    project(root, default=default)
    (result,) = read_parameter_schemas(root, ["flows/hello.py:hello"], cache).values()
    assert result.schema is not None
    assert result.schema["properties"]["times"]["default"] == default


@pytest.mark.parametrize("content", ["{not json", json.dumps({"reader": "other", "entries": {}}),
                                     json.dumps([1, 2]), json.dumps({"reader": None})])
def test_a_corrupt_or_foreign_cache_is_ignored(tmp_path: Path, parses: list[str], content: str) -> None:
    root, cache = project(tmp_path), tmp_path / "cache"
    cache.mkdir()
    (cache / CACHE_FILE_NAME).write_text(content)
    expected = read_parameter_schemas(root, ["flows/hello.py:hello"])  # no cache at all
    assert read_parameter_schemas(root, ["flows/hello.py:hello"], cache) == expected
    assert parses == ["hello", "hello"]


def test_a_poisoned_entry_for_other_bytes_is_never_served(tmp_path: Path) -> None:
    """Entries are keyed by content: an entry for the old bytes cannot answer for new ones."""
    root, cache = project(tmp_path), tmp_path / "cache"
    read_parameter_schemas(root, ["flows/hello.py:hello"], cache)
    data = json.loads((cache / CACHE_FILE_NAME).read_text())
    for entry in data["entries"].values():
        entry["schema"] = {"type": "object", "properties": {"poison": {}}}
    (cache / CACHE_FILE_NAME).write_text(json.dumps(data))
    project(root, default=99)
    (result,) = read_parameter_schemas(root, ["flows/hello.py:hello"], cache).values()
    assert result.schema is not None and "poison" not in result.schema["properties"]


def test_an_unreadable_file_warns_and_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (result,) = read_parameter_schemas(tmp_path, ["flows/missing.py:hello"], cache).values()
    assert result.schema is None and "cannot read" in result.warnings[0]
    assert not (cache / CACHE_FILE_NAME).exists()
