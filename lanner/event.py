"""The event the engine evaluates: a decoded document plus its extracted fields.

``Event`` is a dict of extracted values keyed by ``FieldKey``. A compiled
rule reads a field as ``ev[key]``: a hit stays inside CPython's dict
lookup, and a miss runs the field's extractor once (``__missing__``) and
keeps the result, so extraction is lazy and happens at most once per event
however many rules read the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanner.fields import Source


UNREAD = object()


class FieldKey:
    """Identity of one bound field expression (field + argument + transformers)."""

    __slots__ = ("extract", "label")

    def __init__(self, extract: Callable[[Event], Any], label: str) -> None:
        self.extract = extract
        self.label = label

    def __repr__(self) -> str:
        return f"FieldKey({self.label})"


class Event(dict[Any, Any]):
    """One event of one source.

    ``doc`` is the decoded document (a dict for the JSON sources, a sensor
    record for ``syscall``). Extractors may also keep their own per-event
    intermediate results here under private string keys (``ev.cache``).
    """

    __slots__ = ("doc", "num", "source", "time_ns")

    def __init__(self, doc: Any, source: Source, num: int = 0) -> None:
        # dict.__new__ already made the empty mapping; dict.__init__ would only cost time.
        self.doc = doc
        self.source = source
        self.num = num
        # The event's time in ns, read on first use (``lanner.sources.generic.event_time_ns``).
        self.time_ns: int | object | None = UNREAD

    @property
    def cache(self) -> dict[Any, Any]:
        return self

    def __missing__(self, key: Any) -> Any:
        try:
            extract = key.extract
        except AttributeError:  # a private string key an extractor looked up
            raise KeyError(key) from None
        value = self[key] = extract(self)
        return value

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other
