"""`.gitignore` patterns with git's semantics, matched in linear time.

Why not translate each glob into a Python regular expression: `re` backtracks,
so a hostile line such as `**/*a*a*a*a*a*a*a*a*a*b` against a long path takes
exponential time, and discovery hangs on a repository it merely scans. Here
every pattern becomes a small automaton (a nondeterministic one, built from
git's own tokenisation), and all the rules of one file are run together as a
lazily built deterministic automaton: each character of a path costs one
dictionary look-up once the transitions it uses are known, and computing a new
transition costs at most the size of the automaton. Matching is therefore
linear in the path length whatever the patterns are.

Semantics follow git (`dir.c` and `wildmatch.c`):

* blank lines and lines starting with `#` are skipped; trailing spaces are
  dropped unless escaped with a backslash; a CR before the LF is dropped;
* `!` negates (re-includes); a single trailing `/` restricts the rule to
  directories;
* a pattern without `/` (after that trailing one) matches the last path
  component at any depth; otherwise it is anchored to the `.gitignore`'s
  folder (one leading `/` is dropped);
* `*` and `?` never match `/`; `[...]` with `!`/`^` negation, ranges,
  `[:class:]` names and backslash escapes, never matching `/`; a malformed
  bracket makes the whole pattern match nothing, as in git;
* `**` as a whole path segment spans folders (`**/` also zero of them); any
  other run of stars is a plain `*`. Like git, the literal head of an anchored
  pattern is compared first and the rest matched on its own, so `/a**/b`
  treats its `**` as spanning folders;
* the last matching rule wins, and nothing inside an ignored folder can be
  re-included (`is_ignored` checks the parent folders first).

Paths are compared as text (git compares bytes; the two differ only for `?`
and ranges on non-ASCII names). Case is significant (`core.ignoreCase` off).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

# --------------------------------------------------------------------------- tokens


@attrs.frozen
class _Lit:
    char: str


@attrs.frozen
class _AnyButSlash:
    """`?`."""


_CLASS_TESTS = {
    "alnum": str.isalnum,
    "alpha": str.isalpha,
    "blank": lambda c: c in " \t",
    "cntrl": lambda c: ord(c) < 32 or ord(c) == 127,
    "digit": lambda c: "0" <= c <= "9",
    "graph": lambda c: 33 <= ord(c) <= 126,
    "lower": lambda c: "a" <= c <= "z",
    "print": lambda c: 32 <= ord(c) <= 126,
    "punct": lambda c: 33 <= ord(c) <= 126 and not c.isalnum(),
    "space": lambda c: c in " \t\n\r\f\v",
    "upper": lambda c: "A" <= c <= "Z",
    "xdigit": lambda c: c in "0123456789abcdefABCDEF",
}


@attrs.frozen
class _Bracket:
    """`[...]`: a set of characters, ranges and named classes; never `/`."""

    negated: bool
    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]

    def accepts(self, ch: str) -> bool:
        if ch == "/":
            return False
        hit = (
            ch in self.chars
            or any(low <= ch <= high for low, high in self.ranges)
            or any(ch.isascii() and _CLASS_TESTS[name](ch) for name in self.classes)
        )
        return hit != self.negated


@attrs.frozen
class _Star:
    """`*`: any run of characters other than `/`."""


@attrs.frozen
class _AnyRun:
    """A `**` segment at the end (or before an escaped slash): any run, `/` included."""


@attrs.frozen
class _Folders:
    """`**/`: nothing, or any run ending with `/` (zero or more whole folders)."""


_Token = _Lit | _AnyButSlash | _Bracket | _Star | _AnyRun | _Folders

_WILDCARDS = "*?[\\"


def _bracket(pattern: str, start: int) -> tuple[_Bracket, int] | None:
    """Parse the bracket opening at `start`; None when git would abort (malformed)."""
    n = len(pattern)
    j = start + 1
    if j >= n:
        return None
    negated = pattern[j] in "!^"
    if negated:
        j += 1
        if j >= n:
            return None
    chars: set[str] = set()
    ranges: list[tuple[str, str]] = []
    classes: list[str] = []
    previous: str | None = None
    # The first character is taken as a member even if it is `]` (git's do-while).
    while True:
        ch: str | None = pattern[j]
        if ch == "\\":
            j += 1
            if j >= n:
                return None
            ch = pattern[j]
            chars.add(ch)
        elif ch == "-" and previous and j + 1 < n and pattern[j + 1] != "]":
            j += 1
            high = pattern[j]
            if high == "\\":
                j += 1
                if j >= n:
                    return None
                high = pattern[j]
            ranges.append((previous, high))
            ch = None
        elif ch == "[" and j + 1 < n and pattern[j + 1] == ":":
            name_start = j + 2
            k = name_start
            while k < n and pattern[k] != "]":
                k += 1
            if k >= n:
                return None
            if k - name_start - 1 < 0 or pattern[k - 1] != ":":
                chars.add("[")  # not a class after all: `[` is a member, go on at `:`
            else:
                name = pattern[name_start : k - 1]
                if name not in _CLASS_TESTS:
                    return None
                classes.append(name)
                ch = None
                j = k
        else:
            chars.add(pattern[j])
        previous = ch
        j += 1
        if j >= n:
            return None
        if pattern[j] == "]":
            return _Bracket(negated, frozenset(chars), tuple(ranges), tuple(classes)), j + 1


def _tokenize(pattern: str) -> list[_Token] | None:
    """wildmatch's reading of `pattern` (path mode); None: it can never match."""
    tokens: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return None  # a lone trailing backslash matches nothing
            tokens.append(_Lit(pattern[i + 1]))
            i += 2
        elif ch == "?":
            tokens.append(_AnyButSlash())
            i += 1
        elif ch == "[":
            parsed = _bracket(pattern, i)
            if parsed is None:
                return None
            tokens.append(parsed[0])
            i = parsed[1]
        elif ch == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            whole_segment = (
                j - i >= 2
                and (i == 0 or pattern[i - 1] == "/")
                and (j == n or pattern[j] == "/" or pattern.startswith("\\/", j))
            )
            if whole_segment and j < n and pattern[j] == "/":
                tokens.append(_Folders())
                j += 1
            elif whole_segment:
                tokens.append(_AnyRun())
            elif not (tokens and isinstance(tokens[-1], _Star)):
                tokens.append(_Star())
            i = j
        else:
            tokens.append(_Lit(ch))
            i += 1
    return tokens


