"""Walk a project tree and feed Python sources to the pure discovery core.

Only effects live here: listing directories, reading bytes, the cache file.
What is a flow is decided by `portal_core.discovery`.

Speed (SPEC section 8: 5,000 files / 22 MB in well under 0.2 s) comes from
doing as little as possible per file:

* directories that never hold project code (`.git`, virtualenvs,
  `node_modules`, build output, caches, `.gitignore`d paths) are not entered;
* each `.py` file is read as bytes and checked with
  `could_contain_flow_bytes`, a memory-speed substring test; only the few files
  that pass are decoded and parsed;
* with a cache directory, unchanged files (same size and mtime) are not even
  opened.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterator
from pathlib import Path

import attrs

from portal_core.discovery import (
    Discovery,
    ParseResult,
    SourceError,
    assemble,
    could_contain_flow_bytes,
    parse_flows,
)
from portal_core.errors import DiscoveryError
from portal_io.discovery_cache import DiscoveryCache

#: Directory names never entered: VCS data, virtualenvs, dependencies, build
#: output and tool caches. Scanning them is slow and finds other people's flows.
SKIP_DIR_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".eggs",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".portal",
    }
)

#: A directory holding this file is a virtualenv, whatever its name.
VENV_MARKER = "pyvenv.cfg"


def _skip_dir_name(name: str) -> bool:
    return name in SKIP_DIR_NAMES or name.endswith(".egg-info")


# --- .gitignore ---------------------------------------------------------------


def _glob_to_regex(glob: str) -> str:
    """Translate one gitignore glob (already stripped of `!`, leading and trailing `/`).

    `*` and `?` stay within one path segment, `[...]` is a character class,
    `**` as a whole segment spans any number of segments, a backslash escapes.
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        ch = glob[i]
        if ch == "*":
            if glob.startswith("**", i):
                at_start = i == 0 or glob[i - 1] == "/"
                j = i + 2
                if at_start and j == n:  # trailing `/**` or a lone `**`
                    out.append(".*")
                    i = j
                    continue
                if at_start and glob.startswith("/", j):  # `**/` : zero or more dirs
                    out.append("(?:.*/)?")
                    i = j + 1
                    continue
                while j < n and glob[j] == "*":
                    j += 1
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            start = i + 1
            if glob[start : start + 1] in ("!", "^"):
                start += 1
            if glob[start : start + 1] == "]":  # `[]a]`: a leading `]` is literal
                start += 1
            close = glob.find("]", start)
            if close == -1:
                out.append(re.escape(ch))
            else:
                body = glob[i + 1 : close]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
                out.append(("[^" if negate else "[") + body + "]")
                i = close
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@attrs.frozen
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    # A pattern without `/` matches at any depth. The walker never enters an
    # ignored folder, so "at any depth" is the same as "the entry's own name":
    # matching the name alone avoids a backtracking `(?:.*/)?` prefix.
    on_name: bool


def _combine(rules: list[_Rule]) -> re.Pattern[str] | None:
    if not rules:
        return None
    return re.compile("|".join(f"(?:{r.regex.pattern})" for r in rules), re.DOTALL)


@attrs.frozen
class _Combined:
    """All rules for one entry kind, merged into two regexes (name and path)."""

    on_name: re.Pattern[str] | None
    on_path: re.Pattern[str] | None

    @classmethod
    def of(cls, rules: list[_Rule]) -> _Combined:
        return cls(
            _combine([r for r in rules if r.on_name]),
            _combine([r for r in rules if not r.on_name]),
        )

    def matches(self, relative_path: str, name: str) -> bool:
        return bool(
            (self.on_name is not None and self.on_name.fullmatch(name))
            or (self.on_path is not None and self.on_path.fullmatch(relative_path))
        )


