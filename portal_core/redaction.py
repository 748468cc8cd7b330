"""Keeping secret values out of everything the tool shows or stores.

Every text that leaves the tool (plans, diffs, errors, JSON, records, logs)
can pass through one `Redactor` that knows the secret values of the run (the
environment's `secrets:`, the API key, tokens) and masks them wherever they
appear, including inside error bodies a server echoes back. Credentials
written into URLs (`http://user:PASSWORD@host`) are masked without being told.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

MASK = "<secret>"

#: Variables that hold credentials whatever the config says. Here, beside the
#: masking, so that a command can mask them before (or without) loading the
#: environment model; `portal_core.environment.secret_variable_names` starts from them.
CREDENTIAL_VARIABLES = ("PREFECT_API_KEY", "GITHUB_TOKEN", "GH_TOKEN")

# scheme://user:password@ -> scheme://user:<secret>@ ; scheme://token@ -> scheme://<secret>@
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@'\"<>]+)@")


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group("userinfo").partition(":")
    masked = f"{user}:{MASK}" if sep else MASK
    return f"{match.group('scheme')}{masked}@"


def mask_url_credentials(text: str) -> str:
    """`http://me:pw@host/api` -> `http://me:<secret>@host/api`, anywhere in `text`."""
    return _URL_CREDENTIALS.sub(_mask_userinfo, text)


def _as_secrets(values: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a secret that contains another is masked whole.
    kept = {v for v in values if isinstance(v, str) and v.strip()}
    return tuple(sorted(kept, key=lambda v: (-len(v), v)))


@attrs.frozen
class Redactor:
    """Masks known secret values and URL credentials in text and in JSON-like data."""

    secrets: tuple[str, ...] = attrs.field(default=(), converter=_as_secrets)

    def with_secrets(self, values: Iterable[str]) -> Redactor:
        return Redactor((*self.secrets, *values))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return mask_url_credentials(value)

    def data(self, value: Any) -> Any:
        """The same structure with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


NO_SECRETS = Redactor()
