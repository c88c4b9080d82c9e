"""The event the engine evaluates: a decoded document plus a per-event cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanner.fields import Source


class Event:
    """One event of one source.

    ``doc`` is the decoded document (a dict for the JSON sources, a sensor
    record for ``syscall``). ``cache`` holds extracted field values and any
    intermediate results extractors want to share for this event only; it is
    what makes extraction lazy and done at most once per event.
    """

    __slots__ = ("doc", "source", "num", "cache")

    def __init__(self, doc: Any, source: Source, num: int = 0) -> None:
        self.doc = doc
        self.source = source
        self.num = num
        self.cache: dict[Any, Any] = {}