@attrs.frozen
class GitIgnore:
    """The rules of one `.gitignore`, matched against paths relative to its folder.

    Supported: blank lines and `#` comments, `\\#`/`\\!` escapes, trailing-space
    trimming, `!` negation, `dir/` (directories only), a `/` anywhere but the end
    anchoring to this folder, `*`, `?`, `[...]` and `**`. As in git, the last
    matching rule wins, and a file in an ignored directory stays ignored (the
    walker never enters it). Not supported: `core.excludesFile`,
    `.git/info/exclude`.
    """

    rules: tuple[_Rule, ...] = ()
    # Without `!` rules, order does not matter: per entry kind, two combined
    # regexes answer in C instead of a Python loop over every rule.
    files: _Combined | None = attrs.field(default=None, repr=False)
    dirs: _Combined | None = attrs.field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str) -> GitIgnore:
        rules: list[_Rule] = []
        for raw in text.splitlines():
            line = raw.rstrip("\r")
            if not line or line.startswith("#"):
                continue
            # Trailing spaces are ignored unless escaped with a backslash.
            stripped = line.rstrip(" ")
            if stripped.endswith("\\") and len(stripped) < len(line):
                stripped += " "
            line = stripped
            negated = line.startswith("!")
            if negated or line.startswith(("\\!", "\\#")):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            regex = re.compile(_glob_to_regex(line), re.DOTALL)
            rules.append(_Rule(regex, negated, dir_only, on_name=not anchored))
        if any(rule.negated for rule in rules):
            return cls(tuple(rules))
        return cls(
            tuple(rules),
            files=_Combined.of([r for r in rules if not r.dir_only]),
            dirs=_Combined.of(rules),
        )

    def __bool__(self) -> bool:
        return bool(self.rules)

    def match(self, relative_path: str, is_dir: bool) -> bool | None:
        """True = ignored, False = re-included by `!`, None = no rule matched."""
        name = relative_path.rpartition("/")[2]
        combined = self.dirs if is_dir else self.files
        if combined is not None:
            return True if combined.matches(relative_path, name) else None
        for rule in reversed(self.rules):
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(name if rule.on_name else relative_path):
                return not rule.negated
        return None


@attrs.frozen
class _IgnoreScope:
    """A `.gitignore` and the folder (relative to the walk root) it applies to."""

    base: str  # "" or "some/dir/"
    ignore: GitIgnore


def _is_ignored(scopes: tuple[_IgnoreScope, ...], relative_path: str, is_dir: bool) -> bool:
    # Deeper .gitignore files override shallower ones.
    for scope in reversed(scopes):
        decision = scope.ignore.match(relative_path[len(scope.base) :], is_dir)
        if decision is not None:
            return decision
    return False


def _read_gitignore(directory: str, base: str) -> _IgnoreScope | None:
    try:
        with open(os.path.join(directory, ".gitignore"), "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    ignore = GitIgnore.parse(text)
    return _IgnoreScope(base, ignore) if ignore else None


# --- walking ------------------------------------------------------------------


@attrs.frozen
class PythonFile:
    """A `.py` file found by the walk; `stat` values are filled only when asked for."""

    relative_path: str  # POSIX, from the walk root
    path: str  # as given to open()
    size: int = -1
    mtime_ns: int = -1


def walk_python_files(
    root: Path | str,
    under: str = "",
    *,
    with_stat: bool = False,
    errors: list[SourceError] | None = None,
) -> Iterator[PythonFile]:
    """Every `.py` file below `root/under` that belongs to the project, in sorted order.

    Paths are relative to `root` (the project root), so `under` narrows the walk
    without changing entrypoints. `.gitignore` files from `root` down are
    honoured. Directory symlinks are not followed (no loops, no escaping the
    tree). Unreadable directories are appended to `errors` when given.
    """
    root_str = os.fspath(root)
    under = under.strip("/")
    scopes: tuple[_IgnoreScope, ...] = ()
    base = ""
    directory = root_str
    # .gitignore files between the root and `under` still apply.
    for part in under.split("/") if under else ():
        scope = _read_gitignore(directory, base)
        if scope is not None:
            scopes = (*scopes, scope)
        base = f"{base}{part}/"
        directory = os.path.join(directory, part)
    if not os.path.isdir(directory):
        raise DiscoveryError(f"source folder {directory!r} does not exist")
    yield from _walk(directory, base, scopes, with_stat, errors)


def _walk(
    directory: str,
    prefix: str,
    scopes: tuple[_IgnoreScope, ...],
    with_stat: bool,
    errors: list[SourceError] | None,
) -> Iterator[PythonFile]:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        if errors is not None:
            errors.append(
                SourceError(prefix.rstrip("/") or ".", 0, f"cannot list folder: {exc.strerror}")
            )
        return
    names = {e.name for e in entries}
    if VENV_MARKER in names and prefix:
        return  # a virtualenv under an unusual name
    if ".gitignore" in names:
        scope = _read_gitignore(directory, prefix)
        if scope is not None:
            scopes = (*scopes, scope)
    subdirs: list[os.DirEntry[str]] = []
    for entry in entries:
        name = entry.name
        if name.endswith(".py"):
            try:
                if not entry.is_file():
                    continue
            except OSError:
                continue
            relative_path = prefix + name
            if scopes and _is_ignored(scopes, relative_path, False):
                continue
            if with_stat:
                try:
                    stat = entry.stat()
                except OSError:
                    continue  # vanished since listing
                yield PythonFile(relative_path, entry.path, stat.st_size, stat.st_mtime_ns)
            else:
                yield PythonFile(relative_path, entry.path)
        elif not _skip_dir_name(name):
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry)
            except OSError:
                continue
    for entry in subdirs:
        relative_dir = prefix + entry.name
        if scopes and _is_ignored(scopes, relative_dir, True):
            continue
        yield from _walk(entry.path, relative_dir + "/", scopes, with_stat, errors)


