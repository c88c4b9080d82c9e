"""Fields every source has: ``evt.num``, ``evt.time`` and friends, ``evt.source``.

Times are nanoseconds since the epoch (``Source.event_time``); the string
renderings follow Falco's: ``evt.time`` is ``HH:MM:SS.nnnnnnnnn`` and
``evt.time.iso8601`` is ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``, both in UTC
(a Lambda's local time is UTC anyway, and alerts must not depend on the
machine that formats them).
"""

from __future__ import annotations

import time as _time
from typing import Any

from lanner.event import UNREAD, Event
from lanner.fields import FieldDef, FieldType, simple


def event_time_ns(ev: Event) -> int | None:
    """The event's time in ns since the epoch, read once per event."""
    t = ev.time_ns
    if t is UNREAD:
        t = ev.time_ns = ev.source.event_time(ev.doc)
    return t  # type: ignore[return-value]


def format_clock(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return _time.strftime("%H:%M:%S", _time.gmtime(s)) + f".{frac:09d}"


def format_iso8601(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(s)) + f".{frac:09d}Z"


def format_datetime(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(s)) + f".{frac:09d}"


def _fmt(fn: Any) -> Any:
    def extract(ev: Event) -> Any:
        ns = event_time_ns(ev)
        return None if ns is None else fn(ns)

    return extract


def generic_fields() -> list[FieldDef]:
    """Rows for the generic event fields; each source's registry starts with these."""
    t = FieldType
    return [
        simple(
            "evt.num", t.UINT, "Event number, in the order events were read.", lambda ev: ev.num
        ),
        simple(
            "evt.time",
            t.STRING,
            "Event time as HH:MM:SS.nnnnnnnnn (UTC).",
            _fmt(format_clock),
        ),
        simple(
            "evt.time.s",
            t.STRING,
            "Event time as HH:MM:SS (UTC).",
            _fmt(lambda ns: format_clock(ns)[:8]),
        ),
        simple(
            "evt.time.iso8601",
            t.STRING,
            "Event time in ISO 8601 with nanoseconds, UTC.",
            _fmt(format_iso8601),
        ),
        simple(
            "evt.datetime",
            t.STRING,
            "Event time as YYYY-MM-DD HH:MM:SS.nnnnnnnnn (UTC).",
            _fmt(format_datetime),
        ),
        simple(
            "evt.datetime.s",
            t.STRING,
            "Event time as YYYY-MM-DD HH:MM:SS (UTC).",
            _fmt(lambda ns: format_datetime(ns)[:19]),
        ),
        simple(
            "evt.rawtime", t.ABSTIME, "Event time in nanoseconds since the epoch.", event_time_ns
        ),
        simple(
            "evt.rawtime.s",
            t.UINT,
            "Integer part of the event time in seconds since the epoch.",
            _fmt(lambda ns: ns // 1_000_000_000),
        ),
        simple(
            "evt.rawtime.ns",
            t.UINT,
            "Fractional part of the event time, in nanoseconds.",
            _fmt(lambda ns: ns % 1_000_000_000),
        ),
        simple("evt.source", t.STRING, "Name of the event's source.", lambda ev: ev.source.name),
        simple(
            "evt.plugininfo",
            t.STRING,
            "A one-line summary of the event, as its source renders it.",
            lambda ev: ev.source.info(ev.doc),
        ),
        simple(
            "evt.pluginname",
            t.STRING,
            "Name of the component that produced the event (the source's name).",
            lambda ev: ev.source.name,
        ),
        simple(
            "evt.hostname",
            t.STRING,
            "The host the event came from, where the source knows it.",
            lambda ev: ev.source.hostname(ev.doc),
        ),
        simple("evt.is_async", t.BOOL, "Always false for these sources.", lambda ev: False),
    ]
