"""Find Prefect flows in source text without importing it.

Importing user modules to find flows needs every dependency of every module
installed and runs their import-time side effects; the seed SDK did that at
deploy time and was slow and fragile. Here a module is *read*: `ast` tells us
which functions carry Prefect's `flow` decorator, and nothing is executed.

What counts as a flow
---------------------
A function whose decorator resolves, through the module's own imports, to
`prefect.flow` or `prefect.flows.flow`:

* `from prefect import flow` / `from prefect.flows import flow` (optionally
  `as alias`), then `@flow`, `@flow(...)`, `@alias`, `@alias(...)`;
* `import prefect` / `import prefect as pf` / `import prefect.flows as pff` /
  `from prefect import flows`, then `@prefect.flow`, `@pf.flow(...)`,
  `@pff.flow`, `@flows.flow`, ...;
* `from prefect import *` binds `flow` too.

An unrelated decorator that merely ends in `.flow` (`@app.flow`) or a `flow`
name that did not come from prefect is not a flow. Imports are followed in
source order: a later `def flow`, `class flow`, assignment to `flow` or import
of `flow` from elsewhere shadows Prefect's decorator for the defs after it.
Where branches of an `if`/`try` disagree, a name counts as Prefect's if *any*
branch binds it so; that keeps the common optional-dependency fallback
(`try: from prefect import flow` / `except ImportError: flow = ...`) working.

Only functions bound at module level are reported: directly in the module
body, or inside module-level `if`/`else`, `try`/`except`/`else`/`finally` and
`with` blocks (they still end up as module attributes). Methods and nested
functions are skipped, because Prefect's entrypoint format
`path/to/file.py:function` cannot address them.

Aliasing through assignment (`my_flow = prefect.flow`) is deliberately not
followed: the textual pre-filter (`could_contain_flow`) could not see it, and
the two must agree so that skipping a file never hides a flow.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator, Mapping

import attrs

from portal_core.errors import DiscoveryError
from portal_core.flows import FlowRecord
from portal_core.names import normalize_flow_key

#: Dotted paths of Prefect's flow decorator; anything else is not a flow.
FLOW_DECORATOR_PATHS = frozenset({"prefect.flow", "prefect.flows.flow"})

#: Modules whose star import binds `flow`.
_STAR_EXPORTS_FLOW = frozenset({"prefect", "prefect.flows"})

# --- the cheap textual pre-filter ---------------------------------------------
#
# Every recognised flow needs an import of prefect (so the text contains
# "prefect") and a token `flow`: either the decorator expression itself ends in
# `flow` (`@flow`, `@prefect.flow`, `@pf.flow(...)`), possibly after
# whitespace, parentheses, dots or line continuations, or the decorator is an
# alias introduced by `... import flow as alias`. The two patterns below are a
# superset of those spellings. The only spellings they miss are ones nobody
# writes: a comment *inside* a decorator expression or between `flow` and
# `as`, and NFKC look-alike identifiers (`ｆｌｏｗ`).
_DECORATOR_HINT = r"@[\s(\\\w.]*?\bflow\b"
# No leading `\b`: a literal first character lets `re` skip ahead quickly, and
# matching inside `workflow as` only costs a parse.
_ALIAS_HINT = r"flow[\s\\]+as\b"
_HINTS_TEXT = (re.compile(_DECORATOR_HINT), re.compile(_ALIAS_HINT))
_HINTS_BYTES = (
    re.compile(_DECORATOR_HINT.encode("ascii")),
    re.compile(_ALIAS_HINT.encode("ascii")),
)


def could_contain_flow(text: str) -> bool:
    """False only for text in which `parse_flows` can never find a flow.

    Most files of a project are not flow modules; not parsing them is what makes
    discovery fast. Substring tests run at memory speed and reject almost
    everything; the regex only runs on files that mention both words.
    """
    if "prefect" not in text or "flow" not in text:
        return False
    return any(hint.search(text) is not None for hint in _HINTS_TEXT)


def could_contain_flow_bytes(data: bytes) -> bool:
    """`could_contain_flow` on undecoded file content.

    Lets the walker skip decoding (and, with a cache, re-reading) files that
    cannot hold a flow. Python source is UTF-8 or an ASCII-compatible encoding
    declared by a coding cookie, and every byte the patterns look at is ASCII,
    so the answer is the same as for the decoded text.
    """
    if b"prefect" not in data or b"flow" not in data:
        return False
    return any(hint.search(data) is not None for hint in _HINTS_BYTES)


# --- results ------------------------------------------------------------------


@attrs.frozen
class SourceError:
    """A file that could not be (fully) understood, reported instead of raised.

    One broken file must not hide the flows of the other 4,999, so errors are
    data that travel beside the results. `line` is 1-based; 0 means the whole
    file (e.g. it could not be read).
    """

    relative_path: str
    line: int
    message: str

    def format(self) -> str:
        if self.line > 0:
            return f"{self.relative_path}:{self.line}: {self.message}"
        return f"{self.relative_path}: {self.message}"

    def __str__(self) -> str:
        return self.format()


@attrs.frozen
class ParseResult:
    """What one file contributed: its flows, or why it could not be read."""

    flows: tuple[FlowRecord, ...] = ()
    error: SourceError | None = None


@attrs.frozen
class KeyCollision:
    """Two or more flows whose names normalize to one key.

    Keys are how users and config address flows; silently keeping one of the
    flows would deploy the wrong code, so a collision is always reported with
    every location involved (`path:line`).
    """

    key: str
    locations: tuple[str, ...]

    def format(self) -> str:
        return f"flow key {self.key!r} is used by {len(self.locations)} flows: " + ", ".join(
            self.locations
        )


@attrs.frozen
class Discovery:
    """Every flow found in a tree, plus what went wrong on the way."""

    flows: tuple[FlowRecord, ...] = ()
    errors: tuple[SourceError, ...] = ()
    collisions: tuple[KeyCollision, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.flows)

    def by_key(self) -> dict[str, FlowRecord]:
        """Flows by key; for a colliding key, one of its flows (check `collision_problems`)."""
        return {f.key: f for f in self.flows}

    def collision_of(self, key: str) -> KeyCollision | None:
        return next((c for c in self.collisions if c.key == key), None)

    def collision_problems(self, keys: Iterable[str]) -> list[str]:
        """Why the selected `keys` cannot be acted on: one line per colliding key.

        Listing shows colliding flows (real repositories often reuse a flow name in
        two files); only acting on an ambiguous key is refused, since it would pick
        one file's code for a deployment the other file's flow also claims.
        """
        wanted = set(keys)
        return [
            f"{c.format()}; give all but one of them a distinct name= in the @flow decorator"
            for c in self.collisions
            if c.key in wanted
        ]

    def raise_for_collisions(self) -> None:
        """Refuse to go on with ambiguous keys (one message naming every location)."""
        if self.collisions:
            details = "; ".join(c.format() for c in self.collisions)
            raise DiscoveryError(
                f"{details}. Give all but one of them a distinct name= in the @flow decorator."
            )


# --- import tracking ------------------------------------------------------------

#: What each module-level name may refer to: a set of dotted paths inside
#: prefect (`"prefect"`, `"prefect.flows"`, `"prefect.flow"`). Names bound to
#: anything else are absent.
_Env = Mapping[str, frozenset[str]]


def _is_prefect_module(module: str) -> bool:
    return module == "prefect" or module.startswith("prefect.")


def _bind(env: _Env, name: str, meaning: str | None) -> _Env:
    """A new env with `name` rebound; envs are never mutated, so branches can share them."""
    if meaning is None:
        if name not in env:
            return env  # the common case (every plain def): no copy
        new = dict(env)
        del new[name]
        return new
    new = dict(env)
    new[name] = frozenset({meaning})
    return new


def _apply_import(env: _Env, stmt: ast.Import | ast.ImportFrom) -> _Env:
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                meaning = alias.name if _is_prefect_module(alias.name) else None
                env = _bind(env, alias.asname, meaning)
            else:
                # `import a.b.c` binds `a` to module `a`.
                top = alias.name.split(".", 1)[0]
                env = _bind(env, top, top if top == "prefect" else None)
        return env
    module = stmt.module or ""
    from_prefect = stmt.level == 0 and _is_prefect_module(module)
    for alias in stmt.names:
        if alias.name == "*":
            if from_prefect and module in _STAR_EXPORTS_FLOW:
                env = _bind(env, "flow", f"{module}.flow")
            continue
        local = alias.asname or alias.name
        env = _bind(env, local, f"{module}.{alias.name}" if from_prefect else None)
    return env


def _union(*envs: _Env) -> _Env:
    merged: dict[str, frozenset[str]] = {}
    for env in envs:
        for name, meanings in env.items():
            merged[name] = merged.get(name, frozenset()) | meanings
    return merged


def _dotted_parts(node: ast.expr) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None for anything that is not a plain chain."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def _is_flow_decorator(decorator: ast.expr, env: _Env) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    parts = _dotted_parts(target)
    if not parts:
        return False
    rest = "".join(f".{p}" for p in parts[1:])
    return any(f"{meaning}{rest}" in FLOW_DECORATOR_PATHS for meaning in env.get(parts[0], ()))


def _assigned_names(stmt: ast.stmt) -> Iterator[str]:
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    for target in targets:
        for node in ast.walk(target):
            # Only plain names are rebound; `a.flow = x` or `a[flow] = x` are not.
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id


# --- per-flow details -----------------------------------------------------------


def _string_keyword(decorator: ast.expr, keyword: str) -> str | None:
    """The value of `keyword=` when it is a string literal, else None."""
    if not isinstance(decorator, ast.Call):
        return None
    for kw in decorator.keywords:
        if (
            kw.arg == keyword
            and isinstance(kw.value, ast.Constant)
            and isinstance(kw.value.value, str)
        ):
            return kw.value.value
    return None


def docstring_summary(docstring: str | None) -> str:
    """The first paragraph of a docstring, whitespace collapsed to single spaces.

    The description is shown in one table cell and sent to Prefect; the first
    paragraph is the author's summary, the rest is usually parameter docs.
    """
    if not docstring:
        return ""
    lines: list[str] = []
    for line in docstring.strip().splitlines():
        if not line.strip():
            break
        lines.append(line)
    return " ".join(" ".join(lines).split())


def grouping_for(relative_path: str, source_root: str = "") -> tuple[str, ...]:
    """The folders between the source root and the file (POSIX paths).

    A file outside `source_root` keeps all of its folders rather than failing:
    grouping is only for presentation.
    """
    root = source_root.strip("/")
    while root.startswith("./"):
        root = root[2:]
    rest = relative_path
    if root and root != "." and relative_path.startswith(root + "/"):
        rest = relative_path[len(root) + 1 :]
    return tuple(part for part in rest.split("/")[:-1] if part and part != ".")


def _flow_record(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    decorator: ast.expr,
    relative_path: str,
    grouping: tuple[str, ...],
) -> FlowRecord | SourceError:
    # Prefect treats name="" as "no name" (`name or fn.__name__`), and so do we.
    explicit = _string_keyword(decorator, "name") or None
    original = explicit if explicit is not None else node.name
    key = normalize_flow_key(original)
    if not key:
        return SourceError(
            relative_path,
            node.lineno,
            f"flow {original!r} (function {node.name}) has no letters or digits in its name, "
            "so it has no key; give it a name= with some",
        )
    description = _string_keyword(decorator, "description") or docstring_summary(
        ast.get_docstring(node)
    )
    return FlowRecord(
        key=key,
        original_name=original,
        function_name=node.name,
        description=description,
        relative_path=relative_path,
        line_number=node.lineno,  # the `def` line (decorators have their own lineno)
        grouping=grouping,
        is_async=isinstance(node, ast.AsyncFunctionDef),
        has_explicit_name=explicit is not None,
    )


@attrs.define
class _ModuleScan:
    """Walks module-level statements in order, tracking what names mean."""

    relative_path: str
    grouping: tuple[str, ...]
    flows: list[FlowRecord] = attrs.Factory(list)
    errors: list[SourceError] = attrs.Factory(list)

    def block(self, stmts: Iterable[ast.stmt], env: _Env) -> _Env:
        for stmt in stmts:
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt: ast.stmt, env: _Env) -> _Env:
        if isinstance(stmt, _IMPORTS):
            return _apply_import(env, stmt)
        if isinstance(stmt, _FUNCTIONS):
            self.function(stmt, env)
            return _bind(env, stmt.name, None)
        if isinstance(stmt, ast.ClassDef):
            return _bind(env, stmt.name, None)
        if isinstance(stmt, ast.If):
            return _union(self.block(stmt.body, env), self.block(stmt.orelse, env))
        if isinstance(stmt, _WITHS):
            return self.block(stmt.body, env)
        if isinstance(stmt, _TRY_TYPES):
            body = self.block(stmt.body, env)
            # A handler may run after any prefix of the body: start from both.
            handlers = [self.block(h.body, _union(env, body)) for h in stmt.handlers]
            after = _union(self.block(stmt.orelse, body), *handlers)
            return self.block(stmt.finalbody, after)
        names = list(_assigned_names(stmt))
        for name in names:
            env = _bind(env, name, None)
        return env

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, env: _Env) -> None:
        for decorator in node.decorator_list:
            if _is_flow_decorator(decorator, env):
                found = _flow_record(node, decorator, self.relative_path, self.grouping)
                if isinstance(found, SourceError):
                    self.errors.append(found)
                else:
                    self.flows.append(found)
                return


_IMPORTS = (ast.Import, ast.ImportFrom)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_WITHS = (ast.With, ast.AsyncWith)
# `except*` (Python 3.11+) parses to ast.TryStar, which has the fields of ast.Try;
# on 3.10 the node does not exist. A version check (not hasattr) lets the type
# checker narrow `stmt` to nodes that have `handlers`, `orelse` and `finalbody`.
if sys.version_info >= (3, 11):
    _TRY_TYPES: tuple[type[ast.Try | ast.TryStar], ...] = (ast.Try, ast.TryStar)
else:
    _TRY_TYPES = (ast.Try,)


def parse_flows(relative_path: str, text: str, source_root: str = "") -> ParseResult:
    """All flows defined in one module's source text.

    `relative_path` is the POSIX path from the project root (it becomes the
    entrypoint); `source_root` only shapes `grouping`. A syntax error yields an
    empty result with `error` set, never an exception, so one broken file cannot
    stop a scan. A flow whose name has no letters or digits is left out and
    reported as the error.
    """
    if text.startswith("\ufeff"):  # a BOM decoded as text; ast refuses it
        text = text[1:]
    try:
        module = ast.parse(text, filename=relative_path)
    except SyntaxError as exc:
        return ParseResult(
            error=SourceError(relative_path, exc.lineno or 0, f"syntax error: {exc.msg}")
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError: NUL bytes (Python < 3.12); RecursionError: absurd nesting.
        return ParseResult(
            error=SourceError(relative_path, 0, f"cannot parse: {exc.__class__.__name__}: {exc}")
        )
    scan = _ModuleScan(relative_path, grouping_for(relative_path, source_root))
    scan.block(module.body, {})
    return ParseResult(flows=tuple(scan.flows), error=scan.errors[0] if scan.errors else None)


def assemble(results: Iterable[ParseResult]) -> Discovery:
    """Combine per-file results into one sorted `Discovery`, detecting key collisions.

    Kept separate from `discover` so that a caller with cached per-file results
    gets exactly the same answer as a fresh parse.
    """
    flows: list[FlowRecord] = []
    errors: list[SourceError] = []
    for result in results:
        flows.extend(result.flows)
        if result.error is not None:
            errors.append(result.error)
    flows.sort(key=lambda f: (f.key, f.relative_path, f.line_number))
    errors.sort(key=lambda e: (e.relative_path, e.line, e.message))
    by_key: dict[str, list[FlowRecord]] = {}
    for flow in flows:
        by_key.setdefault(flow.key, []).append(flow)
    collisions = tuple(
        KeyCollision(key, tuple(f.location for f in same))
        for key, same in by_key.items()
        if len(same) > 1
    )
    return Discovery(flows=tuple(flows), errors=tuple(errors), collisions=collisions)


def discover(files: Iterable[tuple[str, str]], source_root: str = "") -> Discovery:
    """Flows in `(relative_path, text)` pairs; files that cannot hold a flow are not parsed."""
    return assemble(
        parse_flows(path, text, source_root) for path, text in files if could_contain_flow(text)
    )


# --- JSON record ------------------------------------------------------------------


def module_path(relative_path: str) -> str:
    """Dotted module name for a file path from the project root (`a/b/__init__.py` -> `a.b`)."""
    from portal_core.scaffold import import_module_for  # only JSON needs it: not on the table's path

    return import_module_for(relative_path, "")


def flow_to_record(flow: FlowRecord, root: str, import_root: str | None = None) -> dict[str, object]:
    """The flow as the seed SDK's `FlowDetails` JSON, so existing consumers keep working.

    `root` is the project root as the caller wants it shown; it is joined as a
    string (no filesystem access, no normalisation). The seed's
    `child_attributes` keys (`obj_name`, `module`, `import_path`) are kept next
    to ours. `import_path` is what Python imports (`pkg.module` in a src/
    layout, not `src.pkg.module`), from `import_root` when the caller knows it,
    else from the path (`scaffold.default_import_root`).
    """
    if not root:
        source_path = flow.relative_path
    elif root.endswith("/"):
        source_path = root + flow.relative_path
    else:
        source_path = f"{root}/{flow.relative_path}"
    from portal_core.scaffold import default_import_root, import_module_for  # not on the table's path

    if import_root is None:
        import_root = default_import_root(flow.relative_path)
    dotted = import_module_for(flow.relative_path, import_root)
    return {
        "name": flow.key,
        "original_name": flow.original_name,
        "description": flow.description,
        "id": flow.id,
        "source_path": source_path,
        "source_relative": flow.relative_path,
        "line_number": flow.line_number,
        "grouping": list(flow.grouping),
        "child_attributes": {
            "entrypoint": flow.entrypoint,
            "function_name": flow.function_name,
            "is_async": flow.is_async,
            "prefect_flow_name": flow.prefect_flow_name,
            "has_explicit_name": flow.has_explicit_name,
            "obj_name": flow.function_name,
            "module": dotted.rsplit(".", 1)[-1],
            "import_path": dotted,
        },
    }
