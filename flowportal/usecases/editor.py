"""What the acme-portal VS Code extension asks for, answered through the `Portal` facade.

Kept apart from `flowportal.acme_portal` (which subclasses the seed SDK's
classes) so it works and is tested without the SDK installed. Records are the
SDK's JSON shapes; the rules that shape them live in `portal_core.sdk_compat`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from portal_core.discovery import flow_to_record
from portal_core.errors import PlanError, PortalError
from portal_core.github import parse_input_names
from portal_core.scaffold import import_module_for
from portal_core.sdk_compat import (
    editor_deployment_record,
    editor_flow_record,
    one_per_slot,
    select_deployment_records,
    select_flow_records,
)

if TYPE_CHECKING:
    from flowportal.portal import Portal
    from flowportal.usecases.applying import Outcome


def import_root(portal: Portal) -> str:
    """`src` in a src/ layout (a `src/` folder that is not itself a package), else the root."""
    src = portal.root / "src"
    return "src" if src.is_dir() and not (src / "__init__.py").exists() else ""


def flow_records(portal: Portal) -> list[dict[str, Any]]:
    """Every flow found (two flows sharing a name are both listed, never an error)."""
    discovery = portal.discover()
    base = import_root(portal)
    return [editor_flow_record(flow_to_record(f, str(portal.root)),
                               import_module_for(f.relative_path, base))
            for f in discovery.flows]


def select_flows(records: Sequence[Mapping[str, Any]], wanted: Sequence[tuple[str, str]] | None,
                 groups: Sequence[str] | None) -> list[Mapping[str, Any]]:
    return select_flow_records(records, wanted, groups)


def deployment_records(portal: Portal) -> list[Mapping[str, Any]]:
    """This project's deployments on the promotion path, one per (flow, branch, env)."""
    listing = portal.list_deployments()
    return one_per_slot(editor_deployment_record(r) for r in listing.records())


def select_deployments(records: Sequence[Mapping[str, Any]], ids: Sequence[str] | None,
                       flow_names: Sequence[str] | None) -> list[Mapping[str, Any]]:
    return select_deployment_records(records, ids, flow_names)


def _outcome_url(outcome: Outcome) -> str:
    """The deployment page for one flow; the deployments list for several."""
    if outcome.failed:
        done = [r.name for r in outcome.results if r.ok]
        raise PortalError(f"{len(outcome.failed)} of {len(outcome.results)} writes failed "
                          f"({outcome.failed[0].error}); applied: {', '.join(done) or 'none'}")
    urls = list(outcome.urls.values())
    if not urls:
        raise PortalError("nothing was deployed")
    if len(urls) == 1:
        return urls[0]
    page = urls[0]
    marker = "/deployments/deployment/"
    return page[: page.index(marker)] + "/deployments" if marker in page else page


def deploy_from_editor(portal: Portal, flows: list[str], ref: str | None, *, via: str = "prefect",
                       workflow: str = "deploy.yml", inputs: str = "flowportal",
                       repo: str | None = None) -> str | None:
    """Deploy to the first environment of the promotion path, branch = `ref`.

    Locally the code deployed is this checkout's, so `ref` must be the branch
    checked out (else the deployment would carry one branch's name and another's
    code); through GitHub the workflow checks out `ref` itself.
    """
    if not flows:
        raise PlanError(["no flow given to deploy"])
    env = portal.workspace.config.promotion_path[0]
    if via == "github":
        return _dispatch(portal, "deploy", flows=flows, env=env, ref=ref, workflow=workflow,
                         inputs=inputs, repo=repo)
    _check_via(via)
    if ref:
        from portal_io import git

        checked_out = git.current_branch(portal.root)
        if checked_out != ref:
            raise PlanError([f"ref {ref!r} is not the checked-out branch {checked_out!r}: check it "
                             "out first, or deploy through GitHub (via='github')"])
    return _outcome_url(portal.deploy(flows, env, branch=ref or None))


def promote_from_editor(portal: Portal, flows: list[str], source_env: str, target_env: str,
                        ref: str | None, *, via: str = "prefect", workflow: str = "promote.yml",
                        inputs: str = "flowportal", repo: str | None = None) -> str | None:
    """Promote `ref`'s deployments from `source_env` to `target_env` (one step on the path)."""
    if not source_env or not target_env:
        raise PlanError(["source_env and target_env are both required"])
    if via == "github":
        return _dispatch(portal, "promote", flows=flows, src=source_env, dst=target_env, ref=ref,
                         workflow=workflow, inputs=inputs, repo=repo)
    _check_via(via)
    return _outcome_url(portal.promote(source_env, target_env, flows, branch=ref or None))


def _check_via(via: str) -> None:
    if via != "prefect":
        raise PlanError([f"via must be 'prefect' or 'github', not {via!r}"])


def _dispatch(portal: Portal, verb: str, *, flows: list[str], ref: str | None, workflow: str,
              inputs: str, repo: str | None, env: str = "", src: str = "",
              dst: str = "") -> str | None:
    """Start the workflow; the URL of the exact run started (None: GitHub did not start one)."""
    from flowportal.usecases.github_dispatch import (
        DispatchRequest,
        WorkflowDeploy,
        WorkflowPromote,
        dispatch,
    )

    action: WorkflowDeploy | WorkflowPromote = (
        WorkflowDeploy(tuple(flows), env, workflow=workflow) if verb == "deploy"
        else WorkflowPromote(tuple(flows), src, dst, workflow=workflow)
    )
    request = DispatchRequest(action, ref=ref, repo=repo, input_names=parse_input_names(inputs))
    outcome = dispatch(portal.root, request, portal.deps)  # silent: the extension shows the URL
    return outcome.html_url or None
