"""A flow's parameter schema, computed from its source text alone.

Prefect stores with every deployment an OpenAPI-style schema of the flow's
parameters (`parameter_openapi_schema`), which the UI uses to build its run form
and the server uses to validate parameters. Prefect computes it by importing the
flow module (or, from an entrypoint, by executing the module's imports and
assignments), which runs user code at deploy time: on real projects that means
block loads, network calls and credentials lookups on the deploying machine.

This module computes the same dictionary from the `def` statement only, with
`ast`: parameter names and kinds, literal defaults, annotations that can be
resolved without importing anything (builtins, `typing`, `datetime`, `uuid`,
`pathlib`, `decimal`, enums defined in the same file) and the Google-style
docstring. It reproduces the rules of Prefect 3.9 / pydantic 2 for those cases
(the unit tests check it against Prefect's own `parameter_schema` on generated
signatures). An annotation that names anything else (a pydantic model from
another module, say) gets a permissive entry for that one parameter, and a
warning says so: nothing is ever imported or run.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from portal_core.json_values import json_like

#: Parameter names Prefect leaves out of the schema (bound implicitly).
IMPLICIT_PARAMETERS = frozenset({"self", "cls"})


@attrs.frozen
class SchemaResult:
    """The schema (None when the function could not be read at all) and one line per
    parameter or default that could only be described approximately."""

    schema: dict[str, Any] | None
    warnings: tuple[str, ...] = ()


class _Unresolved(Exception):
    """An annotation or default that cannot be understood without running code."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def flow_parameter_schema(source_text: str, function_name: str, relative_path: str) -> SchemaResult:
    """The `parameter_openapi_schema` Prefect would store for `function_name` in this source."""
    try:
        module = ast.parse(source_text)
    except (SyntaxError, ValueError) as err:
        return SchemaResult(None, (f"{relative_path}: cannot parse ({err}); no parameter schema",))
    function = _find_function(module, function_name)
    if function is None:
        return SchemaResult(None, (f"{relative_path}: no function {function_name!r}; no parameter schema",))
    scope = _ModuleScope(module)
    return _FunctionSchema(function, scope, relative_path).build()


