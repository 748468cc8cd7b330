"""A table as text, exactly as rich prints it, without importing rich.

`list-flows` prints one rich table (and a deploy its table of results).
Importing rich and laying the table out costs about 0.1 s, a third of the
command. To a file or pipe rich prints plain characters; to a colour terminal
it adds a few fixed escape codes (an italic title, a bold header, a yellow key,
a green `ok` or a red `failed`). In those cases this module lays
the table out itself, with rich's rules for the case `flowportal.render`
uses (a left-justified title, one header row, the `HEAVY_HEAD` box with
outer edges, padding of one space either side, columns that wrap words and
fold longer words, no fixed widths, no ratios, no expansion):

* each column's range is its cells' longest word and longest text, plus the
  padding, capped at the room left between the borders;
* columns start at their maximum; while the table is too wide, the widest
  columns shrink to the next widest (in proportion, integers rounded as
  Python's `round` does), and if that is not enough every column gives up
  the same share;
* a cell wraps at word boundaries (a word keeps its trailing spaces, which
  may run past the edge and are then cut), a word longer than the line is
  cut into line-long pieces, and every line is padded to the column width.

Whenever rich could print anything else (forced colours or terminal, a dumb
terminal, NO_COLOR, an encoding that is not UTF, Windows, Jupyter, IDLE, a width
too small to lay out, text that is not printable ASCII, holds a backslash or
a `:name:` emoji code) `render` and `output_mode` return None and the caller
uses rich. Tests compare the two over generated tables, widths and colour
systems, so a rich upgrade that changes its output fails there, not in
front of a user.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

# rich's HEAVY_HEAD box: top, header row, header rule, body rows, bottom.
_TOP = ("┏", "━", "┳", "┓")
_HEAD_ROW = ("┃", "┃", "┃")
_HEAD_RULE = ("┡", "━", "╇", "┩")
_BODY_ROW = ("│", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")

_PAD = 1  # cells of padding on each side of a cell

#: Printable ASCII only (one character is one cell, no tabs or line breaks), and no
#: backslash: rich's markup escaping doubles a trailing one.
_PLAIN = re.compile(r"[ -\[\]-~]*")
#: What rich's markup could turn into an emoji (`:rocket:`): left to rich.
_EMOJI_CODE = re.compile(r":\S*:")
_WORD = re.compile(r" *[^ ]+ *")

#: Narrower than this, rich's layout has corner cases not worth copying.
MIN_WIDTH = 20


def output_mode(stream: Any, environ: Mapping[str, str] = os.environ,
                min_width: int = MIN_WIDTH) -> tuple[int, bool] | None:
    """The width rich would lay a table out at on `stream` and whether it would use
    colour (a terminal), when this module prints exactly what rich would; else None
    (also when the width is below `min_width`)."""
    if sys.platform == "win32" or "IPython" in sys.modules:
        return None
    if getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return None  # IDLE says it is a terminal; rich knows it shows no escape codes
    if "FORCE_COLOR" in environ or "TTY_COMPATIBLE" in environ:
        return None
    try:
        terminal = bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return None
    if terminal:
        term = environ.get("TERM", "")
        if term.lower() in ("dumb", "unknown") or term.strip().lower() in ("dumb", "unknown"):
            return None  # rich: no colour, a fixed 80 columns
        if environ.get("NO_COLOR", "") != "":
            return None  # rich: styles but no colours
    encoding = (getattr(stream, "encoding", "utf-8") or "utf-8").lower()
    if not encoding.startswith("utf"):
        return None  # rich would draw the box in ASCII
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        if not columns.isascii():
            return None
        width = int(columns)
    else:
        width = 0
        for descriptor in (0, 1, 2):  # rich asks stdin, stdout, stderr in turn
            try:
                width = os.get_terminal_size(descriptor).columns
            except (AttributeError, ValueError, OSError):
                continue
            break
        width = width or 80
    return (width, terminal) if width >= min_width else None


def renderable(text: str) -> bool:
    """Text rich prints as it is: printable ASCII, no backslash, no emoji code."""
    return _PLAIN.fullmatch(text) is not None and _EMOJI_CODE.search(text) is None


def _bounded(low: int, high: int, room: int) -> tuple[int, int]:
    """A (min, max) range normalised and capped at `room`, as rich measures."""
    low = max(0, min(low, high))
    high = max(0, high)
    low, high = min(low, room), min(high, room)
    if high < 1:
        return 0, 0
    return max(0, min(low, high)), high


def _cell_range(text: str, room: int) -> tuple[int, int]:
    """Narrowest and widest a padded cell can be, within `room` cells."""
    if room < 1:
        return 0, 0
    if room - 2 * _PAD < 1:
        return _bounded(room, room, room)
    words = text.split()
    longest_line = len(text)
    low, high = _bounded(max(map(len, words)) if words else longest_line, longest_line, room)
    return _bounded(low + 2 * _PAD, high + 2 * _PAD, room)


def _column_range(cells: Sequence[str], room: int) -> tuple[int, int]:
    if room < 1:
        return 0, 0
    ranges = [_cell_range(cell, room) for cell in cells]
    low = max(r[0] for r in ranges) if ranges else 1
    high = max(r[1] for r in ranges) if ranges else room
    return min(low, room), min(high, room)


def _take(total: int, ratios: list[int], limits: list[int], values: list[int]) -> list[int]:
    """Take `total` off `values` in proportion to `ratios`, at most `limits` each."""
    ratios = [ratio if limit else 0 for ratio, limit in zip(ratios, limits, strict=True)]
    weight = sum(ratios)
    if not weight:
        return values[:]
    left = total
    result = []
    for ratio, limit, value in zip(ratios, limits, values, strict=True):
        if ratio and weight > 0:
            taken = min(limit, round(ratio * left / weight))
            result.append(value - taken)
            left -= taken
            weight -= ratio
        else:
            result.append(value)
    return result


def _shrink_widest(widths: list[int], room: int) -> list[int]:
    total = sum(widths)
    excess = total - room
    while total and excess > 0:
        widest = max(widths)
        runner_up = max((w for w in widths if w != widest), default=0)
        gap = widest - runner_up
        if not gap:
            break
        shares = [1 if w == widest else 0 for w in widths]
        widths = _take(excess, shares, [min(excess, gap)] * len(widths), widths)
        total = sum(widths)
        excess = total - room
    return widths


def column_widths(columns: Sequence[Sequence[str]], width: int) -> list[int]:
    """Each column's width (padding included, borders not) in a table `width` cells wide."""
    room = width - (len(columns) + 1)  # one border between and around the columns
    widths = [_column_range(cells, room)[1] or 1 for cells in columns]
    if sum(widths) > room:
        widths = _shrink_widest(widths, room)
        if sum(widths) > room:
            widths = _take(sum(widths) - room, [1] * len(widths), widths, widths)
        widths = [_column_range(cells, w)[1] or 0 for cells, w in zip(columns, widths, strict=True)]
    return widths


