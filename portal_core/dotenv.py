"""Parse dotenv text (e.g. the `{app}.{env}.{ver}.env` files acme-config writes)."""

from __future__ import annotations

import re

from portal_core.errors import ConfigError

_COMMENT = re.compile(r"\s#")
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")


def parse_dotenv(text: str, source: str = ".env") -> dict[str, str]:
    """`KEY=VALUE` lines; `#` comments, `export`, single and double quotes.

    A malformed line is an error naming its line: a silently skipped variable
    would surface much later as a failing flow run.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError("expected KEY=VALUE", source=f"{source}:{number}")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            # A ` #` starts a comment. Found with a two-character search, not
            # `\s+#.*$`, which backtracks quadratically over long runs of spaces.
            comment = _COMMENT.search(value)
            if comment is not None:
                value = value[: comment.start()].rstrip()
        values[key] = value
    return values