def _find_function(module: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The last top-level definition wins, as it would at import time."""
    found = None
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            found = node
    return found


# --- names -----------------------------------------------------------------------------

_BUILTIN_NAMES = frozenset({"int", "str", "float", "bool", "bytes", "list", "dict", "tuple", "set",
                            "frozenset"})
_TYPING_MODULES = ("typing", "typing_extensions")
#: What `from M import *` binds, for the modules whose types we read (other names stay unknown).
_STAR_EXPORTS = {
    "typing": ("Any", "Optional", "Union", "Literal", "List", "Dict", "Tuple", "Set", "FrozenSet",
               "Annotated", "Sequence", "MutableSequence", "Mapping", "MutableMapping"),
    "collections.abc": ("Sequence", "MutableSequence", "Mapping", "MutableMapping"),
    "datetime": ("datetime", "date", "time", "timedelta"),
    "uuid": ("UUID",),
    "pathlib": ("Path",),
    "decimal": ("Decimal",),
    "enum": ("Enum", "IntEnum", "StrEnum", "auto"),
}
_STAR_EXPORTS["typing_extensions"] = _STAR_EXPORTS["typing"]
_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.StrEnum"})


class _ModuleScope:
    """What the module's top level binds, read (never run): imports, literal constants,
    enum classes. A name bound more than once, or bound in a way we do not read, is unknown."""

    def __init__(self, module: ast.Module) -> None:
        self.imports: dict[str, str] = {}
        self.constants: dict[str, ast.expr] = {}
        self.enum_nodes: dict[str, ast.ClassDef] = {}
        self.shadowed: set[str] = set()
        self.future_annotations = False
        counts: dict[str, int] = {}

        def bind(name: str) -> None:
            counts[name] = counts.get(name, 0) + 1

        for node in module.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                self.future_annotations |= any(a.name == "annotations" for a in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.imports[local] = alias.name if alias.asname else local
                    bind(local)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name == "*":
                        for star in _STAR_EXPORTS.get(node.module, ()):
                            self.imports[star] = f"{node.module}.{star}"
                            bind(star)
                        continue
                    local = alias.asname or alias.name
                    self.imports[local] = f"{node.module}.{alias.name}"
                    bind(local)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    for name in _target_names(target):
                        bind(name)
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    self.constants[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                bind(node.target.id)
                if node.value is not None:
                    self.constants[node.target.id] = node.value
            elif isinstance(node, ast.ClassDef):
                bind(node.name)
                self.enum_nodes[node.name] = node
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bind(node.name)
            else:
                for child in ast.walk(node):  # anything else binding names at top level
                    if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                        bind(child.id)
                    elif isinstance(child, (ast.Import, ast.ImportFrom)):
                        for alias in child.names:
                            bind(alias.asname or alias.name.split(".")[0])
                    elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        bind(child.name)
        ambiguous = {name for name, count in counts.items() if count > 1}
        self.shadowed = set(counts)
        for name in ambiguous:
            self.imports.pop(name, None)
            self.constants.pop(name, None)
            self.enum_nodes.pop(name, None)
        self.ambiguous = ambiguous
        self._enums: dict[str, _Enum | None] = {}

    def qualified(self, node: ast.expr) -> str | None:
        """`t.Optional` -> `typing.Optional`, `int` -> `builtins.int`, a local class -> `<local>.X`."""
        if isinstance(node, ast.Name):
            if node.id in self.imports:
                return self.imports[node.id]
            if node.id in self.enum_nodes:
                return f"<local>.{node.id}"
            if node.id in self.shadowed:
                return None
            if node.id in _BUILTIN_NAMES or node.id == "None":
                return f"builtins.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base and not base.startswith("builtins.") else None
        return None

    def enum(self, name: str) -> _Enum | None:
        if name not in self._enums:
            node = self.enum_nodes.get(name)
            self._enums[name] = _read_enum(node, self) if node is not None else None
        return self._enums[name]


def _target_names(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _canonical(qualified: str | None) -> str | None:
    """typing_extensions re-exports typing; `typing.List` is `list` for schema purposes."""
    if qualified is None:
        return None
    for module in _TYPING_MODULES:
        if qualified.startswith(module + "."):
            return "typing." + qualified[len(module) + 1:]
    return qualified


# --- enums --------------------------------------------------------------------------------


@attrs.frozen
class _Enum:
    name: str
    members: tuple[tuple[str, Any], ...]  # canonical members, in definition order
    description: str | None

    def value(self, member: str) -> Any:
        for name, value in self.members:
            if name == member:
                return value
        raise KeyError(member)

    def definition(self) -> dict[str, Any]:
        result: dict[str, Any] = {"title": self.name}
        if self.description:
            result["description"] = self.description
        values = [_jsonable(value) for _, value in self.members]
        result["enum"] = values
        kind = _json_type_of_values(values)
        if kind is not None and kind != "null":
            result["type"] = kind
        return result


def _read_enum(node: ast.ClassDef, scope: _ModuleScope) -> _Enum | None:
    """An enum class read from its body: literal member values, or `auto()` in sequence."""
    bases = [_canonical(scope.qualified(b)) for b in node.bases]
    kinds = [b for b in bases if b in _ENUM_BASES]
    mixins = [b for b in bases if b not in _ENUM_BASES]
    if len(kinds) != 1 or node.keywords or node.decorator_list:
        return None
    if any(m not in ("builtins.str", "builtins.int", "builtins.float") for m in mixins):
        return None
    kind = kinds[0]
    mixin = {"enum.IntEnum": "builtins.int", "enum.StrEnum": "builtins.str"}.get(kind)
    if mixins:
        if len(mixins) > 1 or (mixin and mixins[0] != mixin):
            return None
        mixin = mixins[0]
    members: list[tuple[str, Any]] = []
    values: list[Any] = []
    for index, statement in enumerate(node.body):
        if index == 0 and _is_docstring(statement):
            continue
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass)):
            continue
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            return None
        name = statement.targets[0].id
        if name.startswith("_"):
            return None
        if _is_auto(statement.value, scope):
            if kind == "enum.StrEnum":
                value: Any = name.lower()
            elif all(type(v) is int for v in values) and (not values or values[-1] == max(values)):
                value = values[-1] + 1 if values else 1
            else:
                return None
        else:
            try:
                value = _literal(statement.value, scope, allow_names=False)
            except _Unresolved:
                return None
        if mixin == "builtins.str" and type(value) is not str:
            return None
        if mixin == "builtins.int" and type(value) is not int:
            return None
        if mixin == "builtins.float" and type(value) is not float:
            return None
        if not isinstance(value, (str, int, float, type(None))):
            return None
        if any(_same_enum_value(value, v) for v in values):
            continue  # an alias of an earlier member, not a member of its own
        values.append(value)
        members.append((name, value))
    if not members:
        return None
    return _Enum(node.name, tuple(members), _docstring_of(node, clean_twice=False))


def _same_enum_value(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and hash(a) == hash(b)
    except TypeError:
        return False


def _is_auto(node: ast.expr, scope: _ModuleScope) -> bool:
    return (isinstance(node, ast.Call) and not node.args and not node.keywords
            and scope.qualified(node.func) == "enum.auto")


# --- literal values ----------------------------------------------------------------------


@attrs.frozen
class _Member:
    """A reference to an enum member, inside a default or a Literal."""

    enum: str
    name: str
    value: Any


def _literal(node: ast.expr, scope: _ModuleScope, allow_names: bool = True) -> Any:
    """The value of a literal expression (numbers, strings, bytes, None, containers, enum
    members, module-level literal constants). Anything else would need running code."""
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis or isinstance(node.value, complex):
            raise _Unresolved(ast.unparse(node))
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _literal(node.operand, scope, allow_names)
        if type(operand) in (int, float):
            return -operand if isinstance(node.op, ast.USub) else +operand
        raise _Unresolved(ast.unparse(node))
    if isinstance(node, ast.List):
        return [_literal(e, scope, allow_names) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, scope, allow_names) for e in node.elts)
    if isinstance(node, ast.Set):
        return {_hashable(_literal(e, scope, allow_names), node) for e in node.elts}
    if isinstance(node, ast.Dict):
        result = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise _Unresolved(ast.unparse(node))
            result[_hashable(_literal(key, scope, allow_names), node)] = _literal(value, scope, allow_names)
        return result
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        empty = {"builtins.list": list, "builtins.dict": dict, "builtins.tuple": tuple,
                 "builtins.set": set, "builtins.frozenset": frozenset}.get(scope.qualified(node.func) or "")
        if empty is not None:
            return empty()
    if allow_names and isinstance(node, ast.Name) and node.id in scope.constants:
        return _literal(scope.constants[node.id], scope, allow_names=False)
    if allow_names and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        enum = scope.enum(node.value.id) if node.value.id in scope.enum_nodes else None
        if enum is not None:
            try:
                return _Member(enum.name, node.attr, enum.value(node.attr))
            except KeyError:
                pass
    raise _Unresolved(ast.unparse(node))


def _hashable(value: Any, node: ast.expr) -> Any:
    try:
        hash(value)
    except TypeError:
        raise _Unresolved(ast.unparse(node)) from None
    return value


class _NotJson(Exception):
    """A default pydantic cannot serialize: Prefect leaves it out of the schema."""


def _jsonable(value: Any) -> Any:
    """A literal as pydantic's JSON-mode serializer writes it into a schema."""
    if isinstance(value, _Member):
        return _jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotJson from None
    if isinstance(value, (set, frozenset)):
        # Prefect writes a set nested in a default in Python's iteration order, which for
        # strings changes with the hash seed of each process; sorted is the stable choice.
        return [_jsonable(v) for v in _sorted_if_possible(value)]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {_json_key(k): _jsonable(v) for k, v in value.items()}
    raise _NotJson


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "None"
    if isinstance(key, (int, float, str)):
        return str(key)
    if isinstance(key, bytes):
        return str(_jsonable(key))
    raise _NotJson


def _sorted_if_possible(values: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _encode_default(value: Any) -> Any:
    """A default as pydantic writes it: a set is sorted when its items compare."""
    return _jsonable(value)


def _json_type_of_values(values: Sequence[Any]) -> str | None:
    kinds = {type(v) for v in values}
    for python, json_type in ((str, "string"), (int, "integer"), (float, "number"),
                              (bool, "boolean"), (list, "array"), (type(None), "null")):
        if kinds == {python}:
            return json_type
    return None


# --- annotations --------------------------------------------------------------------------

_SIMPLE: dict[str, dict[str, Any]] = {
    "builtins.int": {"type": "integer"},
    "builtins.str": {"type": "string"},
    "builtins.float": {"type": "number"},
    "builtins.bool": {"type": "boolean"},
    "builtins.bytes": {"type": "string", "format": "binary"},
    "builtins.None": {"type": "null"},
    "typing.Any": {},
    "datetime.datetime": {"type": "string", "format": "date-time"},
    "datetime.date": {"type": "string", "format": "date"},
    "datetime.time": {"type": "string", "format": "time"},
    "datetime.timedelta": {"type": "string", "format": "duration"},
    "uuid.UUID": {"type": "string", "format": "uuid"},
    "pathlib.Path": {"type": "string", "format": "path"},
    "decimal.Decimal": {"anyOf": [{"type": "number"}, {"type": "string"}]},
}
#: Array types -> whether their items are unique.
_ARRAYS = {"builtins.list": False, "typing.List": False, "builtins.set": True, "typing.Set": True,
           "builtins.frozenset": True, "typing.FrozenSet": True,
           "typing.Sequence": False, "typing.MutableSequence": False,
           "collections.abc.Sequence": False, "collections.abc.MutableSequence": False}
_TUPLES = frozenset({"builtins.tuple", "typing.Tuple"})
_DICTS = frozenset({"builtins.dict", "typing.Dict", "typing.Mapping", "typing.MutableMapping",
                    "collections.abc.Mapping", "collections.abc.MutableMapping"})
_NULL = {"type": "null"}


class _Type:
    """One annotation, understood: its JSON schema, and whether it is `None` (which a Union
    turns into "nullable" rather than into one of its choices)."""

    def __init__(self, schema: dict[str, Any], is_none: bool = False) -> None:
        self.schema = schema
        self.is_none = is_none


class _Annotations:
    """Turns annotation expressions into JSON schema fragments, collecting enum definitions."""

    def __init__(self, scope: _ModuleScope) -> None:
        self.scope = scope
        self.definitions: dict[str, dict[str, Any]] = {}

    def annotation_schema(self, node: ast.expr) -> dict[str, Any]:
        """The schema of a parameter's annotation.

        A string annotation is evaluated in the module (as `inspect.signature(eval_str=True)`
        does), unless `from __future__ import annotations` already made every annotation a
        string: then a string written in the source is a string once evaluated. Strings left
        after evaluation are forward references, which pydantic resolves in its own namespace,
        where only builtins and `typing` are known.
        """
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and not self.scope.future_annotations):
            node = _parse_annotation(node.value, node)
        return self.schema(node)

    def schema(self, node: ast.expr) -> dict[str, Any]:
        return self._type(node).schema

    def _type(self, node: ast.expr) -> _Type:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            module_scope, self.scope = self.scope, _forward_scope()
            try:
                return self._type(_parse_annotation(node.value, node))
            finally:
                self.scope = module_scope
        if isinstance(node, ast.Constant) and node.value is None:
            return _Type(dict(_NULL), is_none=True)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union([node.left, node.right], node)
        if isinstance(node, ast.Subscript):
            return self._generic(node)
        name = _canonical(self.scope.qualified(node))
        if name is None:
            raise _Unresolved(ast.unparse(node))
        if name == "builtins.None":
            return _Type(dict(_NULL), is_none=True)
        if name in _SIMPLE:
            return _Type(_copy(_SIMPLE[name]))
        if name in _ARRAYS:
            return _Type(_array({}, _ARRAYS[name]))
        if name in _TUPLES:
            return _Type({"type": "array", "items": {}})
        if name in _DICTS:
            return _Type({"type": "object", "additionalProperties": True})
        if name.startswith("<local>."):
            return _Type(self._enum_ref(name[len("<local>."):], node))
        raise _Unresolved(ast.unparse(node))

    def _enum_ref(self, name: str, node: ast.expr) -> dict[str, Any]:
        enum = self.scope.enum(name)
        if enum is None:
            raise _Unresolved(ast.unparse(node))
        self.definitions[name] = enum.definition()
        return {"$ref": f"#/definitions/{name}"}

    def _generic(self, node: ast.Subscript) -> _Type:
        name = _canonical(self.scope.qualified(node.value))
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name == "typing.Optional" and len(args) == 1:
            return self._union([args[0], ast.Constant(None)], node)
        if name == "typing.Union":
            return self._union(args, node)
        if name == "typing.Literal":
            return _Type(self._literal_schema(args, node))
        if name == "typing.Annotated" and len(args) >= 2:
            if all(isinstance(a, ast.Constant) for a in args[1:]):
                return self._type(args[0])
            raise _Unresolved(ast.unparse(node))
        if name in _ARRAYS and len(args) == 1:
            return _Type(_array(self.schema(args[0]), _ARRAYS[name]))
        if name in _TUPLES:
            return _Type(self._tuple(args, node))
        if name in _DICTS and len(args) == 2:
            return _Type(self._dict(args[0], args[1]))
        raise _Unresolved(ast.unparse(node))

    def _tuple(self, args: list[ast.expr], node: ast.expr) -> dict[str, Any]:
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return {"type": "array", "items": self.schema(args[0])}
        if not args or (len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts):
            return {"type": "array", "maxItems": 0, "minItems": 0}
        if any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in args):
            raise _Unresolved(ast.unparse(node))
        items = [self.schema(a) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}

    def _dict(self, key_node: ast.expr, value_node: ast.expr) -> dict[str, Any]:
        keys = dict(self.schema(key_node))
        values = dict(self.schema(value_node))
        if "$ref" not in keys:
            keys.pop("title", None)
        values.pop("title", None)
        result: dict[str, Any] = {"type": "object", "additionalProperties": values or True}
        if (keys.get("type") == "string" and len(keys) > 1) or "$ref" in keys:
            keys.pop("type", None)
            result["propertyNames"] = keys
        return result

    def _union(self, args: list[ast.expr], node: ast.expr) -> _Type:
        members: list[tuple[str, _Type]] = []
        for arg in args:
            for key, member in self._union_members(arg):
                if key not in [k for k, _ in members]:
                    members.append((key, member))
        if len(members) == 1:
            return members[0][1]
        nullable = any(m.is_none for _, m in members)
        choices = [m.schema for _, m in members if not m.is_none]
        inner = choices[0] if len(choices) == 1 else _flattened_any_of(choices)
        if not nullable:
            return _Type(inner)
        if inner == _NULL:
            return _Type(dict(_NULL))
        return _Type(_flattened_any_of([inner, dict(_NULL)]))

    def _union_members(self, node: ast.expr) -> list[tuple[str, _Type]]:
        """Union arguments flattened and identified as typing does (by what they denote)."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union_members(node.left) + self._union_members(node.right)
        if isinstance(node, ast.Subscript):
            name = _canonical(self.scope.qualified(node.value))
            args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            if name == "typing.Union":
                return [m for a in args for m in self._union_members(a)]
            if name == "typing.Optional" and len(args) == 1:
                return self._union_members(args[0]) + self._union_members(ast.Constant(None))
        member = self._type(node)
        return [(self._identity(node), member)]

    def _identity(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and node.value is None:
            return "builtins.None"
        name = _canonical(self.scope.qualified(node)) if not isinstance(node, ast.Subscript) else None
        return name or ast.dump(node)

    def _literal_schema(self, args: list[ast.expr], node: ast.expr) -> dict[str, Any]:
        values: list[Any] = []
        seen: list[tuple[Any, ...]] = []
        for value in self._literal_values(args, node):
            key = (type(value), value.enum, value.name) if isinstance(value, _Member) else (type(value), value)
            if key not in seen:
                seen.append(key)
                values.append(value)
        expected = [_jsonable(v) for v in values]
        result: dict[str, Any] = {"const": expected[0]} if len(expected) == 1 else {"enum": expected}
        kind = _json_type_of_values(expected)
        if kind is not None:
            result["type"] = kind
        return result

    def _literal_values(self, args: list[ast.expr], node: ast.expr) -> list[Any]:
        values: list[Any] = []
        for arg in args:
            if isinstance(arg, ast.Subscript) and _canonical(self.scope.qualified(arg.value)) == "typing.Literal":
                inner = list(arg.slice.elts) if isinstance(arg.slice, ast.Tuple) else [arg.slice]
                values.extend(self._literal_values(inner, node))
                continue
            try:
                value = _literal(arg, self.scope)
            except _Unresolved:
                raise _Unresolved(ast.unparse(node)) from None
            if isinstance(value, (list, tuple, dict, set, frozenset)):
                raise _Unresolved(ast.unparse(node))
            values.append(value)
        return values


def _forward_scope() -> _ModuleScope:
    return _ModuleScope(ast.parse("import typing\nimport typing as t\n"))


def _parse_annotation(text: str, node: ast.expr) -> ast.expr:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise _Unresolved(repr(text)) from None


def _array(items: dict[str, Any], unique: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "array", "items": items}
    if unique:
        result["uniqueItems"] = True
    return result


def _flattened_any_of(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    members: list[dict[str, Any]] = []
    for schema in schemas:
        for member in (schema["anyOf"] if len(schema) == 1 and "anyOf" in schema else [schema]):
            if member not in members:
                members.append(member)
    return members[0] if len(members) == 1 else {"anyOf": members}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- the function -------------------------------------------------------------------------


@attrs.frozen
class _FieldCall:
    default: ast.expr
    description: str | None
    extra: dict[str, Any]


class _FunctionSchema:
    def __init__(self, function: ast.FunctionDef | ast.AsyncFunctionDef, scope: _ModuleScope,
                 path: str) -> None:
        self.function = function
        self.scope = scope
        self.path = path
        self.warnings: list[str] = []

    def _parameters(self) -> list[tuple[ast.arg, str, ast.expr | None]]:
        """(arg, kind, default node) in signature order; kind is 'plain', 'var' or 'varkw'."""
        args = self.function.args
        positional = [*args.posonlyargs, *args.args]
        padding: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        result: list[tuple[ast.arg, str, ast.expr | None]] = [
            (arg, "plain", default) for arg, default in zip(positional, [*padding, *args.defaults], strict=True)
        ]
        if args.vararg is not None:
            result.append((args.vararg, "var", None))
        result += [(arg, "plain", default) for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
        if args.kwarg is not None:
            result.append((args.kwarg, "varkw", None))
        return result

    def build(self) -> SchemaResult:
        docstring = _docstring_of(self.function, clean_twice=True)
        descriptions = parameter_descriptions(docstring) if docstring else {}
        annotations = _Annotations(self.scope)
        properties: dict[str, dict[str, Any]] = {}
        required: list[str] = []
        for position, (arg, kind, default_node) in enumerate(self._parameters()):
            name = arg.arg
            if name in IMPLICIT_PARAMETERS:
                continue
            field = self._field(arg, default_node) if kind == "plain" else None
            prop = self._type_of(arg, kind, annotations)
            has_default = self._apply_default(prop, arg, kind,
                                              field.default if field else default_node)
            description = (field.description if field and field.description
                           else descriptions.get(name))
            if description is not None:
                prop["description"] = description
            prop["title"] = name
            extra = dict(field.extra) if field else {}
            extra.setdefault("position", position)
            prop.update(extra)
            if name.startswith("_"):
                self._warn(arg, f"parameter {name!r}: Prefect cannot build a schema for a name "
                                "with a leading underscore (the flow will fail to load)")
            properties[name] = dict(sorted(prop.items()))
            if not has_default:
                required.append(name)
        schema: dict[str, Any] = {"title": "Parameters", "type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema["definitions"] = dict(sorted(annotations.definitions.items()))
        return SchemaResult(schema, tuple(self.warnings))

    def _type_of(self, arg: ast.arg, kind: str, annotations: _Annotations) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if arg.annotation is not None:
            saved = dict(annotations.definitions)
            try:
                item = dict(annotations.annotation_schema(arg.annotation))
            except _Unresolved:
                annotations.definitions = saved
                self._warn(arg, f"parameter {arg.arg!r}: type {ast.unparse(arg.annotation)} is not "
                                "known without importing it; its schema accepts any value")
        if kind == "var":
            return {"type": "array", "items": item}
        if kind == "varkw":
            return {"type": "object", "additionalProperties": item or True}
        return item

    def _apply_default(self, prop: dict[str, Any], arg: ast.arg, kind: str,
                       node: ast.expr | None) -> bool:
        """Set `default` on `prop`; False when the parameter is required."""
        if kind == "var":
            prop["default"] = []
            return True
        if kind == "varkw":
            prop["default"] = {}
            return True
        if node is None:
            return False
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return False  # pydantic reads `...` as "required"
        try:
            value = _literal(node, self.scope)
        except _Unresolved:
            self._warn(arg, f"parameter {arg.arg!r}: default {ast.unparse(node)} is not a literal; "
                            "the schema shows no default for it")
            return True
        with contextlib.suppress(_NotJson):  # Prefect leaves such a default out, too
            prop["default"] = _encode_default(value)
        return True

    def _field(self, arg: ast.arg, node: ast.expr | None) -> _FieldCall | None:
        """A `pydantic.Field(...)` default, as Prefect uses it: its default, its description
        (which wins over the docstring's) and its `json_schema_extra`; other arguments
        (constraints, title, examples) do not reach Prefect's schema."""
        if not (isinstance(node, ast.Call) and _canonical(self.scope.qualified(node.func))
                in ("pydantic.Field", "pydantic.fields.Field")):
            return None
        keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
        default = node.args[0] if node.args else keywords.get("default")
        if default is None:  # no default (or only a default_factory): required
            default = ast.Constant(Ellipsis)
        description = None
        extra: dict[str, Any] = {}
        try:
            if "description" in keywords:
                text = _literal(keywords["description"], self.scope)
                description = text if isinstance(text, str) else None
            if "json_schema_extra" in keywords:
                value = _literal(keywords["json_schema_extra"], self.scope)
                if not isinstance(value, dict):
                    raise _Unresolved(ast.unparse(keywords["json_schema_extra"]))
                extra = {str(k): _jsonable(v) for k, v in value.items()}
        except (_Unresolved, _NotJson):
            self._warn(arg, f"parameter {arg.arg!r}: {ast.unparse(node)} has arguments that are "
                            "not literals; the schema leaves them out")
        return _FieldCall(default, description, extra)

    def _warn(self, arg: ast.arg, message: str) -> None:
        self.warnings.append(f"{self.path}:{arg.lineno}: {message}")


# --- docstrings ---------------------------------------------------------------------------


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _docstring_of(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
                  clean_twice: bool) -> str | None:
    if not node.body or not _is_docstring(node.body[0]):
        return None
    raw = node.body[0].value.value  # type: ignore[attr-defined]
    cleaned = clean_docstring(raw)
    # The docstring parser cleans once more, after stripping trailing whitespace.
    return clean_docstring(cleaned.rstrip()) if clean_twice else cleaned


def clean_docstring(text: str) -> str:
    """`inspect.cleandoc`: tabs expanded, common indentation of lines after the first removed,
    leading and trailing blank lines dropped."""
    lines = text.expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.lstrip()]
    margin = min(indents) if indents else None
    if lines:
        lines[0] = lines[0].lstrip()
    if margin is not None:
        lines = [lines[0], *(line[margin:] for line in lines[1:])]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