def _fold(text: str, width: int) -> list[tuple[int, str, int]]:
    """`text` word-wrapped into lines of `width` cells (long words cut): where each
    line starts in `text`, its text and the spaces that pad it to `width`."""
    breaks: list[int] = []
    used = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = len(word.rstrip())
        if width - used >= length:
            used += len(word)
        elif length > width:
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for piece in pieces[:-1]:
                if start:
                    breaks.append(start)
                start += len(piece)
            if start:
                breaks.append(start)
            used = len(pieces[-1])
        elif used and start:
            breaks.append(start)
            used = len(word)
    lines = []
    for begin, end in zip([0, *breaks], [*breaks, len(text)], strict=True):
        line = text[begin:end]
        if len(line) > width:  # trailing spaces past the edge go first
            spaces = len(line) - len(line.rstrip())
            line = line[: len(line) - min(spaces, len(line) - width)]
        line = line[:width]
        lines.append((begin, line, width - len(line)))
    return lines


def _bold(text: str) -> str:
    return f"\x1b[1m{text}\x1b[0m"


#: SGR codes of the colours a cell's text may start with.
_COLOURS = {"red": "31", "green": "32", "yellow": "33"}


def _cell_lines(text: str, width: int, style: str = "", lead: tuple[str, int] = ("", 0)) -> list[str]:
    """A cell's lines in a column `width` cells wide, padding included (the padding
    fills the column, so the text wraps at the column's width less the padding).

    `style`: "" plain; "header": bold, padding and all, as rich styles a header
    cell. `lead`: a colour and a length: the text's first characters in that colour
    (not the padding), as rich shows `[yellow]!key[/]` or `[red]failed[/]: why`,
    each wrapped line's share on its own.
    """
    pad = " " * _PAD
    colour, length = lead
    lines = []
    for begin, line, spaces in _fold(text, width - 2 * _PAD):
        if style == "header":
            lines.append(_bold(pad) + _bold(line + " " * spaces) + _bold(pad))
            continue
        shown = line[:max(0, length - begin)] if colour else ""
        if shown:
            line = f"\x1b[{_COLOURS[colour]}m{shown}\x1b[0m{line[len(shown):]}"
        lines.append(pad + line + " " * spaces + pad)
    return lines


