"""The ``json`` source: any JSON document, read through JSON pointers.

Its fields are those of Falco's JSON extractor plugin: ``json.value[/ptr]``,
``json.obj`` and ``json.rawtime``, plus their old ``jevt.*`` names. Falco
attaches that plugin to every plugin source, so ``json_plugin_fields`` is
also used by the other JSON sources (``k8s_audit``).

Decisions:

- ``json.value`` is a string field like Falco's: a JSON string is returned as
  is, any other value as its JSON text; a missing key or a JSON ``null`` is
  no value. A pointer must start with ``/``; anything else is rejected when
  the rule is loaded (Falco silently treats it as a key).
- ``json.obj`` is the document as indented JSON (two spaces), as Falco's
  plugin prints it.
- ``json.rawtime`` is kept, as a *string* of nanoseconds since the epoch like
  Falco's (so ``jevt.rawtime=0`` keeps working); it has no value when the
  event has no time. No ``json.time``: ``evt.time`` and friends already
  render the event time.
- The event time of a ``json`` document is its top-level ``time``, else its
  ``timestamp``: an RFC 3339 string, or a number (or string of digits) of
  epoch seconds, milliseconds, microseconds or nanoseconds, told apart by
  magnitude (below 1e11 seconds, below 1e14 ms, below 1e17 us, else ns).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import json
import math
import re
from typing import Any

from lanner.errors import FieldArgumentError
from lanner.event import UNREAD, Event
from lanner.fields import (
    Arg,
    Extractor,
    FieldDef,
    FieldRegistry,
    FieldType,
    Source,
    simple,
    with_arg,
)
from lanner.sources.generic import generic_fields
from lanner.sources.jsonptr import parse_pointer, string_at

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_NS_LIMIT = 1 << 63  # past year 2262: no int64 nanosecond time


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


_SECONDS: dict[str, int | None] = {}


def parse_rfc3339(text: str) -> int | None:
    """An RFC 3339 time (``2024-05-01T10:00:00.123456Z``, fraction up to 9
    digits, ``Z`` or a ``+hh:mm`` offset) in ns since the epoch, else None."""
    # Logs are time-ordered, many events to a second: a UTC time is its whole
    # second, parsed once and remembered, plus a fraction.
    n = len(text)
    if 20 <= n <= 30 and text[-1] == "Z":
        head = text[:19]
        base = _SECONDS.get(head, -1)
        if base == -1:
            base = _parse(head + "Z")
            if len(_SECONDS) >= 4096:
                _SECONDS.clear()
            _SECONDS[head] = base
        if base is None:
            return None
        if n == 20:
            return base
        frac = text[20:-1]
        if text[19] == "." and frac.isdigit() and frac.isascii():
            return base + int(frac.ljust(9, "0"))
        return None
    return _parse(text)


def _parse(text: str) -> int | None:
    n = len(text)
    if (
        20 <= n <= 32
        and text[10] == "T"
        and text[4] == "-"
        and text[13] == ":"
        and text[16] == ":"
        and (
            text[19] != "."
            or (n > 20 and text[20].isdigit() and (n < 28 or not text[26].isdigit()))
        )
    ):
        # Fast path (every audit event carries two of these): the C parser, for the
        # common shape with at most microseconds. It only needs a zone to be RFC 3339.
        try:
            when = _dt.datetime.fromisoformat(text)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            delta = when - _EPOCH
            return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zulu, sign, oh, om = m.groups()
    if frac is None or len(frac) <= 6:
        # The C parser is four times faster, and every audit event has two times.
        try:
            when = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        delta = when - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    day = _day_seconds(y, mo, d)
    hh, mm, ss = int(h), int(mi), int(s)
    # datetime's rules: no 24:00, no second 60.
    if day is None or hh > 23 or mm > 59 or ss > 59:
        return None
    secs = day + hh * 3600 + mm * 60 + ss
    if not zulu:
        if int(oh) > 23 or int(om) > 59:
            return None
        offset = int(oh) * 3600 + int(om) * 60
        # 10:00+02:00 is 08:00 UTC.
        secs += -offset if sign == "+" else offset
    return secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


@functools.lru_cache(maxsize=4096)
def _day_seconds(y: str, mo: str, d: str) -> int | None:
    """Seconds from the epoch to a calendar day; the calendar check and the
    conversion are the slow part of a parse, and events of a batch share days."""
    try:
        when = _dt.datetime(int(y), int(mo), int(d))
    except ValueError:  # no Feb 30
        return None
    return calendar.timegm(when.timetuple())


def epoch_to_ns(value: float) -> int | None:
    """A non-negative epoch number in s, ms, us or ns (by magnitude) as ns."""
    if type(value) is int:
        if value < 0:
            return None
    elif not math.isfinite(value) or value < 0:
        return None
    if value < 1e11:
        scale = 1_000_000_000
    elif value < 1e14:
        scale = 1_000_000
    elif value < 1e17:
        scale = 1_000
    else:
        scale = 1
    if type(value) is int:
        ns = value * scale
    else:
        whole = int(value)
        ns = whole * scale + round((value - whole) * scale)
    return ns if ns < _NS_LIMIT else None


def time_value_to_ns(value: Any) -> int | None:
    """A document's time value (RFC 3339 string or epoch number) in ns."""
    t = type(value)
    if t is str:
        if _DIGITS.fullmatch(value):
            return epoch_to_ns(float(value) if "." in value else int(value))
        return parse_rfc3339(value)
    if t is int or t is float:
        return epoch_to_ns(value)
    return None  # bool, null, objects: not a time