_SECTION_TITLE = re.compile(r"^(?P<type>[\w][\s\w-]*):(\s+(?P<title>[^\s].*))?\s*$", re.IGNORECASE)
_PARAMETER_SECTIONS = frozenset({"args", "arguments", "params", "parameters"})


def _blank(line: str) -> bool:
    return not line or line.isspace()


def parameter_descriptions(docstring: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section, read the way Prefect reads
    them (with griffe's Google parser): NumPy and Sphinx styles yield nothing, as they do there.
    When several parameter sections are present, the last non-empty one wins."""
    lines = docstring.split("\n")
    found: dict[str, str] = {}
    in_fence = False
    offset = 0
    while offset < len(lines):
        line = lines[offset]
        fence = line.lstrip(" ").startswith("```")
        if in_fence or fence:
            in_fence = in_fence != fence
            offset += 1
            continue
        match = _SECTION_TITLE.match(line) if ":" in line else None
        if match and _opens_block(lines, offset):
            items, offset = _block_items(lines, offset + 1)
            if match.group("type").lower() in _PARAMETER_SECTIONS:
                section = _parameter_items(items)
                if section:
                    found = section
        offset += 1
    return found


def _opens_block(lines: list[str], offset: int) -> bool:
    """A title line starts a section when it has a blank line above and indented content
    right below it (or one line further down, without a blank line in between)."""
    def indented(i: int) -> bool:
        return i < len(lines) and not _blank(lines[i]) and lines[i].startswith(" ")

    below = offset + 1 < len(lines) and _blank(lines[offset + 1])
    line_below = indented(offset + 1)
    lines_below = indented(offset + 2) and offset + 2 < len(lines)
    if not (line_below or lines_below):
        return False
    blank_above = offset == 0 or _blank(lines[offset - 1])
    return blank_above and not (lines_below and below)


def _block_items(lines: list[str], offset: int) -> tuple[list[list[str]], int]:
    """Items of an indented block: each starts at the block's indentation; deeper lines
    continue it. Returns the items and the offset of the block's last line."""
    if offset >= len(lines):
        return [], offset
    while _blank(lines[offset]):
        offset += 1
    indent = len(lines[offset]) - len(lines[offset].lstrip())
    if indent == 0:
        return [], offset - 1
    items = [[lines[offset][indent:]]]
    offset += 1
    while offset < len(lines):
        line = lines[offset]
        if _blank(line):
            items[-1].append("")
        elif line.startswith(" " * (indent * 2)):
            items[-1].append(line[indent * 2:])
        elif line.startswith(" " * (indent + 1)):
            items[-1].append(line.lstrip())
        elif line.startswith(" " * indent):
            items.append([line[indent:]])
        else:
            break
        offset += 1
    return items, offset - 1


def _parameter_items(items: list[list[str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        head, colon, description = item[0].partition(":")
        if not colon:
            continue
        text = "\n".join([description.lstrip(), *item[1:]]).rstrip("\n")
        name = head.split("(", 1)[0].strip() if "(" in head and head.endswith(")") else head
        result[name] = text
    return result


# --- readable differences -------------------------------------------------------------------


def describe_schema_changes(before: Mapping[str, Any] | None,
                            after: Mapping[str, Any] | None) -> tuple[str, ...]:
    """What changed between two parameter schemas, one short line per change, for plans:
    parameters added or removed, and per parameter its type, default, required-ness,
    description and position."""
    old = _properties(before)
    new = _properties(after)
    old_required = _required(before)
    new_required = _required(after)
    lines: list[str] = []
    for name, prop in new.items():
        if name not in old:
            details = [type_label(prop, after)]
            if "default" in prop:
                details.append(f"default {_show_value(prop['default'])}")
            elif name in new_required:
                details.append("required")
            lines.append(f"parameter {name!r} added ({', '.join(details)})")
    for name in old:
        if name not in new:
            lines.append(f"parameter {name!r} removed")
    for name, prop in new.items():
        if name in old:
            lines.extend(_property_changes(name, old[name], prop, before, after,
                                           name in old_required, name in new_required))
    if not lines and json_like(before or {}) != json_like(after or {}):
        lines.append("schema details changed")
    return tuple(lines)


def _property_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any],
                      before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                      was_required: bool, is_required: bool) -> list[str]:
    lines = []
    old_type, new_type = type_label(old, before), type_label(new, after)
    if old_type != new_type:
        lines.append(f"{name!r}: type {old_type} -> {new_type}")
    elif _type_part(old) != _type_part(new) or _refs(old, before) != _refs(new, after):
        lines.append(f"{name!r}: type details changed ({new_type})")
    if "default" in old and "default" in new:
        if json_like(old["default"]) != json_like(new["default"]):
            lines.append(f"{name!r}: default {_show_value(old['default'])} -> {_show_value(new['default'])}")
    elif "default" in new:
        lines.append(f"{name!r}: default {_show_value(new['default'])} added")
    elif "default" in old:
        lines.append(f"{name!r}: default {_show_value(old['default'])} removed")
    if is_required and not was_required:
        lines.append(f"{name!r} now required")
    elif was_required and not is_required:
        lines.append(f"{name!r} no longer required")
    if old.get("description") != new.get("description"):
        lines.append(f"{name!r}: description changed")
    if old.get("position") != new.get("position"):
        lines.append(f"{name!r}: position {old.get('position')} -> {new.get('position')}")
    return lines


_NOT_TYPE = frozenset({"default", "description", "position", "title"})


def _type_part(prop: Mapping[str, Any]) -> Any:
    return json_like({k: v for k, v in prop.items() if k not in _NOT_TYPE})


def _refs(prop: Mapping[str, Any], schema: Mapping[str, Any] | None) -> Any:
    definitions = (schema or {}).get("definitions") or {}
    names = sorted(set(re.findall(r"#/definitions/([^\"']+)", repr(json_like(prop)))))
    return [json_like(definitions.get(n)) for n in names]


def type_label(prop: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> str:
    """A short name for a property's type: `integer`, `string/date-time`, `array[integer]`,
    `integer | null`, `enum Color`, `any`."""
    if "$ref" in prop:
        name = str(prop["$ref"]).rsplit("/", 1)[-1]
        return f"enum {name}" if "enum" in ((schema or {}).get("definitions") or {}).get(name, {}) else name
    if "anyOf" in prop:
        return " | ".join(type_label(m, schema) for m in prop["anyOf"])
    if "const" in prop:
        return f"literal {_show_value(prop['const'])}"
    if "enum" in prop:
        return "one of " + ", ".join(_show_value(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind is None:
        return "any"
    label = str(kind)
    if "format" in prop:
        label += f"/{prop['format']}"
    if kind == "array":
        if "prefixItems" in prop:
            label += "[" + ", ".join(type_label(m, schema) for m in prop["prefixItems"]) + "]"
        elif isinstance(prop.get("items"), Mapping):
            label += f"[{type_label(prop['items'], schema)}]"
    if kind == "object" and isinstance(prop.get("additionalProperties"), Mapping):
        label += f"[{type_label(prop['additionalProperties'], schema)}]"
    return label


def _properties(schema: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    properties = (schema or {}).get("properties") or {}
    return {str(k): v for k, v in properties.items() if isinstance(v, Mapping)}


def _required(schema: Mapping[str, Any] | None) -> set[str]:
    return {str(name) for name in (schema or {}).get("required") or ()}


def _show_value(value: Any) -> str:
    import json

    text = json.dumps(json_like(value), sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."

