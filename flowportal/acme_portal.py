"""The acme-portal VS Code extension's four objects, backed by flowportal.

The extension runs, from the workspace root, a small runner that imports a
module of `.acme_portal_sdk/`, takes the first object that is an instance of the
SDK class it asks for, calls it with JSON kwargs and `json.dump`s the result (on
an exception it writes the message to an error file). So these classes subclass
the SDK's abstract classes (install with `pip install 'flowportal[acme-portal]'`)
and delegate everything to the `Portal` facade:

* flows are found by AST, never imported; two flows with one name are both
  listed (the editor shows them; deploying one of them is what refuses);
* deployments come one per (flow, branch, env), the slot the extension groups by;
* deploy goes to the first environment of the promotion path, branch = `ref`;
* both workflows return a URL (the Prefect deployment page, or the GitHub
  Actions run they started with `via="github"`); failures raise one-line errors.

`flowportal init --acme-portal` writes the four modules that instantiate these.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acme_portal_sdk import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
    DeploymentDetails,
    DeploymentFinder,
    DeployWorkflow,
    FlowDetails,
    FlowFinder,
    PromoteWorkflow,
)

from flowportal.portal import Portal
from portal_core.errors import PlanError, PortalError

__all__ = [
    "FlowportalDeployWorkflow",
    "FlowportalDeploymentFinder",
    "FlowportalFlowFinder",
    "FlowportalPromoteWorkflow",
]


class PortalActionError(RuntimeError):
    """One line the extension shows as it is (its runner reports `str(error)`)."""


def _one_line(err: BaseException) -> PortalActionError:
    text = "; ".join(err.problems) if isinstance(err, PlanError) else str(err)
    first = " ".join(text.split()) or type(err).__name__
    return PortalActionError(first)


class _Backed:
    """Shared: which project (the extension runs from its root) and error shaping."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None

    def portal(self) -> Portal:
        return Portal(self._root if self._root is not None else Path.cwd())


class FlowportalFlowFinder(_Backed, FlowFinder):  # type: ignore[misc,unused-ignore]
    def find_flows(
        self,
        *,
        flows_to_fetch: list[FlowDetails] | None = None,
        flow_groups: list[str] | None = None,
    ) -> list[FlowDetails]:
        """Every flow (duplicates included), or the ones asked for by (name, file) / group."""
        from flowportal.usecases.editor import flow_records, select_flows

        try:
            records = flow_records(self.portal())
        except PortalError as err:
            raise _one_line(err) from None
        wanted = None if flows_to_fetch is None else [(f.name, f.source_relative) for f in flows_to_fetch]
        return [FlowDetails(**r) for r in select_flows(records, wanted, flow_groups)]


class FlowportalDeploymentFinder(_Backed, DeploymentFinder):  # type: ignore[misc,unused-ignore]
    def get_deployments(
        self,
        *,
        deployments_to_fetch: list[DeploymentDetails] | None = None,
        flows_to_fetch: list[FlowDetails] | None = None,
    ) -> list[DeploymentDetails]:
        """This project's deployments in every environment, one per (flow, branch, env)."""
        from flowportal.usecases.editor import deployment_records, select_deployments

        try:
            records = deployment_records(self.portal())
        except PortalError as err:
            raise _one_line(err) from None
        ids = None if deployments_to_fetch is None else [d.id for d in deployments_to_fetch]
        flows = None if flows_to_fetch is None else [f.name for f in flows_to_fetch]
        return [DeploymentDetails(**r) for r in select_deployments(records, ids, flows)]


class FlowportalDeployWorkflow(_Backed, DeployWorkflow):  # type: ignore[misc,unused-ignore]
    """Deploy to the first environment of the promotion path.

    `via="github"` dispatches the repository's deploy workflow instead and
    returns the exact run's URL; `inputs` picks the input names it expects
    (`"flowportal"` or `"sdk"` for workflows written for the seed SDK).
    """

    def __init__(self, root: str | Path | None = None, *, via: str = "prefect",
                 workflow: str = "deploy.yml", inputs: str = "flowportal",
                 repo: str | None = None) -> None:
        super().__init__(root)
        self.via, self.workflow, self.inputs, self.repo = via, workflow, inputs, repo

    def run(self, flows_to_deploy: Sequence[str] = (), ref: str | None = None,
            additional_context: Any = None, **_: Any) -> str | None:
        from flowportal.usecases.editor import deploy_from_editor

        try:
            return deploy_from_editor(self.portal(), list(flows_to_deploy), ref, via=self.via,
                                      workflow=self.workflow, inputs=self.inputs, repo=self.repo)
        except PortalError as err:
            raise _one_line(err) from None


class FlowportalPromoteWorkflow(_Backed, PromoteWorkflow):  # type: ignore[misc,unused-ignore]
    """Promote `source_env` -> `target_env` (one step along the promotion path)."""

    def __init__(self, root: str | Path | None = None, *, via: str = "prefect",
                 workflow: str = "promote.yml", inputs: str = "flowportal",
                 repo: str | None = None) -> None:
        super().__init__(root)
        self.via, self.workflow, self.inputs, self.repo = via, workflow, inputs, repo

    def run(self, flows_to_deploy: Sequence[str] = (), source_env: str = "", target_env: str = "",
            ref: str | None = None, additional_context: Any = None, **_: Any) -> str | None:
        from flowportal.usecases.editor import promote_from_editor

        try:
            return promote_from_editor(self.portal(), list(flows_to_deploy), source_env, target_env,
                                       ref, via=self.via, workflow=self.workflow,
                                       inputs=self.inputs, repo=self.repo)
        except PortalError as err:
            raise _one_line(err) from None