# --------------------------------------------------------------------------- rules


@attrs.frozen
class IgnoreRule:
    """One effective line of a `.gitignore`."""

    line: int  # 1-based, for messages
    text: str  # the pattern as written (after trimming)
    negated: bool
    dir_only: bool
    anchored: bool  # matched against the path from the file's folder, else the last component
    tokens: tuple[_Token, ...] | None  # None: the pattern can never match


def _trim_trailing_spaces(line: str) -> str:
    """Drop trailing spaces unless escaped (git's `trim_trailing_spaces`)."""
    last_space = -1
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == " ":
            if last_space < 0:
                last_space = i
        elif ch == "\\":
            i += 1
            if i >= len(line):
                return line
            last_space = -1
        else:
            last_space = -1
        i += 1
    return line[:last_space] if last_space >= 0 else line


def parse_rule(raw: str, line: int = 0) -> IgnoreRule | None:
    """One `.gitignore` line as a rule; None for blank lines and comments."""
    text = raw[:-1] if raw.endswith("\r") else raw
    if not text or text.startswith("#"):
        return None
    text = _trim_trailing_spaces(text)
    if not text:
        return None
    body = text
    negated = body.startswith("!")
    if negated:
        body = body[1:]
    dir_only = body.endswith("/")
    if dir_only:
        body = body[:-1]
    if not body:
        return None
    anchored = "/" in body
    tokens: list[_Token] | None
    if anchored:
        body = body.removeprefix("/")
        head = len(body)
        for index, ch in enumerate(body):
            if ch in _WILDCARDS:
                head = index
                break
        # git compares the literal head first and wildmatches the rest on its own.
        rest = _tokenize(body[head:])
        tokens = None if rest is None else [_Lit(ch) for ch in body[:head]] + rest
        if tokens and isinstance(tokens[0], _Folders) and all(
            isinstance(t, (_Lit, _AnyButSlash, _Bracket, _Star)) and t != _Lit("/")
            for t in tokens[1:]
        ):
            # `**/name` matches a last component at any depth: a name rule, which
            # keeps the common `**/*.pyc` off the automaton.
            anchored, tokens = False, tokens[1:]
    else:
        tokens = _tokenize(body)
    return IgnoreRule(
        line=line,
        text=text,
        negated=negated,
        dir_only=dir_only,
        anchored=anchored,
        tokens=None if tokens is None else tuple(tokens),
    )


