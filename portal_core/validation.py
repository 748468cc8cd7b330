"""Rules for single config values that Prefect would otherwise reject mid-apply.

A value that passes the plan but fails at the server leaves a half-applied
deploy (a work pool created, some deployments written, then an error). Each
rule here runs while the config is loaded, so the error names the file, line
and key and nothing has been written yet.

Every function is pure: what needs the system (the list of time zones, the
resolved location of a path) is passed in by the shell.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import string
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from portal_core.errors import ConfigError
from portal_core.redaction import mask_url_credentials

#: A 32-bit signed integer column on Postgres-backed servers.
MAX_CONCURRENCY_LIMIT = 2**31 - 1

#: Prefect refuses these in names of work pools, queues, flows, deployments...
PREFECT_BANNED_NAME_CHARS = "/%&<>"
#: ...and these pass Prefect's check but break the name inside a URL path or
#: query (`/work_pools/{name}`), so reads of the pool go wrong.
URL_BREAKING_NAME_CHARS = "?#"


def name_problem(name: str, what: str) -> str | None:
    """Why `name` cannot name a Prefect object (`what`: "work pool", ...), or None."""
    if not name.strip():
        return f"{what} name is empty"
    if name != name.strip():
        return f"{what} name {name!r} has leading or trailing spaces"
    bad = sorted({ch for ch in name if ch in PREFECT_BANNED_NAME_CHARS + URL_BREAKING_NAME_CHARS})
    if bad:
        return (
            f"{what} name {name!r} contains {' '.join(bad)}; Prefect names cannot contain"
            f" {' '.join(PREFECT_BANNED_NAME_CHARS + URL_BREAKING_NAME_CHARS)}"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return f"{what} name {name!r} contains control characters"
    return None


def timezone_problem(name: str, known: Collection[str]) -> str | None:
    """Why `name` is not an IANA time zone; `known` is the system's list (empty: unknown)."""
    if not known or name in known:
        return None
    by_case = {zone.lower(): zone for zone in known}
    hint = by_case.get(name.strip().lower())
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
    if hint is None and close:
        hint = close[0]
    suggestion = f"; did you mean {hint!r}?" if hint else " (e.g. 'UTC', 'Europe/Paris')"
    return f"timezone {name!r} is not an IANA time zone name{suggestion}"


def api_url_problem(url: str, key: str) -> str | None:
    """Why `url` cannot be a Prefect API or UI address: http(s) with a host, or None.

    The URL is quoted with any credentials in it masked.
    """
    shown = mask_url_credentials(url)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as err:
        return f"{key} {shown!r} is not a valid URL ({err})"
    if parts.scheme not in ("http", "https"):
        scheme = f"{parts.scheme!r}" if parts.scheme else "none"
        return f"{key} {shown!r} must start with http:// or https:// (scheme: {scheme})"
    if not parts.hostname:
        return f"{key} {shown!r} has no host"
    if port == 0:
        return f"{key} {shown!r} has port 0"
    if any(ch.isspace() for ch in url):
        return f"{key} {shown!r} contains whitespace"
    return None


IMAGE_FIELDS = ("project", "branch", "commit", "version")


def image_template_problem(template: str) -> str | None:
    """Why `template` is not a plain `{project}`/`{branch}`/`{commit}`/`{version}` template.

    `str.format` would also run format specs (`{branch:>999999999}` builds a
    gigabyte string), conversions and attribute look-ups; only bare fields are
    allowed.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        return f"image_template {template!r} is invalid ({err}); use {{project}}, {{branch}}, {{commit}}, {{version}}"
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in IMAGE_FIELDS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return (
                f"image_template {template!r}: {shown} is not allowed;"
                " use only {project}, {branch}, {commit}, {version}"
            )
    return None


def json_datetime(value: dt.datetime) -> str:
    """The text Prefect stores for a datetime parameter (pydantic's JSON form).

    ISO 8601; the offset as `Z` when zero, else `+HH:MM` (seconds of historic
    offsets dropped, as pydantic does). Sending this text instead of the
    datetime makes the deployed value equal to the planned one, so a re-deploy
    finds nothing to change.
    """
    text = value.replace(tzinfo=None).isoformat()
    offset = value.utcoffset()
    if offset is None:
        return text
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return text + "Z"
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def json_value(value: Any, path: tuple[str | int, ...]) -> Any:
    """`value` as plain JSON data, dates as the ISO text the server stores.

    Refused (at `path`): NaN and infinities (JSON has no such numbers; the API
    rejects or mangles them), keys that are not strings (JSON turns `1:` into
    `"1"`, which would never compare equal again), and anything that is not
    JSON data.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{value!r} is not a JSON number; quote it if text is meant", path)
        return value
    if isinstance(value, dt.datetime):
        return json_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"key {key!r} is not text; JSON keys are strings (quote it: '{key}')",
                    (*path, key),
                )
            result[key] = json_value(item, (*path, key))
        return result
    if isinstance(value, (list, tuple)):
        return [json_value(item, (*path, index)) for index, item in enumerate(value)]
    raise ConfigError(f"{type(value).__name__} values cannot be sent to Prefect", path)


