"""What `flowportal init` writes into a repository, decided from facts about it.

The shell gathers the facts (pyproject name, where flows were found by the AST
scan, which files exist); this module decides the config and renders the files
as text, so the rules are testable without a disk and a second run can compare
text to text (idempotence: nothing changes when nothing would).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from portal_core.names import slugify

ENVIRONMENTS_FILE = "config/environments.yaml"
STATE_GITIGNORE = ".portal/.gitignore"
#: Where teams keep the seed's static config, in the order they are looked for.
STATIC_CONFIG_PLACES = ("config/static_flow_deploy_config.yaml",
                        ".acme_portal_sdk/static_flow_deploy_config.yaml")
SDK_DIR = ".acme_portal_sdk"
DEFAULT_ENVS = ("dev", "uat", "prod")
LOCAL_POOL = "local-process"

#: Top-level folders whose flows are not the project's deployable flows.
NOT_FLOW_PACKAGES = frozenset({"tests", "test", "testing", "docs", "doc", "benchmarks", SDK_DIR})


def package_dir(relative_path: str) -> str:
    """The top-level package folder holding a file: `pkg` or, in a src/ layout, `src/pkg`.

    Files directly at the root (or directly in `src/`) belong to `.` / `src`.
    """
    parts = relative_path.split("/")
    if len(parts) == 1:
        return "."
    if parts[0] == "src":
        return "src" if len(parts) == 2 else f"src/{parts[1]}"
    return parts[0]


def detect_flows_root(flow_paths: Iterable[str]) -> str:
    """The package that holds the project's flows, or `.` when they are spread out.

    Flows under tests/docs/benchmarks do not count (test helpers often define
    flows). Choosing one package among several would silently drop the others'
    flows, so anything but a single package gives the whole repository.
    """
    packages = {package_dir(p) for p in flow_paths}
    packages = {p for p in packages if p.split("/")[-1] not in NOT_FLOW_PACKAGES and p != "."}
    if len(packages) == 1:
        return packages.pop()
    return "."


def default_import_root(relative_path: str) -> str:
    """Where Python imports a file from, as far as its path tells: `src` for a file
    under `src/` (a src/ layout installs its packages from there), else the root.

    Only a look at the disk can tell the rare project whose `src/` is itself a
    package (imported as `src.pkg`); a caller that has looked passes its answer
    to `import_module_for` instead.
    """
    return "src" if relative_path.startswith("src/") else ""


def import_module_for(relative_path: str, import_root: str) -> str:
    """The dotted module a file is imported as when `import_root` is on sys.path.

    In a src/ layout the package is installed from `src/`, so
    `src/acme/flows/x.py` is `acme.flows.x`, not `src.acme.flows.x`.
    """
    path = relative_path
    root = import_root.strip("/")
    if root and root != "." and path.startswith(root + "/"):
        path = path[len(root) + 1:]
    stem = path[:-3] if path.endswith(".py") else path
    parts = [p for p in stem.split("/") if p]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@attrs.frozen
class RepoFacts:
    """What init needs to know about a repository (gathered by the shell)."""

    directory_name: str
    pyproject_name: str | None
    flow_paths: tuple[str, ...]  # root-relative paths of files with flows (AST scan)
    existing: frozenset[str]  # which of the files init cares about exist
    uses_acme_portal_sdk: bool = False  # deployments were made by the seed SDK
    # Text of `.acme_portal_sdk/flow_deploy.py` / `deployment_promote.py`, if present.
    sdk_modules: Mapping[str, str] = attrs.Factory(dict)


@attrs.frozen
class GitHubRoute:
    """The extension's deploy/promote go through this GitHub Actions workflow."""

    workflow: str
    inputs: str  # an inputs preset (`flowportal`, `sdk`)


@attrs.frozen
class InitConfig:
    project: str
    flows_root: str
    static_config: str | None
    flow_name_style: str
    envs: tuple[str, ...] = DEFAULT_ENVS
    github: Mapping[str, GitHubRoute] = attrs.Factory(dict)  # module -> route


_SDK_WORKFLOW_CLASS = {"flow_deploy": "GithubActionsDeployWorkflow",
                       "deployment_promote": "GithubActionsPromoteWorkflow"}
_WORKFLOW_ARG = re.compile(r"""workflow(?:_file)?\s*=\s*["']([^"']+)["']""")
_INPUTS_ARG = re.compile(r"""inputs\s*=\s*["']([^"']+)["']""")
_VIA_GITHUB = re.compile(r"""via\s*=\s*["']github["']""")


def github_route(module: str, text: str) -> GitHubRoute | None:
    """Whether an extension module deploys through GitHub, and with which workflow.

    The seed SDK's `GithubActionsDeployWorkflow(workflow_file="deploy.yml")`
    means the team's workflow takes the SDK's inputs; our own module says
    `via="github"` with its inputs preset. Reading the text (never importing it)
    keeps a second init run identical to the first.
    """
    default = "deploy.yml" if module == "flow_deploy" else "promote.yml"
    workflow = _WORKFLOW_ARG.search(text)
    name = workflow.group(1) if workflow else default
    if _SDK_WORKFLOW_CLASS.get(module, "\0") in text:
        return GitHubRoute(workflow=name, inputs="sdk")
    if _VIA_GITHUB.search(text):
        inputs = _INPUTS_ARG.search(text)
        return GitHubRoute(workflow=name, inputs=inputs.group(1) if inputs else "flowportal")
    return None