# --------------------------------------------------------------------------- automaton

_ANY = 0  # transition kinds
_NOT_SLASH = 1
_CHAR = 2
_CLASS = 3


@attrs.frozen
class _Nfa:
    """Thompson-style automaton for many rules: state `i` has `edges[i]` and `eps[i]`."""

    edges: tuple[tuple[tuple[int, object, int], ...], ...]  # (kind, argument, target)
    eps: tuple[tuple[int, ...], ...]
    accepts: tuple[int, ...]  # rule index accepted in each state, or -1
    starts: tuple[int, ...]


def _build_nfa(rules: Sequence[tuple[int, tuple[_Token, ...]]]) -> _Nfa:
    edges: list[list[tuple[int, object, int]]] = []
    eps: list[list[int]] = []
    accepts: list[int] = []

    def new_state() -> int:
        edges.append([])
        eps.append([])
        accepts.append(-1)
        return len(edges) - 1

    starts = []
    for index, tokens in rules:
        state = new_state()
        starts.append(state)
        for token in tokens:
            nxt = new_state()
            if isinstance(token, _Lit):
                edges[state].append((_CHAR, token.char, nxt))
            elif isinstance(token, _AnyButSlash):
                edges[state].append((_NOT_SLASH, None, nxt))
            elif isinstance(token, _Bracket):
                edges[state].append((_CLASS, token, nxt))
            elif isinstance(token, _Star):
                edges[state].append((_NOT_SLASH, None, state))
                eps[state].append(nxt)
            elif isinstance(token, _AnyRun):
                edges[state].append((_ANY, None, state))
                eps[state].append(nxt)
            else:  # _Folders: "" or ".*/"
                inner = new_state()
                eps[state].append(nxt)
                for source in (state, inner):
                    edges[source].append((_ANY, None, inner))
                    edges[source].append((_CHAR, "/", nxt))
            state = nxt
        accepts[state] = index
    return _Nfa(
        edges=tuple(tuple(e) for e in edges),
        eps=tuple(tuple(e) for e in eps),
        accepts=tuple(accepts),
        starts=tuple(starts),
    )


def _takes(kind: int, argument: object, ch: str) -> bool:
    if kind == _CHAR:
        return ch == argument
    if kind == _NOT_SLASH:
        return ch != "/"
    if kind == _ANY:
        return True
    assert isinstance(argument, _Bracket)
    return argument.accepts(ch)


_DEAD = 0
_MAX_STATES = 4096  # a memo bound: past it the memo restarts (still linear per match)


