"""The laws of names and tags, stated as hypothesis properties.

Example tests show the rules work for the values someone thought of; these
show they hold for arbitrary text, including the unicode, whitespace and
punctuation real branch names and tag values contain.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from portal_core.errors import NameRuleError, TagError
from portal_core.names import (
    FORBIDDEN_NAME_CHARS,
    SEPARATOR,
    DeploymentName,
    hyphen_form,
    is_flow_key,
    is_legal_prefect_name,
    is_slug,
    key_from_hyphen_form,
    normalize_flow_key,
    slugify,
)
from portal_core.tags import (
    BRANCH_NAME,
    COMMIT_HASH,
    MANAGED_BY,
    PACKAGE_VERSION,
    PROJECT_NAME,
    VersionTags,
    is_managed,
    make_tag,
    parse_tag,
    split_tag,
    tag_value,
    user_tags,
)

# Raw input as users produce it: ASCII punctuation heavy, with unicode and whitespace.
raw_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcXYZ019._-/ %&<>?#=~@:+\t\n"),
        st.characters(),
    ),
    max_size=40,
)


def _build(project: str, branch: str, flow: str, env: str) -> DeploymentName | None:
    try:
        return DeploymentName.build(project, branch, flow, env)
    except NameRuleError:
        return None


@st.composite
def deployment_names(draw: st.DrawFn) -> DeploymentName:
    name = _build(draw(raw_text), draw(raw_text), draw(raw_text), draw(raw_text))
    assume(name is not None)
    assert name is not None
    return name


# A lot of raw text slugs to nothing; also build from text that surely has letters.
safe_words = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,20}", fullmatch=True)
valid_names = st.one_of(
    deployment_names(),
    st.builds(DeploymentName.build, safe_words, safe_words, safe_words, safe_words),
)


# --- deployment names ------------------------------------------------------------


@given(valid_names)
def test_parse_inverts_format(name: DeploymentName) -> None:
    assert DeploymentName.parse(name.format()) == name


@given(valid_names)
def test_format_is_a_legal_prefect_name(name: DeploymentName) -> None:
    text = name.format()
    assert is_legal_prefect_name(text)
    assert not set(text) & (FORBIDDEN_NAME_CHARS | set("/%&<>?#"))
    assert not any(ch.isspace() for ch in text)
    assert text.count(SEPARATOR) == 3


@given(valid_names)
def test_parts_never_contain_the_separator(name: DeploymentName) -> None:
    for part in (name.project, name.branch, name.flow, name.env):
        assert SEPARATOR not in part
        assert part


@given(st.text(max_size=80))
def test_parse_never_raises_on_arbitrary_text(text: str) -> None:
    parsed = DeploymentName.parse(text)
    assert parsed is None or parsed.format() == text


@given(st.lists(st.sampled_from(["a", "b1", "x.y", "-", "--", "_", "/", " "]), max_size=12))
def test_parse_never_raises_on_separator_heavy_text(pieces: list[str]) -> None:
    text = "".join(pieces)
    parsed = DeploymentName.parse(text)
    assert parsed is None or parsed.format() == text


@given(valid_names)
def test_flow_key_survives_the_hyphen_form(name: DeploymentName) -> None:
    assert is_flow_key(name.flow_key)
    assert hyphen_form(name.flow_key) == name.flow


# --- normalization and slugs --------------------------------------------------------


@given(raw_text)
def test_normalize_flow_key_is_idempotent(text: str) -> None:
    key = normalize_flow_key(text)
    assert normalize_flow_key(key) == key
    assert key == "" or is_flow_key(key)


@given(raw_text)
def test_normalized_keys_round_trip_through_hyphen_form(text: str) -> None:
    key = normalize_flow_key(text)
    assume(key)
    assert key_from_hyphen_form(hyphen_form(key)) == key


@given(raw_text)
def test_slugify_is_idempotent_and_clean(text: str) -> None:
    try:
        slug = slugify(text)
    except NameRuleError:
        # Refused only when nothing slug-worthy is left.
        assert not any(ch.isascii() and (ch.isalnum() or ch == ".") for ch in text)
        return
    assert slugify(slug) == slug
    assert is_slug(slug)
    assert "--" not in slug
    assert not slug.startswith("-") and not slug.endswith("-")
    assert is_legal_prefect_name(slug)


# --- tags ----------------------------------------------------------------------------

tag_keys = st.text(min_size=1, max_size=20).filter(lambda k: "=" not in k)
tag_values = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[a-z =]{0,10}=[^\n]{0,10}", fullmatch=True),  # surely contains '='
    st.text(alphabet="é漢字 \t=🙂", max_size=20),
)


@given(tag_keys, tag_values)
def test_make_and_split_tag_round_trip(key: str, value: str) -> None:
    tag = make_tag(key, value)
    assert split_tag(tag) == (key, value)
    assert parse_tag(tag) == (key, value)


@given(st.text(max_size=20), tag_values)
def test_make_tag_refuses_bad_keys(key: str, value: str) -> None:
    if key and "=" not in key:
        make_tag(key, value)
    else:
        with pytest.raises(TagError):
            make_tag(key, value)


@given(st.text(max_size=30))
def test_split_tag_never_raises(tag: str) -> None:
    split = split_tag(tag)
    if split is None:
        assert "=" not in tag or tag.startswith("=")
    else:
        assert f"{split[0]}={split[1]}" == tag


@given(tag_keys, tag_values, tag_values, st.text(min_size=1, max_size=5).filter(lambda p: "=" not in p))
def test_tag_value_matches_keys_exactly(key: str, wanted: str, other: str, prefix: str) -> None:
    # A key that merely contains ours (OLD_COMMIT_HASH vs COMMIT_HASH) never matches,
    # whichever comes first.
    decoys = [make_tag(prefix + key, other), make_tag(key + prefix, other), "plain-user-tag"]
    assert tag_value([*decoys, make_tag(key, wanted)], key) == wanted
    assert tag_value([make_tag(key, wanted), *decoys], key) == wanted
    assert tag_value(decoys, key) is None


version_tags = st.builds(VersionTags, tag_values, tag_values, tag_values, tag_values)


@given(version_tags)
def test_version_tags_round_trip(version: VersionTags) -> None:
    tags = version.to_tags()
    assert VersionTags.from_tags(tags) == version
    assert is_managed(tags)
    assert user_tags(tags) == ()


@given(version_tags, st.lists(st.text(max_size=15), max_size=5))
def test_version_tags_survive_user_tags(version: VersionTags, extra: list[str]) -> None:
    extra = [t for t in extra if split_tag(t) is None or split_tag(t)[0] not in {  # type: ignore[index]
        PROJECT_NAME, BRANCH_NAME, COMMIT_HASH, PACKAGE_VERSION, MANAGED_BY}]
    tags = [*extra, *version.to_tags(), *extra]
    assert VersionTags.from_tags(tags) == version
    assert list(user_tags(tags)) == [*extra, *extra]


@given(version_tags, st.sampled_from([PROJECT_NAME, BRANCH_NAME, COMMIT_HASH, PACKAGE_VERSION]))
def test_version_tags_need_all_four(version: VersionTags, missing: str) -> None:
    tags = [t for t in version.to_tags() if split_tag(t)[0] != missing]  # type: ignore[index]
    assert VersionTags.from_tags(tags) is None