def _rule(parts: tuple[str, str, str, str], widths: list[int]) -> str:
    left, line, between, right = parts
    return left + between.join(line * w for w in widths) + right + "\n"


def _row(edges: tuple[str, str, str], cells: list[list[str]], widths: list[int], header: bool,
         colour: bool) -> str:
    height = max(len(lines) for lines in cells)
    shaped = []
    for lines, width in zip(cells, widths, strict=True):
        blank = [_bold(" " * width) if header and colour else " " * width] * (height - len(lines))
        shaped.append(blank + lines if header else lines + blank)  # headers sit on the rule
    left, between, right = edges
    return "".join(left + between.join(column[i] for column in shaped) + right + "\n"
                   for i in range(height))


def render(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int,
           colour: bool = False, leads: Sequence[Sequence[tuple[str, int]]] = ()) -> str | None:
    """The table as rich prints it at `width` cells, or None (use rich).

    Without `colour`, as rich prints to a file or pipe. With it, as rich prints
    to a colour terminal: the title italic, the header bold, and the leading
    characters of each cell as its row's `leads` say (a colour of `_COLOURS` and
    a length; a row may list fewer leads than cells).
    """
    texts = [title, *headers, *(cell for row in rows for cell in row)]
    if not all(renderable(text) for text in texts):
        return None
    if any(c and c not in _COLOURS for row in leads for c, _ in row):
        return None
    columns = [[header, *(row[i] for row in rows)] for i, header in enumerate(headers)]
    widths = column_widths(columns, width)
    if min(widths) < 2 * _PAD + 1:
        return None  # too narrow for text: left to rich
    out = [(f"\x1b[3m{title}\x1b[0m" if colour else title) + "\n", _rule(_TOP, widths)]
    head = [_cell_lines(h, w, "header" if colour else "") for h, w in zip(headers, widths, strict=True)]
    out.append(_row(_HEAD_ROW, head, widths, header=True, colour=colour))
    out.append(_rule(_HEAD_RULE, widths))
    plain = ("", 0)
    for index, row in enumerate(rows):
        row_leads = [*(leads[index] if colour and index < len(leads) else ()), *[plain] * len(row)]
        cells = [_cell_lines(c, w, lead=lead) for c, w, lead in zip(row, widths, row_leads, strict=False)]
        out.append(_row(_BODY_ROW, cells, widths, header=False, colour=colour))
    out.append(_rule(_BOTTOM, widths))
    return "".join(out)
