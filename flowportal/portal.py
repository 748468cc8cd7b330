"""The Python facade: the same verbs as the CLI, returning values and printing nothing.

    from flowportal import Portal
    portal = Portal(".")
    flows = portal.list_flows()
    plan = portal.deploy(["hello_world"], env="dev", dry_run=True).plan
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flowportal.project import find_project_root
from flowportal.usecases.applying import Outcome
from flowportal.usecases.deploy import DeployRequest
from flowportal.usecases.drift import DriftOutcome
from flowportal.usecases.history import HistoryListing
from flowportal.usecases.init import InitOutcome
from flowportal.usecases.list_deployments import DeploymentListing
from flowportal.usecases.promote import PromoteRequest
from flowportal.usecases.prune import PruneOutcome, PruneRequest
from flowportal.usecases.rollback import RollbackRequest
from flowportal.workspace import Workspace, load_workspace
from portal_core.discovery import Discovery
from portal_core.flows import FlowRecord

if TYPE_CHECKING:
    from flowportal.bootstrap import Dependencies


class Portal:
    """One project. Config is read once, when the first verb needs it.

    `deps` replaces the real adapters (Prefect API, git, GitHub), e.g. with
    in-memory ones in tests; by default they are wired by `flowportal.bootstrap`.
    """

    def __init__(self, root: str | Path | None = None, *, deps: Dependencies | None = None) -> None:
        self.root = find_project_root(Path(root) if root is not None else Path.cwd())
        self._workspace: Workspace | None = None
        self._deps = deps

    @property
    def deps(self) -> Dependencies:
        if self._deps is None:
            from flowportal.bootstrap import bootstrap

            self._deps = bootstrap()
        return self._deps

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = load_workspace(self.root)
        return self._workspace

    def init(self, *, force: bool = False, acme_portal: bool = False) -> InitOutcome:
        """Write this repository's config (and, with `acme_portal`, the extension's modules)."""
        from flowportal.usecases.init import InitRequest, init_project

        outcome = init_project(self.root, InitRequest(force=force, acme_portal=acme_portal))
        self._workspace = None  # the config may have just been written
        return outcome

    def discover(self, root: str | Path | None = None) -> Discovery:
        """Flows plus parse errors and key collisions (nothing raised for them)."""
        from flowportal.usecases.list_flows import list_flows

        return list_flows(Path(root) if root is not None else None, self.root).discovery

    def list_flows(self, root: str | Path | None = None) -> list[FlowRecord]:
        """The flows, sorted by key. Flows that share a key are all listed (see `discover`
        for the collisions); only deploying such a key is refused."""
        return list(self.discover(root).flows)

    def list_deployments(self, envs: Sequence[str] | str | None = None) -> DeploymentListing:
        from flowportal.usecases.list_deployments import list_deployments

        return list_deployments(self.workspace, [envs] if isinstance(envs, str) else envs, self.deps)

    def deploy(
        self,
        flows: Sequence[str] | str,
        env: str,
        *,
        dry_run: bool = False,
        branch: str | None = None,
        commit: str | None = None,
        package_version: str | None = None,
        image: str | None = None,
        adopt: bool = False,
    ) -> Outcome:
        from flowportal.usecases.deploy import deploy

        request = DeployRequest(flows=flows, env=env, branch=branch, commit=commit,
                                package_version=package_version, image=image, dry_run=dry_run,
                                adopt=adopt)
        return deploy(self.workspace, request, self.deps)

    def promote(
        self,
        src: str,
        dst: str,
        flows: Sequence[str] | str = (),
        *,
        branch: str | None = None,
        force: bool = False,
        dry_run: bool = False,
        adopt: bool = False,
    ) -> Outcome:
        from flowportal.usecases.promote import promote

        request = PromoteRequest(src=src, dst=dst, flows=flows, branch=branch,
                                 force=force, dry_run=dry_run, adopt=adopt)
        return promote(self.workspace, request, self.deps)

    def diff(self, src: str, dst: str, flows: Sequence[str] | str = (), *,
             branch: str | None = None) -> Outcome:
        from flowportal.usecases.promote import diff

        return diff(self.workspace, PromoteRequest(src=src, dst=dst, flows=flows, branch=branch),
                    self.deps)

    # ---------------------------------------------------------------- lifecycle

    def history(self, env: str, flow: str | None = None, *, limit: int = 20) -> HistoryListing:
        """Recorded changes of `env` (and `flow`), newest first."""
        from flowportal.usecases.history import history

        return history(self.workspace, env, flow, limit, self.deps)

    def rollback(self, env: str, flow: str, *, to: str | None = None, steps: int = 1,
                 branch: str | None = None, dry_run: bool = False) -> Outcome:
        from flowportal.usecases.rollback import rollback

        request = RollbackRequest(env=env, flow=flow, to_commit=to, steps=steps, branch=branch,
                                  dry_run=dry_run)
        return rollback(self.workspace, request, self.deps)

    def drift(self, env: str, flow: str | None = None) -> DriftOutcome:
        from flowportal.usecases.drift import drift

        return drift(self.workspace, env, flow, self.deps)

    def prune(self, env: str, *, branch: str | None = None, dry_run: bool = False) -> PruneOutcome:
        from flowportal.usecases.prune import prune

        return prune(self.workspace, PruneRequest(env=env, branch=branch, dry_run=dry_run), self.deps)
