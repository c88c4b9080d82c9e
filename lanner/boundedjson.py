"""JSON from outside, read with bounds: the one reader every input path uses.

``json.loads`` recurses once per nesting level and raises RecursionError (not a
ValueError) near a thousand levels; Python refuses integers of more than 4,300 digits
with a ValueError whose text names no place. Readers that catch only ValueError then
let one crafted record fail a whole batch. ``loads`` turns every such case into a
``JsonInputError`` (a ValueError) that says what is wrong, and enforces a depth limit
of its own well below the interpreter's, so nothing downstream (rules, formatting,
re-serialising) can recurse out of bounds either.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64


class JsonInputError(ValueError):
    """Input that is not acceptable JSON: malformed, too deep, too large, absurd numbers."""


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a decoded value, counted without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > deepest:
            deepest = d
            if d > limit:
                return d
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def check(
    value: Any, max_depth: int = MAX_DEPTH, text: str | bytes | bytearray | None = None
) -> Any:
    """``value`` if it nests at most ``max_depth`` levels; JsonInputError otherwise.
    Given the ``text`` it was decoded from, a text with too few brackets to be that deep
    is not walked at all (counting brackets is a C-speed scan; the innermost scalar is a
    level too, hence one bracket fewer)."""
    if not isinstance(value, dict | list):
        return value
    if text is not None:
        brackets = (
            text.count("{") + text.count("[")
            if isinstance(text, str)
            else text.count(b"{") + text.count(b"[")
        )
        if brackets < max_depth:
            return value
    if depth(value, max_depth) > max_depth:
        raise JsonInputError(f"nests deeper than {max_depth} levels")
    return value


def loads(
    data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None
) -> Any:
    """Decodes ``data``; JsonInputError says why it cannot be (never RecursionError)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JsonInputError(f"{len(data)} bytes, more than {max_bytes}")
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonInputError(f"nests deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        text = str(exc)
        if "integer string conversion" in text:
            raise JsonInputError("a number has more than 4,300 digits") from None
        raise JsonInputError(text) from None
    return check(value, max_depth, data)


_STRUCTURE = re.compile(r'["\[\]{}]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SCALAR = re.compile(r"[^,\]}\s]+")


def json_value_end(text: str, pos: int) -> int | None:
    """Where the JSON value that starts at ``pos`` ends, found without decoding it.

    Brackets are counted and strings skipped, in a loop: no recursion, linear time,
    whatever the nesting. None when ``text`` ends first. What a reader uses to step
    over one value the decoder refuses (too deep, a huge number) and read the next.
    The value is not validated: the decoder, not this, says what is wrong with it.
    """
    if pos >= len(text):
        return None
    first = text[pos]
    if first == '"':
        m = _STRING_REST.match(text, pos + 1)
        return m.end() if m else None
    if first not in "[{":
        m = _SCALAR.match(text, pos)
        return m.end() if m else pos + 1
    depth = 0
    i = pos
    while True:
        found = _STRUCTURE.search(text, i)
        if found is None:
            return None
        i = found.end()
        char = found.group()
        if char == '"':
            m = _STRING_REST.match(text, i)
            if m is None:
                return None
            i = m.end()
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return i