def event_time(doc: Any) -> int | None:
    """The document's top-level ``time``, else ``timestamp``, in ns."""
    if type(doc) is not dict:
        return None
    for key in ("time", "timestamp"):
        if key in doc:
            ns = time_value_to_ns(doc[key])
            if ns is not None:
                return ns
    return None


def compact_json(doc: Any) -> str | None:
    """The document on one line (``evt.plugininfo``)."""
    try:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON data
        return None


def _bind_value(arg: str | None) -> Extractor:
    if not arg:
        raise FieldArgumentError("json.value needs a JSON pointer, e.g. json.value[/user/name]")
    return string_at(parse_pointer(arg))


def _json_obj(ev: Event) -> str | None:
    doc = ev.doc
    if doc is None:
        return None
    try:
        return json.dumps(doc, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def json_plugin_fields(what: str = "document") -> list[FieldDef]:
    """The JSON extractor plugin's rows (``json.*`` and ``jevt.*``); ``what`` names
    the document in descriptions ("audit event", "record"...)."""

    def json_rawtime(ev: Event) -> str | None:
        t = ev.time_ns  # event_time_ns(ev), inlined: rules that are switched off read it
        if t is UNREAD:
            t = ev.time_ns = ev.source.event_time(ev.doc)
        return None if t is None else str(t)

    s = FieldType.STRING
    rows: list[FieldDef] = []
    for prefix, note in (("json", ""), ("jevt", " Old name of the json.* field.")):
        rows += [
            with_arg(
                f"{prefix}.value",
                s,
                f"Value found in the {what} at a JSON pointer, e.g. {prefix}.value[/a/0/b]: "
                f"strings as they are, other values as their JSON text.{note}",
                _bind_value,
                Arg.KEY,
            ),
            simple(f"{prefix}.obj", s, f"The whole {what} as indented JSON.{note}", _json_obj),
            simple(
                f"{prefix}.rawtime",
                s,
                f"The event time in nanoseconds since the epoch, as a decimal string.{note}",
                json_rawtime,
            ),
        ]
    return rows


def json_source() -> Source:
    """The ``json`` source: arbitrary JSON documents, fields by JSON pointer."""
    generic = generic_fields()
    fields: list[FieldDef] = [*generic, *json_plugin_fields()]
    return Source(
        name="json",
        fields=FieldRegistry(fields),
        event_time=event_time,
        info=compact_json,
        description=(
            "Any JSON document; its time is a top-level 'time' or 'timestamp' "
            "(RFC 3339 or epoch s/ms/us/ns)."
        ),
    )