class _Matcher:
    """A lazily built deterministic automaton over an `_Nfa`.

    The memo of states and transitions is private and only ever grows with
    what paths actually needed, so the value stays immutable in behaviour.
    `last_rules[s]` holds, per state, the highest accepted rule index for
    (files, folders): folder-only rules do not count for files.
    """

    __slots__ = ("_dir_only", "_ids", "_last", "_nfa", "_rows", "_sets", "_start")

    def __init__(self, nfa: _Nfa, dir_only: frozenset[int]) -> None:
        self._nfa = nfa
        self._dir_only = dir_only
        self._reset()

    def _reset(self) -> None:
        self._ids: dict[frozenset[int], int] = {}
        self._sets: list[frozenset[int]] = []
        self._rows: list[dict[str, int]] = []
        self._last: list[tuple[int, int]] = []
        self._state(frozenset())  # id 0: dead
        self._start = self._state(self._closure(self._nfa.starts))  # dead when there are no rules

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        stack = list(states)
        seen = set(stack)
        while stack:
            for target in self._nfa.eps[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return frozenset(seen)

    def _state(self, states: frozenset[int]) -> int:
        found = self._ids.get(states)
        if found is not None:
            return found
        ident = len(self._sets)
        self._ids[states] = ident
        self._sets.append(states)
        self._rows.append({})
        accepted = [self._nfa.accepts[s] for s in states if self._nfa.accepts[s] >= 0]
        for_files = max((r for r in accepted if r not in self._dir_only), default=-1)
        self._last.append((for_files, max(accepted, default=-1)))
        return ident

    def _step(self, ident: int, ch: str) -> int:
        targets = [
            target
            for source in self._sets[ident]
            for kind, argument, target in self._nfa.edges[source]
            if _takes(kind, argument, ch)
        ]
        nxt = self._state(self._closure(targets)) if targets else _DEAD
        self._rows[ident][ch] = nxt
        return nxt

    def last_rule(self, text: str, is_dir: bool) -> int:
        """Index of the last rule matching all of `text`, or -1."""
        if len(self._sets) > _MAX_STATES:
            self._reset()
        rows = self._rows
        state = self._start
        if state == _DEAD:
            return -1
        for ch in text:
            nxt = rows[state].get(ch)
            if nxt is None:
                nxt = self._step(state, ch)
            if nxt == _DEAD:
                return -1
            state = nxt
        return self._last[state][1 if is_dir else 0]


# --------------------------------------------------------------------------- rule sets


def _bracket_regex(bracket: _Bracket) -> str:
    """A regex class accepting what `bracket` accepts (never `/`)."""
    members = set(bracket.chars)
    for name in bracket.classes:
        members.update(ch for ch in map(chr, range(128)) if _CLASS_TESTS[name](ch))
    body = "".join(re.escape(ch) for ch in sorted(members))
    body += "".join(f"{re.escape(low)}-{re.escape(high)}" for low, high in bracket.ranges if low <= high)
    if bracket.negated:
        return f"[^/{body}]"
    return f"(?!/)[{body}]" if body else "(?!)"


def _plain_regex(tokens: tuple[_Token, ...]) -> str | None:
    """A regex for patterns that cannot backtrack badly, else None.

    With at most one unbounded part (`*`, `**/` or a trailing `**`), `re` tries
    each length of that one part once: O(path x pattern). That is the shape of
    nearly every real rule (`*.pyc`, `**/build`, `/dist`, `*.py[cod]`), and `re`
    runs it in C. Everything else goes through the automaton.
    """
    parts: list[str] = []
    unbounded = 0
    for token in tokens:
        if isinstance(token, _Lit):
            parts.append(re.escape(token.char))
        elif isinstance(token, _AnyButSlash):
            parts.append("[^/]")
        elif isinstance(token, _Bracket):
            parts.append(_bracket_regex(token))
        elif isinstance(token, _Star):
            unbounded += 1
            parts.append("[^/]*")
        elif isinstance(token, _AnyRun):
            unbounded += 1
            parts.append(".*")
        else:  # _Folders
            unbounded += 1
            parts.append("(?:.*/)?")
    return "".join(parts) if unbounded <= 1 else None


@attrs.frozen
class _Ordered:
    """Plain rules as one regex whose branches run from the last rule to the first.

    `re` takes the first branch that matches, so the branch found (its capture
    group) is the last matching rule, as git's order requires.
    """

    regex: re.Pattern[str] | None
    rule_of_group: tuple[int, ...]

    @classmethod
    def of(cls, indexed: list[tuple[int, str]]) -> _Ordered:
        if not indexed:
            return cls(None, ())
        ordered = sorted(indexed, reverse=True)
        regex = re.compile("|".join(f"({pattern})" for _, pattern in ordered), re.DOTALL)
        return cls(regex, (-1, *(index for index, _ in ordered)))

    def last_rule(self, text: str) -> int:
        if self.regex is None:
            return -1
        found = self.regex.fullmatch(text)
        return -1 if found is None or found.lastindex is None else self.rule_of_group[found.lastindex]


@attrs.frozen
class _Kind:
    """Matchers for one kind of rule (on the last component, or on the whole path)."""

    literal_files: Mapping[str, int]  # text -> last rule index, folder-only rules left out
    literal_dirs: Mapping[str, int]
    suffix_files: Mapping[str, int]  # `*.ext`-like rules: literal suffix -> last rule index
    suffix_dirs: Mapping[str, int]
    plain_files: _Ordered
    plain_dirs: _Ordered
    complex: _Matcher | None

    @classmethod
    def of(cls, rules: list[tuple[int, IgnoreRule, tuple[_Token, ...]]], dir_only: frozenset[int]) -> _Kind:
        literal_files: dict[str, int] = {}
        literal_dirs: dict[str, int] = {}
        suffix_files: dict[str, int] = {}
        suffix_dirs: dict[str, int] = {}
        plain: list[tuple[int, bool, str]] = []
        complex_rules: list[tuple[int, tuple[_Token, ...]]] = []
        # A few `*.ext` rules are cheapest in the regex; many, in a dictionary.
        many_suffixes = sum(1 for _, r, t in rules if not r.anchored and _is_suffix(t)) >= 8
        for index, rule, tokens in rules:
            if _is_literal(tokens):
                text = "".join(t.char for t in tokens if isinstance(t, _Lit))
                literal_dirs[text] = index
                if not rule.dir_only:
                    literal_files[text] = index
            elif many_suffixes and not rule.anchored and _is_suffix(tokens):
                text = "".join(t.char for t in tokens[1:] if isinstance(t, _Lit))
                suffix_dirs[text] = index
                if not rule.dir_only:
                    suffix_files[text] = index
            elif (regex := _plain_regex(tokens)) is not None:
                plain.append((index, rule.dir_only, regex))
            else:
                complex_rules.append((index, tokens))
        return cls(
            literal_files=literal_files,
            literal_dirs=literal_dirs,
            suffix_files=suffix_files,
            suffix_dirs=suffix_dirs,
            plain_files=_Ordered.of([(i, r) for i, only_dirs, r in plain if not only_dirs]),
            plain_dirs=_Ordered.of([(i, r) for i, _, r in plain]),
            complex=_Matcher(_build_nfa(complex_rules), dir_only) if complex_rules else None,
        )

    def __bool__(self) -> bool:
        return bool(
            self.literal_dirs or self.suffix_dirs or self.plain_dirs.regex is not None
            or self.complex is not None
        )

    def last_rule(self, text: str, is_dir: bool) -> int:
        if is_dir:
            best = self.literal_dirs.get(text, -1) if self.literal_dirs else -1
            suffixes, plain = self.suffix_dirs, self.plain_dirs
        else:
            best = self.literal_files.get(text, -1) if self.literal_files else -1
            suffixes, plain = self.suffix_files, self.plain_files
        if suffixes:  # one look-up per suffix of the name, however many rules
            for start in range(len(text) + 1):
                found_rule = suffixes.get(text[start:])
                if found_rule is not None and found_rule > best:
                    best = found_rule
        if plain.regex is not None:
            found = plain.regex.fullmatch(text)
            if found is not None and found.lastindex is not None:
                best = max(best, plain.rule_of_group[found.lastindex])
        if self.complex is not None:
            best = max(best, self.complex.last_rule(text, is_dir))
        return best


#: Bounds on one file's rules. Literal rules (`/build`, `secrets.txt`) and
#: suffix rules (`*.log`) are dictionary look-ups and unbounded; every other rule costs each path a regex
#: branch, and a rule with several wildcards a share of the automaton. Real
#: files have tens of such rules; thousands are hostile or generated, and would
#: make every path of a scan pay for all of them.
MAX_WILDCARD_RULES = 200
MAX_COMPLEX_RULES = 50


class TooManyRulesError(ValueError):
    """A `.gitignore` has more wildcard patterns than this matcher takes on."""


def _is_literal(tokens: tuple[_Token, ...]) -> bool:
    return all(isinstance(t, _Lit) for t in tokens)


def _is_suffix(tokens: tuple[_Token, ...]) -> bool:
    """`*` then literal text (`*.pyc`): git's own "ends with" shortcut."""
    return bool(tokens) and isinstance(tokens[0], _Star) and _is_literal(tokens[1:])


@attrs.frozen
class IgnoreRules:
    """The rules of one `.gitignore`, matched against paths relative to its folder.

    Literal rules are dictionary look-ups, plain rules one C regex per kind,
    and only rules with several wildcards run through the automaton.
    """

    rules: tuple[IgnoreRule, ...] = ()
    _names: _Kind = attrs.field(init=False, repr=False, eq=False)
    _paths: _Kind = attrs.field(init=False, repr=False, eq=False)
    _has_names: bool = attrs.field(init=False, repr=False, eq=False)
    _has_paths: bool = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        live = [(i, r, r.tokens) for i, r in enumerate(self.rules) if r.tokens is not None]
        wildcard = [t for _, r, t in live if not _is_literal(t) and (r.anchored or not _is_suffix(t))]
        complex_count = sum(1 for t in wildcard if _plain_regex(t) is None)
        if len(wildcard) > MAX_WILDCARD_RULES or complex_count > MAX_COMPLEX_RULES:
            raise TooManyRulesError(
                f"{len(wildcard)} wildcard patterns ({complex_count} with several wildcards);"
                f" at most {MAX_WILDCARD_RULES} ({MAX_COMPLEX_RULES}) are supported"
            )
        dir_only = frozenset(i for i, r in enumerate(self.rules) if r.dir_only)
        object.__setattr__(self, "_names", _Kind.of([x for x in live if not x[1].anchored], dir_only))
        object.__setattr__(self, "_paths", _Kind.of([x for x in live if x[1].anchored], dir_only))
        object.__setattr__(self, "_has_names", bool(self._names))
        object.__setattr__(self, "_has_paths", bool(self._paths))

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        """All effective rules of a `.gitignore`'s text (a leading BOM is skipped).

        Raises `TooManyRulesError` past `MAX_WILDCARD_RULES` or `MAX_COMPLEX_RULES`.
        """
        text = text.removeprefix("\ufeff")
        found = (parse_rule(raw, number) for number, raw in enumerate(text.split("\n"), start=1))
        return cls(tuple(rule for rule in found if rule is not None))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, relative_path: str, is_dir: bool) -> bool | None:
        """This path alone (not its folders): True ignored, False re-included by `!`, None no rule."""
        best = -1
        if self._has_names:
            best = self._names.last_rule(relative_path.rpartition("/")[2], is_dir)
        if self._has_paths:
            best = max(best, self._paths.last_rule(relative_path, is_dir))
        if best < 0:
            return None
        return not self.rules[best].negated


@attrs.frozen
class IgnoreScope:
    """A `.gitignore`'s rules and the folder they apply to (`""` or `"some/dir/"`)."""

    base: str
    rules: IgnoreRules


def path_is_ignored(scopes: Sequence[IgnoreScope], relative_path: str, is_dir: bool) -> bool:
    """Whether this path alone is ignored; deeper scopes override shallower ones.

    A walker that never enters ignored folders needs only this.
    """
    for scope in reversed(scopes):
        if not relative_path.startswith(scope.base):
            continue
        decision = scope.rules.match(relative_path[len(scope.base) :], is_dir)
        if decision is not None:
            return decision
    return False


def is_ignored(scopes: Sequence[IgnoreScope], relative_path: str, is_dir: bool) -> bool:
    """Git's full answer: ignored if any parent folder is, else by the path's own rules."""
    parts = relative_path.split("/")
    for depth in range(1, len(parts)):
        if path_is_ignored(scopes, "/".join(parts[:depth]), True):
            return True
    return path_is_ignored(scopes, relative_path, is_dir)