def decide(facts: RepoFacts) -> InitConfig:
    """The configuration init writes.

    A repository that already used the seed SDK keeps its naming (`sdk`), or
    flowportal would file every deployment under a second flow name and each
    schedule would fire twice. The SDK's CLI turned `_` into `-` in the project
    name, so in that style the project is written the same way.
    """
    style = "sdk" if facts.uses_acme_portal_sdk else "prefect"
    project = facts.pyproject_name or facts.directory_name
    if style == "sdk":
        project = project.replace("_", "-")
    slugify(project, "project")  # fail here, not on the first deploy
    static = next((p for p in STATIC_CONFIG_PLACES if p in facts.existing), None)
    routes = {m: r for m, text in facts.sdk_modules.items() if (r := github_route(m, text))}
    return InitConfig(project=project, flows_root=detect_flows_root(facts.flow_paths),
                      static_config=static, flow_name_style=style, github=routes)


def _yaml_str(value: str) -> str:
    """A YAML scalar for a plain name or path (quoted unless clearly safe)."""
    safe = value and all(ch.isalnum() or ch in "-_./" for ch in value) and value[0] != "-"
    if safe and value.lower() not in ("null", "true", "false", "yes", "no", "on", "off", "~"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_environments(config: InitConfig) -> str:
    lines = [
        "# flowportal environments: what differs between environments.",
        "# Written by `flowportal init`; edit freely. Each environment's settings stay with",
        "# it on promote: only the code version (entrypoint, commit, image) moves.",
        f"project: {_yaml_str(config.project)}",
        f"flows_root: {_yaml_str(config.flows_root)}          # found by scanning the source (never imported)",
    ]
    if config.static_config and config.static_config != STATIC_CONFIG_PLACES[0]:
        lines.append(f"static_config: {_yaml_str(config.static_config)}")
    if config.flow_name_style != "prefect":
        lines.append(f"flow_name_style: {config.flow_name_style}   # keep the seed SDK's flow names, "
                     "versions and tags")
    lines += [
        f"promotion_path: [{', '.join(config.envs)}]",
        "# write_concurrency: 2   # writes in flight; default 1 on the embedded server, 2 elsewhere",
        "",
        "environments:",
    ]
    for env in config.envs:
        lines += [
            f"  {env}:",
            "    # No prefect_api_url: $PREFECT_API_URL if set, else the embedded local server (.portal/).",
            f"    work_pool: {{name: {LOCAL_POOL}, type: process, create: true}}",
            "    working_dir: .",
            f"    env: {{APP_ENV: {env}}}",
        ]
    return "\n".join(lines) + "\n"


STATE_GITIGNORE_TEXT = "*\n"  # the whole state dir (server, caches) stays out of git


def render_sdk_module(module: str, route: GitHubRoute | None = None) -> str:
    """One of the four modules the acme-portal VS Code extension imports, backed by flowportal.

    The project root is the folder above the module, whatever directory the
    extension runs from."""
    names = {
        "flow_finder": ("FlowportalFlowFinder", "flow_finder"),
        "deployment_finder": ("FlowportalDeploymentFinder", "deployment_finder"),
        "flow_deploy": ("FlowportalDeployWorkflow", "deploy"),
        "deployment_promote": ("FlowportalPromoteWorkflow", "promote"),
    }
    cls, variable = names[module]
    arguments = "ROOT"
    if route is not None:
        arguments += f', via="github", workflow="{route.workflow}", inputs="{route.inputs}"'
    return (
        f'"""{module} for the acme-portal VS Code extension, backed by flowportal.\n\n'
        "Written by `flowportal init --acme-portal`. Settings live in\n"
        "config/environments.yaml; flows are found without importing them.\n"
        '"""\n\n'
        "from pathlib import Path\n\n"
        f"from flowportal.acme_portal import {cls}\n\n"
        "ROOT = Path(__file__).resolve().parent.parent\n"
        f"{variable} = {cls}({arguments})\n"
    )


SDK_MODULES = ("flow_finder", "deployment_finder", "flow_deploy", "deployment_promote")


def planned_files(config: InitConfig, acme_portal: bool) -> list[tuple[str, str]]:
    """(relative path, text) of every file init writes."""
    files = [(ENVIRONMENTS_FILE, render_environments(config)),
             (STATE_GITIGNORE, STATE_GITIGNORE_TEXT)]
    if acme_portal:
        files += [(f"{SDK_DIR}/{m}.py", render_sdk_module(m, config.github.get(m)))
                  for m in SDK_MODULES]
    return files


@attrs.frozen
class FileAction:
    path: str
    action: str  # "create", "overwrite", "unchanged", "kept" (exists, differs, no --force)


def file_actions(planned: Sequence[tuple[str, str]], current: dict[str, str | None],
                 force: bool) -> list[FileAction]:
    """What happens to each file: never overwrite a different file without `force`."""
    actions = []
    for path, text in planned:
        existing = current.get(path)
        if existing is None:
            actions.append(FileAction(path, "create"))
        elif existing == text:
            actions.append(FileAction(path, "unchanged"))
        else:
            actions.append(FileAction(path, "overwrite" if force else "kept"))
    return actions
