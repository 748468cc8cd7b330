"""The tasks the console script may run without invoke, found by name.

Each is read-only or a plan-then-apply verb whose body never touches invoke's
context (it receives None for it), declared once with `DeclaredTask`. Only the
module of the task being run is imported: `list-flows` must not pay for the
deploy task's imports, nor `deploy` for invoke's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowportal.tasks.declared import DeclaredTask

#: Task name -> the module that declares it (and the name it declares it under).
NAMES = {
    "list-flows": ("flows", "LIST_FLOWS"),
    "deploy": ("deployments", "DEPLOY"),
    "list-deployments": ("deployments", "LIST_DEPLOYMENTS"),
    "promote": ("promotion", "PROMOTE"),
    "diff": ("promotion", "DIFF"),
}


def declared_task(name: str) -> DeclaredTask | None:
    """The declaration of task `name` if it may run without invoke, else None."""
    where = NAMES.get(name)
    if where is None:
        return None
    module, attribute = where
    if module == "flows":
        from flowportal.tasks import flows as declaring
    elif module == "deployments":
        from flowportal.tasks import deployments as declaring  # type: ignore[no-redef]
    else:
        from flowportal.tasks import promotion as declaring  # type: ignore[no-redef]
    task: DeclaredTask = getattr(declaring, attribute)
    return task


def all_declared() -> tuple[DeclaredTask, ...]:
    """Every task that may run without invoke (imports all their modules)."""
    return tuple(task for name in NAMES if (task := declared_task(name)) is not None)
