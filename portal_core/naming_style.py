"""How a deployment's Prefect flow name, version string and tags are formed.

Two styles exist because two tools have written deployments to the same
workspaces. A deployment lives under a Prefect *flow*, and Prefect keys
deployments by (flow, name): if one tool files `acme--main--hello-world--dev`
under flow `hello-world` and the other under flow `hello_world`, the workspace
ends up with two deployments of one name, each with its own schedule, and every
scheduled run happens twice. A project therefore picks one style and every entry
point (the CLI, CI's `aps-prefect-deploy`, the editor) follows it.

* `prefect` (default): the flow name Prefect itself gives (`name=` or the
  function name with `-`), version `{package_version}+{commit}`, and a
  `MANAGED_BY=flowportal` tag next to the four version tags.
* `sdk`: exactly what the seed SDK's deploy produced: the flow name in
  underscore form (`hello_world`), version `{branch}-{commit}`, and only the
  four version tags.

Deployment names are the same in both styles.
"""

from __future__ import annotations

from portal_core.flows import FlowRecord
from portal_core.tags import MANAGED_BY, VersionTags, split_tag

PREFECT = "prefect"
SDK = "sdk"


def flow_name_for(style: str, flow: FlowRecord) -> str:
    """The Prefect flow a deployment of `flow` is filed under."""
    if style == SDK:
        # The SDK took `name=` (or the function name) and turned `-` into `_`.
        return flow.original_name.replace("-", "_")
    return flow.prefect_flow_name


def version_for(style: str, version: VersionTags) -> str:
    if style == SDK:
        return f"{version.branch}-{version.commit}"
    return f"{version.package_version}+{version.commit}"


def tags_for(style: str, version: VersionTags, user: tuple[str, ...]) -> tuple[str, ...]:
    """Version tags first, then the user's (deduplicated, in their order)."""
    ours = version.to_tags()
    if style == SDK:
        ours = tuple(t for t in ours if (split_tag(t) or ("", ""))[0] != MANAGED_BY)
    return (*ours, *(t for t in user if t not in ours))
