"""`KEY=VALUE` tags carry the exact project, branch, commit and version.

Names are slugged and so lossy; tags are not. A tag splits on its *first* `=`
(values may contain `=`), keys match exactly (`COMMIT_HASH` never matches
`OLD_COMMIT_HASH`), and a tag without `=` is a plain user tag, not an error,
when reading deployments made by others.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from portal_core.errors import TagError

PROJECT_NAME = "PROJECT_NAME"
BRANCH_NAME = "BRANCH_NAME"
COMMIT_HASH = "COMMIT_HASH"
PACKAGE_VERSION = "PACKAGE_VERSION"
MANAGED_BY = "MANAGED_BY"
MANAGED_BY_VALUE = "flowportal"

#: Tags that flowportal owns; user tags with these keys are refused.
RESERVED_KEYS = frozenset({PROJECT_NAME, BRANCH_NAME, COMMIT_HASH, PACKAGE_VERSION, MANAGED_BY})


def make_tag(key: str, value: str) -> str:
    if not key or "=" in key:
        raise TagError(f"tag key {key!r} must be non-empty and contain no '='")
    return f"{key}={value}"


def split_tag(tag: str) -> tuple[str, str] | None:
    """`("K", "v=w")` for `"K=v=w"`; None for a tag without `=`."""
    key, sep, value = tag.partition("=")
    if not sep or not key:
        return None
    return key, value


def parse_tag(tag: str) -> tuple[str, str]:
    """Like `split_tag` but for tags that must be `KEY=VALUE` (e.g. from our config)."""
    split = split_tag(tag)
    if split is None:
        raise TagError(f"tag {tag!r} is not of the form KEY=VALUE")
    return split


def tag_value(tags: Iterable[str], key: str) -> str | None:
    """The value of the first tag whose key is exactly `key`."""
    for tag in tags:
        split = split_tag(tag)
        if split is not None and split[0] == key:
            return split[1]
    return None


@attrs.frozen
class VersionTags:
    """The exact identity of a deployed code version, as carried in tags."""

    project: str
    branch: str
    commit: str
    package_version: str

    def to_tags(self) -> tuple[str, ...]:
        return (
            make_tag(PROJECT_NAME, self.project),
            make_tag(BRANCH_NAME, self.branch),
            make_tag(COMMIT_HASH, self.commit),
            make_tag(PACKAGE_VERSION, self.package_version),
            make_tag(MANAGED_BY, MANAGED_BY_VALUE),
        )

    @classmethod
    def from_tags(cls, tags: Iterable[str]) -> VersionTags | None:
        """None unless all four version tags are present (the managed marker is optional
        so deployments made by the seed SDK, which had no marker, are still readable)."""
        tags = tuple(tags)
        values = [tag_value(tags, k) for k in (PROJECT_NAME, BRANCH_NAME, COMMIT_HASH, PACKAGE_VERSION)]
        if any(v is None for v in values):
            return None
        project, branch, commit, version = values
        return cls(project=project, branch=branch, commit=commit, package_version=version)  # type: ignore[arg-type]


def is_managed(tags: Iterable[str]) -> bool:
    return tag_value(tags, MANAGED_BY) == MANAGED_BY_VALUE


def user_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags that are not ours, in their original order."""
    kept = []
    for tag in tags:
        split = split_tag(tag)
        if split is None or split[0] not in RESERVED_KEYS:
            kept.append(tag)
    return tuple(kept)
