"""Naming rules: flow keys, slugs and deployment names.

Deployment names are `{project}--{branch}--{hyphen_flow}--{env}`. Every part is
made of characters Prefect accepts in names and that survive a look-up by name
in a URL path, and no part can contain `--`, so a name splits back into exactly
its four parts. Slugging is lossy (`feature/x` and `feature-x` agree), which is
why the exact values also travel in tags (see `portal_core.tags`).
"""

from __future__ import annotations

import re

import attrs

from portal_core.errors import NameRuleError

#: Characters Prefect refuses in names (`/ % & < >`) plus those that break a
#: look-up by name (`? #`).
FORBIDDEN_NAME_CHARS = frozenset("/%&<>?#")

SEPARATOR = "--"

_NOT_KEY_CHAR = re.compile(r"[^A-Za-z0-9]+")
_NOT_SLUG_CHAR = re.compile(r"[^A-Za-z0-9.]+")
_KEY = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")
_HYPHEN_KEY = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_SLUG = re.compile(r"[A-Za-z0-9.]+(?:-[A-Za-z0-9.]+)*")


def normalize_flow_key(name: str) -> str:
    """Map a flow's name to its key: runs of non-alphanumerics become one `_`.

    Keys are what users type (`--flow hello_world`) and what config is keyed by,
    so they must not depend on whether the author wrote `hello-world` or
    `hello_world`. Returns "" when nothing alphanumeric is left; callers decide
    whether that is an error.
    """
    return _NOT_KEY_CHAR.sub("_", name).strip("_")


def is_flow_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


def hyphen_form(flow_key: str) -> str:
    """The flow part of a deployment name: `_` -> `-`; reversible for valid keys."""
    return flow_key.replace("_", "-")


def key_from_hyphen_form(value: str) -> str:
    return value.replace("-", "_")


def slugify(value: str, what: str = "value") -> str:
    """Turn a project, branch or env name into a name part.

    `what` only serves the error message, e.g. "branch".
    """
    slug = _NOT_SLUG_CHAR.sub("-", value).strip("-")
    if not slug:
        raise NameRuleError(
            f"{what} {value!r} has no letters, digits or dots; it cannot be part of a deployment name"
        )
    return slug


def is_slug(value: str) -> bool:
    return _SLUG.fullmatch(value) is not None


def is_legal_prefect_name(value: str) -> bool:
    """Whether Prefect accepts `value` as a name and can look it up again by name."""
    return bool(value) and not (FORBIDDEN_NAME_CHARS & set(value)) and not any(
        ch.isspace() for ch in value
    )


@attrs.frozen
class DeploymentName:
    """The four parts of a managed deployment's name, each already a valid part."""

    project: str
    branch: str
    flow: str  # hyphen form of the flow key
    env: str

    def __attrs_post_init__(self) -> None:
        for field, value in (("project", self.project), ("branch", self.branch), ("env", self.env)):
            if not is_slug(value):
                raise NameRuleError(f"{field} part {value!r} is not a valid slug")
        if not _HYPHEN_KEY.fullmatch(self.flow):
            raise NameRuleError(f"flow part {self.flow!r} is not a hyphenated flow key")

    @classmethod
    def build(cls, project: str, branch: str, flow_key: str, env: str) -> DeploymentName:
        """Build from raw values, slugging project/branch/env and hyphenating the key."""
        key = normalize_flow_key(flow_key)
        if not key:
            raise NameRuleError(f"flow name {flow_key!r} has no letters or digits")
        return cls(
            project=slugify(project, "project"),
            branch=slugify(branch, "branch"),
            flow=hyphen_form(key),
            env=slugify(env, "environment"),
        )

    @property
    def flow_key(self) -> str:
        return key_from_hyphen_form(self.flow)

    def format(self) -> str:
        return SEPARATOR.join((self.project, self.branch, self.flow, self.env))

    def __str__(self) -> str:
        return self.format()

    @classmethod
    def parse(cls, text: str) -> DeploymentName | None:
        """Split a deployment name; None means "not of our shape" (not managed by us)."""
        parts = text.split(SEPARATOR)
        if len(parts) != 4:
            return None
        project, branch, flow, env = parts
        if not (is_slug(project) and is_slug(branch) and is_slug(env)):
            return None
        if not _HYPHEN_KEY.fullmatch(flow):
            return None
        return cls(project=project, branch=branch, flow=flow, env=env)


def prefect_flow_name(original_name: str | None, function_name: str) -> str:
    """The name Prefect itself gives a flow: `name=` if set, else the function name with `-`.

    Deployments hang off a Prefect flow object; using Prefect's own naming keeps
    ours interchangeable with deployments made by `flow.deploy()`.
    """
    return original_name if original_name else function_name.replace("_", "-")
