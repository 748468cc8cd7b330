"""Lines of styled text, exactly as rich prints them, without importing rich.

The plan a deploy prints, its error, warning and progress lines are short
lines of text with a few styled words (a bold title, a green `+ create`, a dim
version). Printing them through rich costs a no-op deploy of 100 flows about
60 ms: importing rich (its markup, console and emoji modules) and parsing the
markup of 200 lines. rich prints them with `Console(highlight=False,
soft_wrap=True)`: soft wrap means no wrapping, cropping or padding, so the
width of the terminal plays no part, and each styled piece of text is written
as rich's SGR code, the text and a reset, whatever the colour system
(standard, 256 or truecolor: the styles used here are the eight standard
colours and bold/dim, which every system writes alike). An empty piece
writes nothing; text without a style is written as it is.

A line is a sequence of (style, text) spans. `render` writes them as rich
would, or returns None when rich could write anything else: text that is not
printable ASCII (tabs, line breaks and control characters rich expands or
strips), a backslash (rich's markup escaping doubles a trailing one), a
`:name:` emoji code, or a style this module does not know. `output_colour`
says whether a stream gets colour, and is None whenever rich may decide
otherwise (see `flowportal.plain_table.output_mode`). The caller then prints
the same spans through rich. Tests compare the two over generated lines and
every colour system, so a rich upgrade that changes its output fails there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flowportal import plain_table

#: One piece of a line: its style ("" for none) and its text.
Span = tuple[str, str]
Line = Sequence[Span]

#: The SGR parameters rich writes for each style flowportal prints.
SGR: Mapping[str, str] = {
    "": "",
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
    "bold red": "1;31",
}


def output_colour(stream: Any, environ: Mapping[str, str] = os.environ) -> bool | None:
    """Whether rich would colour lines written to `stream` (a terminal) or not (a file
    or pipe); None when rich may print them otherwise (then let rich print them)."""
    mode = plain_table.output_mode(stream, environ, min_width=0)  # no wrapping: any width
    return None if mode is None else mode[1]


def renderable(lines: Iterable[Line]) -> bool:
    """Whether `render` can write these lines: every style known, every line's text
    plain (checked whole: `:smi` and `le:` side by side are one emoji code)."""
    return all(all(style in SGR for style, _ in line) and plain_table.renderable("".join(t for _, t in line))
               for line in lines)


def _span(style: str, text: str, colour: bool) -> str:
    code = SGR[style]
    if not (colour and code and text):
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def render(lines: Sequence[Line], colour: bool) -> str | None:
    """The lines as rich prints them (each ending in a line break), in colour or
    not; None when rich might print them otherwise. No lines print as one empty
    line, as rich prints empty text."""
    lines = lines or [[]]
    if not renderable(lines):
        return None
    return "".join("".join(_span(style, text, colour) for style, text in line) + "\n" for line in lines)
