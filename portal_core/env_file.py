"""The dotenv file an environment reads: its name template and placeholders.

acme-config's `ac fetch -app-name A -env E -ver-number N` writes `A.E.N.env`
in the working directory, and CI passes A and N on the command line. So
`env_file` is a template: `{env}` is always the environment's name, `{app}`
defaults to the project name, and `{ver}` (or `{app}` when it differs from the
project) comes from whoever runs the deploy (e.g. `aps-prefect-deploy
-ver-number`). A placeholder without a value is an error naming what to pass,
never a silently wrong file name.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from portal_core.errors import ConfigError

PLACEHOLDERS = ("app", "env", "ver")


def render_env_file(template: str, env_name: str, project: str,
                    given: Mapping[str, str] | None = None) -> str:
    """`template` with its placeholders filled; ConfigError for unknown or unset ones."""
    values = {"app": project, **dict(given or {}), "env": env_name}
    try:
        fields = [name for _, name, spec, conv in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as err:
        raise ConfigError(f"env_file {template!r} is not a valid template ({err}); "
                          "write braces only around app, env or ver") from None
    for name in fields:
        if name not in PLACEHOLDERS:
            raise ConfigError(f"env_file {template!r} uses {{{name}}}; the placeholders are "
                              f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        if name not in values:
            raise ConfigError(f"env_file {template!r} uses {{{name}}} but no value was given "
                              f"for it (aps-prefect-deploy passes -ver-number; or write the "
                              f"number into env_file)")
    return template.format(**{k: values[k] for k in PLACEHOLDERS if k in values})
