"""The narrow interfaces use cases need from the outside world (real or in-memory).

Use cases depend on these protocols only; `flowportal.bootstrap` decides which
adapters stand behind them, and tests put in-memory fakes there instead.
Nothing here imports an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:  # types only: each command imports the parts of the core it uses
    from flowportal.workspace import Workspace
    from portal_core.automations import AutomationWrite, SeenAutomation
    from portal_core.deployments import ApplyResult, DeployedState, DeploymentSpec
    from portal_core.environment import Environment
    from portal_core.github import DispatchResult, RepoRef
    from portal_core.history import ChangeRecord, Place, RecordBatch
    from portal_core.parameter_schema import SchemaResult


@attrs.frozen
class ApiTarget:
    """Where an environment's Prefect API is, and how to reach its UI."""

    url: str
    api_key: str | None = attrs.field(default=None, repr=False)
    ui_url: str | None = None
    embedded: bool = False


class DeploymentGateway(Protocol):
    api_url: str

    def read_deployments(
        self, names: Sequence[str] | None = None, tags_all: Sequence[str] = ()
    ) -> list[DeployedState]: ...

    def read_automations(self) -> list[SeenAutomation]: ...

    def read_for_plan(
        self, names: Sequence[str], flow_names: Sequence[str] = ()
    ) -> tuple[list[DeployedState], list[SeenAutomation]]:
        """The deployments of `names` and every automation, at once; `flow_names` are the
        flows the plan will write under (a hint that saves the writes a lookup)."""
        ...

    def write_automations(self, deployment_id: str, writes: Sequence[AutomationWrite]) -> str | None:
        """Apply one deployment's automation writes; the first failure as one line, else None."""
        ...

    def missing_work_pools(self, names: Iterable[str]) -> list[str]: ...

    def create_work_pool(self, name: str, pool_type: str) -> None: ...

    def apply(
        self,
        specs: Sequence[DeploymentSpec],
        on_done: Callable[[ApplyResult], None] | None = None,
    ) -> list[ApplyResult]: ...


class PrefectConnector(Protocol):
    """Finds an environment's Prefect API (starting the embedded server if that is it)."""

    def __call__(
        self, workspace: Workspace, environment: Environment, notify: Callable[[str], None]
    ) -> tuple[ApiTarget, DeploymentGateway]: ...


class CheckoutReader(Protocol):
    """What the checkout says about the code version (CI flags override it)."""

    def branch(self, root: Path) -> str: ...

    def commit(self, root: Path) -> str: ...

    def package_version(self, root: Path) -> str | None: ...

    def status(self, root: Path) -> list[tuple[str, str]]:
        """git's `(XY, path)` for each changed or untracked file, paths relative to `root`."""
        ...


#: entrypoint -> its parameter schema read from the flow's source (with warnings), never by running it.
SchemaReader = Callable[[Path, Sequence[str]], Mapping[str, "SchemaResult"]]


class WorkflowGateway(Protocol):
    """One repository's GitHub Actions API."""

    repo: RepoRef

    def dispatch(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> DispatchResult: ...

    def watch(
        self,
        run_id: int,
        *,
        poll_seconds: float,
        timeout: float,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]: ...


class HistoryPort(Protocol):
    """Where the change records of one Prefect API live (on that server itself)."""

    requests: int

    def write(self, records: Sequence[ChangeRecord]) -> list[str]: ...

    def known(self, place: Place) -> tuple[str, ...]:
        """The deployments of one project and environment whose newest record applied
        something (the newest stored manifest)."""
        ...

    def scan(self, place: Place) -> Iterator[RecordBatch]:
        """One project's and environment's stored batches (and look-alikes to filter
        out), newest first, read only as far as the caller iterates."""
        ...

    def delete_deployments(self, ids: Sequence[str]) -> tuple[list[str], list[str]]: ...


class HistoryConnector(Protocol):
    """The history beside a Prefect API (None where there is none, e.g. not a server)."""

    def __call__(
        self, gateway: DeploymentGateway, target: ApiTarget, write_concurrency: int
    ) -> HistoryPort | None: ...


class GitHubConnector(Protocol):
    """Which repository to dispatch on, with whose token, and the ref to run by default."""

    def default_ref(self, root: Path) -> str: ...

    def connect(self, root: Path, repo: str | None) -> WorkflowGateway: ...