_CHUNK = 65536  # below malloc's mmap threshold, and larger than most modules


def _read_bytes(path: str) -> bytes:
    """A file's bytes via raw `os.read`.

    Cheaper than `open().read()`, which builds a buffered file object and asks
    for the size first; over thousands of small files that is a third of the
    time spent reading.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        chunks = [data]
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def decode_source(data: bytes) -> str:
    """UTF-8 text of a source file; a BOM is dropped and bad bytes replaced, never fatal."""
    return data.decode("utf-8-sig", errors="replace")


def iter_python_sources(
    root: Path | str, under: str = "", *, prefilter: bool = True
) -> Iterator[tuple[str, str]]:
    """`(relative_posix_path, text)` of project `.py` files, for `portal_core.discovery.discover`.

    With `prefilter`, files that cannot contain a flow are skipped before being
    decoded. Unreadable files are skipped; `scan_tree` reports them instead.
    """
    for file in walk_python_files(root, under):
        try:
            data = _read_bytes(file.path)
        except OSError:
            continue
        if prefilter and not could_contain_flow_bytes(data):
            continue
        yield file.relative_path, decode_source(data)


# --- scanning -----------------------------------------------------------------


@attrs.frozen
class TreeScan:
    """A scan's result plus counters that explain its cost (for `--debug` and tests)."""

    discovery: Discovery
    files_seen: int
    files_parsed: int
    cache_hits: int


_NOTHING = ParseResult()  # shared by the thousands of files without flows


def _parse_file(file: PythonFile, source_root: str) -> tuple[ParseResult, bool]:
    """(result, whether it was parsed); reading errors become a `SourceError`."""
    try:
        data = _read_bytes(file.path)
    except OSError as exc:
        message = f"cannot read file: {exc.strerror or exc}"
        return ParseResult(error=SourceError(file.relative_path, 0, message)), False
    if not could_contain_flow_bytes(data):
        return _NOTHING, False
    return parse_flows(file.relative_path, decode_source(data), source_root), True


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing.

    `ast.parse` allocates thousands of nodes per file; each allocation burst
    triggers collections that traverse every live node, for no gain (AST nodes
    hold no cycles worth collecting mid-scan). Pausing saves about a tenth of a
    cold scan. The previous state is restored, even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def scan_tree(root: Path, source_root: str = "", cache_dir: Path | None = None) -> TreeScan:
    """Walk `root/source_root`, parse what may hold flows, and combine the results.

    `source_root` (POSIX, relative to `root`) both narrows the walk and sets
    each flow's `grouping`; entrypoints stay relative to `root`. With
    `cache_dir`, unchanged files reuse their previous result and the cache is
    updated afterwards.
    """
    with _no_cyclic_gc():
        return _scan_tree(root, source_root, cache_dir)


def _scan_tree(root: Path, source_root: str, cache_dir: Path | None) -> TreeScan:
    cache = DiscoveryCache.load(cache_dir, source_root) if cache_dir else DiscoveryCache.disabled()
    use_cache = cache_dir is not None
    walk_errors: list[SourceError] = []
    results: list[ParseResult] = []
    seen = parsed = 0
    for file in walk_python_files(root, source_root, with_stat=use_cache, errors=walk_errors):
        seen += 1
        if use_cache:
            cached = cache.get(file.relative_path, file.size, file.mtime_ns)
            if cached is not None:
                if cached.flows or cached.error:
                    results.append(cached)
                continue
        result, was_parsed = _parse_file(file, source_root)
        parsed += was_parsed
        if result is not _NOTHING:
            results.append(result)
        if use_cache and not (result.error and result.error.line == 0):
            cache.put(file.relative_path, file.size, file.mtime_ns, result)
    if use_cache:
        cache.save()
    results.extend(ParseResult(error=e) for e in walk_errors)
    return TreeScan(assemble(results), files_seen=seen, files_parsed=parsed, cache_hits=cache.hits)


def scan_flows(root: Path, source_root: str = "", cache_dir: Path | None = None) -> Discovery:
    """Every flow under `root/source_root` (see `scan_tree`); the shell's one entry point."""
    return scan_tree(root, source_root, cache_dir).discovery
