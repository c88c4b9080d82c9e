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


def check(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` if it nests at most ``max_depth`` levels; JsonInputError otherwise."""
    if isinstance(value, dict | list) and depth(value, max_depth) > max_depth:
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
    return check(value, max_depth)
