"""Paths into decoded JSON documents, and Falco's rendering of JSON values.

The one reader of nested JSON for every JSON source: ``*.value[/pointer]``
fields (RFC 6901 pointers, parsed once at compile time) and the fixed paths
the ``ka.*`` and ``ct.*`` fields read. A read walks a tuple of keys fixed at
compile time, so its cost is bounded by the path, never by the document;
through an array a key must be a decimal index. A missing key, a JSON
``null``, a step through a scalar and an index past the end all give None:
Falco's plugins have no value for any of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import Extractor, InlinePath


def parse_pointer(text: str) -> tuple[str, ...]:
    """``/a/b~1c/0`` -> ``("a", "b/c", "0")``. The empty string is the whole document."""
    if text == "":
        return ()
    if not text.startswith("/"):
        raise FieldArgumentError(f"'{text}' is not a JSON pointer: it must start with '/'")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))


def lookup(doc: Any, keys: tuple[str, ...]) -> Any:
    """The value at ``keys`` in ``doc``, or None when any step is missing or null."""
    cur = doc
    for key in keys:
        if isinstance(cur, dict):
            cur = cur.get(key)  # a missing key and a null both end the walk as None
        elif isinstance(cur, list):
            # isascii: "²".isdigit() holds, and int() refuses it.
            if not (key.isdigit() and key.isascii()):
                return None
            i = int(key)
            if i >= len(cur):
                return None
            cur = cur[i]
        else:
            return None
    return cur


def as_text(value: Any) -> str | None:
    """A JSON value as a string field's value: ``render``, and no value for
    anything that is not JSON data."""
    if type(value) is str:
        return value
    try:
        return render(value)
    except (TypeError, ValueError):
        return None


def string_at(keys: tuple[str, ...], guard: str | None = None) -> InlinePath:
    """The extractor of a string field: the value at ``keys`` as ``as_text``
    renders it, on documents that are a dict holding the key ``guard`` (any
    document when None). The compiler inlines the common case and calls
    ``read`` for the rest (see ``InlinePath``)."""
    return InlinePath(guard, keys, _string_reader(keys, guard))


def _string_reader(keys: tuple[str, ...], guard: str | None) -> Extractor:
    def anywhere(ev: Event) -> str | None:
        d = ev.doc
        if guard is not None and (type(d) is not dict or guard not in d):
            return None
        return as_text(lookup(d, keys))

    # The compiler inlines only the case of a string value; these still run
    # about once per event (a key most events lack, a number), so the shapes
    # most fields have, one or two keys through dicts, get a walk of their own.
    if len(keys) == 1:
        (k1,) = keys

        def at1(ev: Event) -> str | None:
            d = ev.doc
            if type(d) is not dict:
                return anywhere(ev)
            if guard is not None and guard not in d:
                return None
            v = d.get(k1)
            return v if type(v) is str or v is None else as_text(v)

        return at1
    if len(keys) == 2:
        k1, k2 = keys

        def at2(ev: Event) -> str | None:
            d = ev.doc
            if type(d) is not dict:
                return anywhere(ev)
            if guard is not None and guard not in d:
                return None
            inner = d.get(k1)
            if type(inner) is not dict:
                return None if inner is None else anywhere(ev)
            v = inner.get(k2)
            return v if type(v) is str or v is None else as_text(v)

        return at2
    return anywhere


def top_string(key: str) -> Callable[[Any], str | None]:
    """A document's non-empty string at the top-level ``key`` (a ``Source.event_id``)."""

    def read(doc: Any) -> str | None:
        v = doc.get(key) if isinstance(doc, dict) else None
        return v if isinstance(v, str) and v else None

    return read


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
