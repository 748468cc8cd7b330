"""No secret value survives redaction, whatever text it hides in (properties)."""

from __future__ import annotations

import io
import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal_core.redaction import MASK, Redactor, mask_url_credentials

secrets = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=4, max_size=24).filter(
    lambda s: s.strip() != "")
texts = st.text(max_size=60)


def shows(output: str, secret: str) -> bool:
    """True when the secret appears in output outside the masks that replaced it."""
    return any(secret in piece for piece in output.split(MASK))


@given(secrets, st.lists(texts, min_size=1, max_size=4))
def test_a_known_secret_never_survives_in_text(secret: str, around: list[str]) -> None:
    text = secret.join(around) + secret
    assert not shows(Redactor([secret]).text(text), secret)


@given(st.lists(secrets, min_size=1, max_size=3, unique=True), st.lists(texts, max_size=4))
def test_several_secrets_even_overlapping_never_survive(values: list[str], around: list[str]) -> None:
    text = "".join(a + v for a, v in zip(around + [""] * len(values), values, strict=False))
    redacted = Redactor(values).text(text)
    assert not any(shows(redacted, v) for v in values)


@given(secrets, st.recursive(texts, lambda inner: st.lists(inner, max_size=3)
                             | st.dictionaries(texts, inner, max_size=3), max_leaves=8))
def test_json_like_data_is_redacted_in_keys_and_values(secret: str, data: object) -> None:
    nested = {"env": {secret: [data, f"x{secret}y"]}, "other": data}
    redacted = Redactor([secret]).data(nested)
    # every key and value as a reader of the document gets it (checked on the decoded
    # text: JSON's own escapes, e.g. "\u0000" for a NUL, are not the secret's characters)
    assert not any(shows(text, secret) for text in _strings(json.loads(json.dumps(redacted))))


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


@given(st.sampled_from(["http", "https", "postgresql+asyncpg"]), st.text("abcXYZ019", min_size=1, max_size=8),
       st.text("pw!$%^*()_-=;,.~", min_size=1, max_size=12))
def test_url_passwords_are_masked_without_being_told(scheme: str, user: str, password: str) -> None:
    text = f"cannot reach {scheme}://{user}:{password}@db.example:5432/api (refused)"
    masked = mask_url_credentials(text)
    assert f"{scheme}://{user}:{MASK}@db.example:5432/api" in masked
    assert f":{password}@" not in masked


@settings(deadline=None)
@given(secrets, texts)
def test_every_cli_output_path_masks_the_runs_secrets(secret: str, text: str) -> None:
    """Error and warning lines, JSON documents and rich tables all pass through one redactor."""
    from flowportal import render

    out, err = io.StringIO(), io.StringIO()
    stdout, stderr = sys.stdout, sys.stderr
    render.use_redactor(Redactor([secret]))
    try:
        sys.stdout, sys.stderr = out, err
        render.error_line(f"{text} server said: {secret}")
        render.warning_line(secret + text)
        render.print_json({"detail": [text, secret], secret: 1})
        render.console().print(render.escape(f"{text}{secret}"))
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        render.use_redactor(Redactor())
    assert not shows(out.getvalue(), secret)
    assert not shows(err.getvalue(), secret)


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_blank_values_are_not_secrets(value: str) -> None:
    assert Redactor([value]).text("a b\nc") == "a b\nc"
