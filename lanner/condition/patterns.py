"""Falco's pattern operators as matchers: ``glob`` (fnmatch(3)), ``pmatch`` (path
prefixes whose components may be globs) and ``regex`` (RE2 in POSIX mode)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import re2

_POSIX_CLASS = re2.compile(r"\[:[a-z]+:\]")


def _bracket(pattern: str, i: int) -> tuple[str, int] | None:
    """The RE2 class for the fnmatch bracket expression opening at ``pattern[i]``
    (the char after '['), and the index after its ']'; None if it never closes."""
    n = len(pattern)
    j = i
    out = []
    if j < n and pattern[j] in "!^":
        out.append("^")
        j += 1
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            return "[" + "".join(out) + "]", j + 1
        first = False
        if c == "[":
            m = _POSIX_CLASS.match(pattern, j)
            if m:
                out.append(m.group())
                j = m.end()
                continue
        if c == "\\" and j + 1 < n:
            j += 1
            c = pattern[j]
        if c == "-" and out and j + 1 < n and pattern[j + 1] != "]":
            out.append("-")
        else:
            out.append(re2.escape(c))
        j += 1
    return None


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str, icase: bool = False) -> Any:
    """Falco's glob, ``fnmatch(3)`` with no flags: ``*`` any run (``/`` included),
    ``?`` one char, ``[...]`` a class (``!`` or ``^`` negates), ``\\x`` a literal x."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            found = _bracket(pattern, i)
            if found is None:
                out.append(re2.escape("["))
            else:
                cls, i = found
                out.append(cls)
        elif c == "\\" and i < n:
            out.append(re2.escape(pattern[i]))
            i += 1
        else:
            out.append(re2.escape(c))
    opts = re2.Options()
    opts.dot_nl = True
    opts.case_sensitive = not icase
    opts.log_errors = False
    return re2.compile("".join(out), options=opts)


_GLOB_CHARS = frozenset("*?[")


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def pmatch_matcher(prefixes: Iterable[str]) -> Callable[[str], bool]:
    """Falco's ``pmatch``: true when the leading path components of the value are
    one of ``prefixes``, component by component (``/etc`` matches ``/etc`` and
    ``/etc/passwd``, not ``/etcd``); a component may be a glob (``/home/*/.ssh``)."""
    exact: set[tuple[str, ...]] = set()
    globbed: list[tuple[Any, ...]] = []
    for p in prefixes:
        comps = _components(p)
        if any(_GLOB_CHARS.intersection(c) for c in comps):
            globbed.append(
                tuple(glob_regex(c) if _GLOB_CHARS.intersection(c) else c for c in comps)
            )
        else:
            exact.add(tuple(comps))
    lengths = sorted({len(e) for e in exact})

    def match(value: str) -> bool:
        comps = _components(value)
        for k in lengths:
            if k > len(comps):
                break
            if tuple(comps[:k]) in exact:
                return True
        for g in globbed:
            if len(g) <= len(comps) and all(
                (c == part) if type(c) is str else c.fullmatch(part) is not None
                for c, part in zip(g, comps, strict=False)
            ):
                return True
        return False

    return match


def posix_regex(text: str) -> Any:
    """Falco's ``regex``: RE2::POSIX, so POSIX syntax (no \\d, \\w, \\b...) and
    leftmost-longest matching; '.' does not match a line break. Raises re2.error."""
    opts = re2.Options()
    opts.posix_syntax = True
    opts.longest_match = True
    opts.log_errors = False
    return re2.compile(text, options=opts)
