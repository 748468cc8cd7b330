"""`aps-prefect-deploy`: the seed SDK's deploy CLI, served by flowportal.

A team's CI (`deploy.yml`, `promote.yml`) keeps calling

    aps-prefect-deploy deploy -app-name A -env E -ver-number N -project-name P \\
        -branch-name B -commit-hash C -image-uri I -package-version V \\
        -static-flow-config-path PATH [--flows-to-deploy a,b|all]
    aps-prefect-deploy promote -app-name A -env TARGET -ver-number N -source-env SRC \\
        -project-name P -branch-name B -static-flow-config-path PATH [--flows-to-deploy ...]

and gets the deployments the SDK made (same names, Prefect flow names, tags),
now planned before they are written, unchanged ones left alone, and no flow
module imported. The flags map onto flowportal's deploy and promote use cases;
the SDK's rules live in `portal_core.sdk_compat`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flowportal.workspace import ENVIRONMENTS_FILE, Workspace, discover_flows, load_workspace
from portal_core.errors import ConfigError

PROG = "aps-prefect-deploy"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Deploy and promote Prefect flows (the seed SDK's CLI, run by flowportal)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("deploy", "promote"):
        sub = commands.add_parser(name)
        sub.add_argument("-app-name", required=True, help="application name (acme-config)")
        sub.add_argument("-env", required=True,
                         help="environment to deploy to" if name == "deploy" else "target environment")
        sub.add_argument("-ver-number", required=True, type=int,
                         help="acme-config version: job env comes from ./{app}.{env}.{ver}.env")
        if name == "promote":
            sub.add_argument("-source-env", required=True, help="environment to promote from")
        sub.add_argument("-project-name", required=True, help="project name ('_' becomes '-')")
        sub.add_argument("-branch-name", required=True, help="branch name ('_' becomes '-')")
        if name == "deploy":
            sub.add_argument("-commit-hash", required=True, help="git commit hash")
            sub.add_argument("-image-uri", required=True, help="container image of this version")
            sub.add_argument("-package-version", required=True, help="package version")
        sub.add_argument("-static-flow-config-path", required=True,
                         help="the per-flow static deploy config (YAML)")
        sub.add_argument("--flows-to-deploy", default="all",
                         help="comma-separated flow names, or 'all' (default)")
        sub.add_argument("--dry-run", action="store_true",
                         help="show the plan and stop; exit 2 if changes are pending")
    return parser


def _flows_root(root: Path) -> str:
    """The configured flows root if the project has flowportal config, else detected."""
    if (root / ENVIRONMENTS_FILE).is_file():
        config = load_workspace(root).config
        if config.flow_name_style != "sdk":
            from flowportal import render

            render.warning_line(
                f"{ENVIRONMENTS_FILE} has flow_name_style {config.flow_name_style!r}, but "
                f"{PROG} files deployments under the seed SDK's flow names; set "
                "flow_name_style: sdk so `flowportal deploy` and this command update the same "
                "deployments instead of making twins")
        return config.flows_root
    from portal_core.scaffold import detect_flows_root

    return detect_flows_root(f.relative_path for f in discover_flows(root).flows)


def sdk_workspace(root: Path, args: argparse.Namespace, envs: Sequence[str]) -> Workspace:
    """A workspace whose config is what the SDK would have done with these flags."""
    from portal_core.config import build_static_flows
    from portal_core.sdk_compat import sdk_project_config
    from portal_io.yaml_files import load_yaml

    static_path = Path(args.static_flow_config_path)
    shown = args.static_flow_config_path
    if not (root / static_path).is_file():
        raise ConfigError("static flow config not found; pass -static-flow-config-path with the "
                          "path of your static_flow_deploy_config.yaml", source=shown)
    document = load_yaml(root / static_path, shown)
    try:
        static = build_static_flows(document.data)
    except ConfigError as err:
        raise document.error(err) from None
    flows_root = _flows_root(root)
    keys = [f.key for f in discover_flows(root, flows_root).flows]
    config = sdk_project_config(args.project_name, flows_root, envs, static, keys)
    return Workspace(root=root, config=config,
                     env_file_vars={"app": args.app_name, "ver": str(args.ver_number)})


def run(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    """Parse, map onto the use case, print the plan and results; the exit code."""
    from flowportal.bootstrap import bootstrap
    from flowportal.tasks.common import CliReporter, protect
    from portal_core.sdk_compat import name_part, parse_flows_arg

    args = _parser().parse_args(argv)
    root = root or Path.cwd()
    flows = parse_flows_arg(args.flows_to_deploy)
    branch = name_part(args.branch_name)
    if args.command == "deploy":
        from flowportal.usecases.deploy import DeployRequest, deploy

        workspace = sdk_workspace(root, args, [args.env])
        protect(workspace.config.environments.values())
        request = DeployRequest(flows=flows, env=args.env, branch=branch, commit=args.commit_hash,
                                package_version=args.package_version, image=args.image_uri,
                                dry_run=args.dry_run)
        with CliReporter() as reporter:
            outcome = deploy(workspace, request, bootstrap(), reporter)
    else:
        from flowportal.usecases.promote import PromoteRequest, promote

        workspace = sdk_workspace(root, args, [args.source_env, args.env])
        protect(workspace.config.environments.values())
        promote_request = PromoteRequest(src=args.source_env, dst=args.env,
                                         flows=() if flows == ("all",) else flows, branch=branch,
                                         dry_run=args.dry_run)
        with CliReporter() as reporter:
            outcome = promote(workspace, promote_request, bootstrap(), reporter)
    _report(outcome)
    return int(outcome.exit_code)


def _report(outcome: object) -> None:
    import contextlib

    from invoke.exceptions import Exit

    from flowportal.tasks.common import report_outcome

    with contextlib.suppress(Exit):  # the exit code is returned by `run`
        report_outcome(outcome, json=False)


def main(argv: Sequence[str] | None = None) -> None:
    from flowportal.tasks.common import one_line_errors

    @one_line_errors
    def guarded() -> int:
        return run(argv)

    from invoke.exceptions import Exit

    try:
        code = guarded()
    except Exit as exit_:
        code = int(exit_.code or 0)
    sys.exit(code)


if __name__ == "__main__":
    main()
