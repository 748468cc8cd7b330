"""Find flows: in a given directory, or in the project's configured flows root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from flowportal.project import find_project_root
from flowportal.workspace import ENVIRONMENTS_FILE, discover_flows, load_workspace
from portal_core.discovery import Discovery, flow_to_record


@attrs.frozen
class FlowListing:
    root: Path
    discovery: Discovery

    def records(self) -> list[dict[str, Any]]:
        return [flow_to_record(f, str(self.root)) for f in self.discovery.flows]


def list_flows(root: Path | None, cwd: Path) -> FlowListing:
    """`root` given: scan it, paths relative to it. Else the project's flows root."""
    if root is not None:
        root = root.resolve()
        return FlowListing(root, discover_flows(root))
    project = find_project_root(cwd)
    if (project / ENVIRONMENTS_FILE).is_file():
        workspace = load_workspace(project)
        return FlowListing(project, workspace.discover())
    return FlowListing(project, discover_flows(project))
