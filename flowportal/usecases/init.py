"""`flowportal init`: make a repository deployable with no file edited by hand.

Facts are gathered here (pyproject, an AST scan for flows, which files exist);
the decisions and file texts come from `portal_core.scaffold`. Files that exist
with other content are kept unless `force`; a second run writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from flowportal.workspace import discover_flows
from portal_core.scaffold import (
    SDK_DIR,
    STATIC_CONFIG_PLACES,
    FileAction,
    InitConfig,
    RepoFacts,
    decide,
    file_actions,
    planned_files,
)
from portal_io.project_files import read_pyproject


@attrs.frozen
class InitRequest:
    force: bool = False
    acme_portal: bool = False  # also write the four `.acme_portal_sdk/*.py` modules


@attrs.frozen
class InitOutcome:
    root: Path
    config: InitConfig
    actions: tuple[FileAction, ...]
    flows_found: int

    @property
    def written(self) -> tuple[FileAction, ...]:
        return tuple(a for a in self.actions if a.action in ("create", "overwrite"))

    @property
    def kept(self) -> tuple[FileAction, ...]:
        return tuple(a for a in self.actions if a.action == "kept")

    @property
    def exit_code(self) -> int:
        return 0

    def to_json(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "project": self.config.project,
            "flows_root": self.config.flows_root,
            "static_config": self.config.static_config,
            "flow_name_style": self.config.flow_name_style,
            "flows_found": self.flows_found,
            "files": [{"path": a.path, "action": a.action} for a in self.actions],
        }


def gather_facts(root: Path) -> RepoFacts:
    discovery = discover_flows(root)  # the whole repository, by AST: nothing is imported
    paths = tuple(sorted({f.relative_path for f in discovery.flows}))
    existing = frozenset(p for p in STATIC_CONFIG_PLACES if (root / p).is_file())
    return RepoFacts(
        directory_name=root.name,
        pyproject_name=read_pyproject(root).name,
        flow_paths=paths,
        existing=existing,
        uses_acme_portal_sdk=_used_the_sdk(root),
        sdk_modules={m: text for m in ("flow_deploy", "deployment_promote")
                     if (text := _read(root / SDK_DIR / f"{m}.py")) is not None},
    )


def _used_the_sdk(root: Path) -> bool:
    """Evidence that deployments were made by the seed SDK: its static config in its
    folder, one of its own classes in the extension's modules, or CI calling its CLI.
    (Our own `.acme_portal_sdk/` modules are not evidence, so init stays idempotent.)"""
    sdk_dir = root / SDK_DIR
    if (sdk_dir / "static_flow_deploy_config.yaml").is_file():
        return True
    modules = sorted(sdk_dir.glob("*.py")) if sdk_dir.is_dir() else []
    if any("acme_portal_sdk." in (_read(m) or "") for m in modules):
        return True
    workflows = root / ".github" / "workflows"
    files = sorted(workflows.glob("*.y*ml")) if workflows.is_dir() else []
    return any("aps-prefect-deploy" in (_read(f) or "") for f in files)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def init_project(root: Path, request: InitRequest) -> InitOutcome:
    facts = gather_facts(root)
    config = decide(facts)
    planned = planned_files(config, request.acme_portal)
    current = {path: _read(root / path) for path, _ in planned}
    actions = file_actions(planned, current, request.force)
    texts = dict(planned)
    for action in actions:
        if action.action in ("create", "overwrite"):
            _write(root / action.path, texts[action.path])
    flows_root = config.flows_root.strip("/")
    counted = sum(1 for p in facts.flow_paths
                  if flows_root in ("", ".") or p.startswith(flows_root + "/"))
    return InitOutcome(root=root, config=config, actions=tuple(actions), flows_found=counted)


def _write(path: Path, text: str) -> None:
    """Write through a temporary file so an interrupted init leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
