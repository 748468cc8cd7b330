"""Find flows: in a given directory, or in the project's configured flows root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from flowportal.project import find_project_root
from flowportal.workspace import ENVIRONMENTS_FILE, discover_flows, discover_project_flows, user_cache_dir
from portal_core.discovery import Discovery, flow_to_record


@attrs.frozen
class FlowListing:
    root: Path
    discovery: Discovery

    def records(self) -> list[dict[str, Any]]:
        """Seed-SDK FlowDetails records; a flow whose key another flow shares says so in
        `child_attributes.key_collision` (every location of that key)."""
        records = []
        for flow in self.discovery.flows:
            record = flow_to_record(flow, str(self.root))
            collision = self.discovery.collision_of(flow.key)
            if collision is not None:
                record["child_attributes"] = {**record["child_attributes"],  # type: ignore[dict-item]
                                              "key_collision": list(collision.locations)}
            records.append(record)
        return records


def list_flows(root: Path | None, cwd: Path) -> FlowListing:
    """`root` given: scan it, paths relative to it. Else the project's flows root.

    Either way the per-file results are cached (for a directory that is not a
    configured project, in the user's cache, keyed by the directory), so a
    repeated `list-flows --root` parses only what changed.
    """
    if root is not None:
        root = root.resolve()
        return FlowListing(root, discover_flows(root, cache_dir=user_cache_dir(root)))
    project = find_project_root(cwd)
    if (project / ENVIRONMENTS_FILE).is_file():
        # The config is validated as by every command, through a memo that spares
        # the YAML parse while nothing it depends on has changed.
        from flowportal.config_memo import project_flows_root

        return FlowListing(project, discover_project_flows(project, project_flows_root(project)))
    return FlowListing(project, discover_flows(project, cache_dir=user_cache_dir(project)))
