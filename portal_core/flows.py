"""The flow record: what discovery knows about one flow, without importing it."""

from __future__ import annotations

import attrs

from portal_core.names import prefect_flow_name


@attrs.frozen
class FlowRecord:
    """One flow found in source.

    `relative_path` is POSIX-style and relative to the project root (the directory
    a worker runs from), so `entrypoint` is exactly what Prefect expects.
    `grouping` is the folders between the *source root* and the file, used to
    present many flows as a tree.
    """

    key: str
    original_name: str  # the decorator's name= if given, else the function name
    function_name: str
    description: str
    relative_path: str
    line_number: int  # 1-based line of the `def`
    grouping: tuple[str, ...] = ()
    is_async: bool = False
    has_explicit_name: bool = False

    @property
    def entrypoint(self) -> str:
        return f"{self.relative_path}:{self.function_name}"

    @property
    def id(self) -> str:
        """Stable across runs and machines: derived only from path and function."""
        import hashlib  # loads OpenSSL: only for the JSON records, not for the table

        return hashlib.sha256(self.entrypoint.encode("utf-8")).hexdigest()[:16]

    @property
    def prefect_flow_name(self) -> str:
        return prefect_flow_name(self.original_name if self.has_explicit_name else None,
                                 self.function_name)

    @property
    def location(self) -> str:
        return f"{self.relative_path}:{self.line_number}"
