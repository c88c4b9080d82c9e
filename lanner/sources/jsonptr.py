"""JSON pointers (RFC 6901) over decoded documents, and Falco's rendering of JSON values.

Used by every ``*.value[/pointer]`` field. Pointers are parsed once, at
compile time; lookup is a walk over a tuple of keys.
"""

from __future__ import annotations

import json
from typing import Any

from lanner.errors import FieldArgumentError

_MISSING = object()


def parse_pointer(text: str) -> tuple[str, ...]:
    """``/a/b~1c/0`` -> ``("a", "b/c", "0")``. The empty string is the whole document."""
    if text == "":
        return ()
    if not text.startswith("/"):
        raise FieldArgumentError(f"'{text}' is not a JSON pointer: it must start with '/'")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))


def lookup(doc: Any, keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` in ``doc``, or None when any step is missing.

    JSON ``null`` is reported as missing too: Falco's plugins have no value
    for it either.
    """
    cur = doc
    for key in keys:
        if isinstance(cur, dict):
            cur = cur.get(key, _MISSING)
            if cur is _MISSING:
                return None
        elif isinstance(cur, list):
            if not key.isdigit():
                return None
            i = int(key)
            if i >= len(cur):
                return None
            cur = cur[i]
        else:
            return None
    return cur


def render(value: Any) -> str | None:
    """A JSON value as the string a ``*.value[...]`` field extracts.

    Strings stay as they are; numbers and booleans are their JSON text;
    objects and arrays are compact JSON. None stays None (no value).
    """
    t = type(value)
    if t is str:
        return value
    if t is int:
        return str(value)  # what json.dumps writes for an int, at a fifth of the cost
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