def is_inside(root: str, candidate: str) -> bool:
    """Whether the resolved absolute POSIX path `candidate` is `root` or below it.

    Both must already be resolved (symlinks followed, no `..`): the shell does
    that, this only compares.
    """
    base = root.rstrip("/")
    return candidate == base or candidate.startswith(base + "/") or base == ""


# --------------------------------------------------------------------------- per config entry


def limit_problem(limit: int) -> str | None:
    """A deployment's concurrency limit: at least one run, at most what Prefect stores."""
    if limit < 1:
        return "concurrency_limit must be at least 1"
    if limit > MAX_CONCURRENCY_LIMIT:
        return f"concurrency_limit {limit} is larger than {MAX_CONCURRENCY_LIMIT}, the most Prefect stores"
    return None


def checked_flow_settings(value: Any, path: tuple[str | int, ...], timezones: Collection[str]) -> Any:
    """One static-config entry (a `StaticFlowConfig`) checked, parameters made JSON.

    Raises `ConfigError` at the offending key under `path`.
    """
    if value.timezone is not None and (problem := timezone_problem(value.timezone, timezones)):
        raise ConfigError(problem, (*path, "timezone"))
    if value.concurrency_limit is not None and (problem := limit_problem(value.concurrency_limit)):
        raise ConfigError(problem, (*path, "concurrency_limit"))
    for key, what in (("work_pool_name", "work pool"), ("work_queue_name", "work queue")):
        name = getattr(value, key)
        if name is not None and (problem := name_problem(name, what)):
            raise ConfigError(problem, (*path, key))
    return attrs.evolve(
        value,
        parameters=json_value(value.parameters, (*path, "parameters")),
        job_variables=json_value(value.job_variables, (*path, "job_variables")),
    )


def checked_environment(value: Any, path: tuple[str | int, ...]) -> Any:
    """One environment (an `EnvironmentConfig`) checked; raises `ConfigError` under `path`."""
    for key in ("prefect_api_url", "ui_url"):
        url = getattr(value, key)
        if url is not None and (problem := api_url_problem(url, key)):
            raise ConfigError(problem, (*path, key))
    if value.work_pool is not None and (problem := name_problem(value.work_pool.name, "work pool")):
        raise ConfigError(problem, (*path, "work_pool", "name"))
    if value.work_queue is not None and (problem := name_problem(value.work_queue, "work queue")):
        raise ConfigError(problem, (*path, "work_queue"))
    if value.concurrency_limit is not None and (problem := limit_problem(value.concurrency_limit)):
        raise ConfigError(problem, (*path, "concurrency_limit"))
    pull_steps = value.pull_steps
    if pull_steps is not None:
        pull_steps = json_value(pull_steps, (*path, "pull_steps"))
    return attrs.evolve(
        value,
        job_variables=json_value(value.job_variables, (*path, "job_variables")),
        pull_steps=pull_steps,
    )


def path_text_problem(value: str, key: str) -> str | None:
    """Why `value` cannot be a file-system path at all (checked before touching the disk)."""
    if "\x00" in value:
        return f"{key} {value!r} contains a NUL character"
    if len(value) > 1024 or any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in value.split("/")):
        return f"{key} is too long for a path (at most 255 bytes per folder name, 1024 in all)"
    return None
