"""A task declared once and run either by invoke or, for a plain command line, without it.

Importing invoke is about half the start-up of `flowportal list-flows` (its
collection, config and vendored YAML modules load before any of our code
runs), and a read-only command whose command line names the task and a few of
its long flags needs none of that. A `DeclaredTask` holds the task's function
and help in plain Python:

* `invoke_task()` makes invoke's `Task` from them for the collection, so
  `invoke`, `--list`, `--help`, short flags and every other command line go
  through invoke exactly as before;
* `parse()` reads a *plain* command line (the task's own long flags, each at
  most once: `--flag`, `--name VALUE`, `--name=VALUE`; a repeatable flag any
  number of times) with the flags invoke derives from the same signature (a
  `bool` default is a switch, a `str` or `None` default takes a value, a
  parameter declared `iterable` collects each value into a list, underscores
  become dashes). Anything else
  (a short flag, `--help`, a value that looks like a flag, an empty value, a
  repeated flag, an unknown word) returns None and the caller hands the whole
  command line to invoke, which prints its usual help or error.

So there is no second argument parser to keep in step: the set of command
lines served without invoke is a strict subset of invoke's, read by the same
rules, and a property test checks that invoke parses each of them to the same
call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invoke.tasks import Task


def _flag_name(parameter: str) -> str:
    """invoke's flag name for a parameter: `dry_run` -> `dry-run` (edge underscores dropped)."""
    return parameter.strip("_").replace("_", "-")


class DeclaredTask:
    """A task function (first parameter: invoke's context) with the help of its flags."""

    __slots__ = ("body", "defaults", "help", "iterable", "name", "repeatable", "switches", "valued")

    def __init__(self, body: Callable[..., Any], help: Mapping[str, str], iterable: Sequence[str] = ()) -> None:
        self.body = body
        self.help = dict(help)
        self.iterable = tuple(iterable)
        self.name = _flag_name(body.__name__)  # invoke's auto-dashed task name
        parameters = list(inspect.signature(body).parameters.values())[1:]  # after the context
        #: flag -> parameter, for flags that are switches, that take a value, that take one per use
        self.switches: dict[str, str] = {}
        self.valued: dict[str, str] = {}
        self.repeatable: dict[str, str] = {}
        unknown_iterable = set(self.iterable) - {p.name for p in parameters}
        if unknown_iterable:
            raise TypeError(f"{self.name}: iterable names unknown parameters {sorted(unknown_iterable)}")
        for parameter in parameters:
            default = parameter.default
            if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
                raise TypeError(f"{self.name}: parameter {parameter.name} must be a plain keyword")
            if parameter.name in self.iterable:
                if default is not inspect.Parameter.empty:
                    raise TypeError(f"{self.name}: iterable parameter {parameter.name} takes no default "
                                    "(invoke passes a list)")
                self.repeatable[f"--{_flag_name(parameter.name)}"] = parameter.name
            elif isinstance(default, bool):
                self.switches[f"--{_flag_name(parameter.name)}"] = parameter.name
            elif default is None or isinstance(default, str):
                self.valued[f"--{_flag_name(parameter.name)}"] = parameter.name
            else:  # invoke would convert it (int, list...): not served without invoke
                raise TypeError(f"{self.name}: parameter {parameter.name} needs a bool, str or None default")
        unknown = set(self.help) - {p.name for p in parameters} - {_flag_name(p.name) for p in parameters}
        if unknown:
            raise TypeError(f"{self.name}: help for unknown parameters {sorted(unknown)}")
        self.defaults: dict[str, Any] = {p.name: p.default for p in parameters if p.name not in self.iterable}

    def invoke_task(self) -> Task:
        """invoke's `Task` for the collection (imports invoke)."""
        from invoke.tasks import Task

        return Task(self.body, help=dict(self.help), iterable=list(self.iterable))

    def parse(self, args: Sequence[str]) -> dict[str, Any] | None:
        """The keyword arguments for a plain command line after the task name, else None."""
        kwargs = dict(self.defaults)
        for name in self.iterable:
            kwargs[name] = []
        seen: set[str] = set()
        tokens = iter(args)
        for token in tokens:
            flag, has_value, value = token.partition("=")
            if flag in seen and flag not in self.repeatable:
                return None
            seen.add(flag)
            if flag in self.switches and not has_value:
                kwargs[self.switches[flag]] = True
            elif flag in self.valued or flag in self.repeatable:
                if not has_value:
                    value = next(tokens, "")
                if not value or value.startswith("-"):
                    return None
                if flag in self.repeatable:
                    kwargs[self.repeatable[flag]].append(value)
                else:
                    kwargs[self.valued[flag]] = value
            else:
                return None
        return kwargs


__all__ = ["DeclaredTask"]
