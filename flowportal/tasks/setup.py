"""`flowportal init`: write the config a repository needs, print what was written."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from flowportal.tasks.common import one_line_errors


@task(help={
    "force": "overwrite files that exist with other content (default: keep them)",
    "acme-portal": "also write .acme_portal_sdk/*.py for the acme-portal VS Code extension",
    "json": "print what was decided and written as JSON",
})
@one_line_errors
def init(c: Context, force: bool = False, acme_portal: bool = False, json: bool = False) -> None:
    """Configure this repository for flowportal (never overwrites without --force)."""
    from pathlib import Path

    from flowportal import render
    from flowportal.project import find_project_root
    from flowportal.usecases.init import InitRequest, init_project

    outcome = init_project(find_project_root(Path.cwd()),
                           InitRequest(force=force, acme_portal=acme_portal))
    if json:
        render.print_json(outcome.to_json())
        return
    out = render.console()
    config = outcome.config
    out.print(f"project {render.escape(config.project)}: {outcome.flows_found} flows under "
              f"{render.escape(config.flows_root)}"
              + (f", static config {render.escape(config.static_config)}" if config.static_config else "")
              + (f", {config.flow_name_style} naming" if config.flow_name_style != "prefect" else ""))
    for action in outcome.actions:
        label = {"create": "[green]wrote[/]", "overwrite": "[yellow]overwrote[/]",
                 "unchanged": "[dim]unchanged[/]", "kept": "[yellow]kept[/]"}[action.action]
        note = " (exists with other content; --force overwrites it)" if action.action == "kept" else ""
        out.print(f"  {label} {render.escape(action.path)}{note}")
    if not outcome.written:
        out.print("nothing written: the repository is already set up"
                  + (" (files kept as they are)" if outcome.kept else ""))
