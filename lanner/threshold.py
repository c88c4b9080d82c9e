"""Threshold rules: a rule that fires once when its condition matched ``count`` times
for one group of events within one window of event time (a lanner key; Falco has none).

    threshold: {count: 20, window: 5m, group_by: [ct.user.arn]}

Windows are fixed and aligned on event time: window ``k`` of a ``w``-second rule is
``[k*w, (k+1)*w)`` seconds since the epoch, the same for every process and every
store, so a detector's state in DynamoDB and ``lanner scan``'s in memory agree.
What that guarantees, for one rule and one group:

- it fires at most once per window, on the match that brings the window's count to
  ``count``;
- ``count`` matches within one aligned window always fire;
- any ``2*count - 1`` matches within ``w`` seconds always fire (a span of ``w``
  seconds overlaps two windows at most, so one of them holds ``count``), while
  ``count`` matches straddling a window boundary may not.

The counting itself is a store's (``ThresholdStore``): ``InMemoryStore`` here, and the
detectors' DynamoDB store in ``functions/threshold_store.py``. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Protocol

from lanner.errors import Location

MIN_COUNT = 2
# A persistent store keeps the id of every match until the count is reached (that is
# what makes a retried record count once): the count bounds the size of that state.
MAX_COUNT = 1000
MAX_WINDOW_SECONDS = 86400
WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600}
_WINDOW = re.compile(r"([1-9][0-9]{0,5})([smh])")


class ThresholdStoreError(Exception):
    """The store could not record a match (its backend failed): the event's threshold
    state is unknown, and the caller must retry the event rather than drop it."""


def parse_window(text: str) -> int:
    """``30s``, ``5m``, ``2h`` as seconds; ValueError says what is allowed."""
    m = _WINDOW.fullmatch(text.strip())
    if m is None:
        raise ValueError(
            f"'window' must be a whole number of seconds, minutes or hours "
            f"(like 30s, 5m, 2h), not '{text}'"
        )
    seconds = int(m[1]) * WINDOW_UNITS[m[2]]
    if seconds > MAX_WINDOW_SECONDS:
        raise ValueError(f"'window' must be at most 24h, not '{text}'")
    return seconds


@dataclass(frozen=True, slots=True)
class Threshold:
    """A rule's ``threshold`` key, validated."""

    count: int
    window: int  # seconds
    window_text: str  # as written ("5m"): what alerts show
    group_by: tuple[str, ...] = ()
    # Where each group_by entry is written (an unknown field is reported there).
    group_locations: tuple[Location, ...] = field(default=(), compare=False)

    def describe(self) -> str:
        """What an alert's text says after the rule's output."""
        return f"({self.count} matches in {self.window_text})"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One rule, one group, one window: what a store counts."""

    rule: str
    group: tuple[str, ...]  # the group_by values as outputs show them ("<NA>": missing)
    start: int  # seconds since the epoch
    seconds: int

    @property
    def end(self) -> int:
        return self.start + self.seconds

    def key(self) -> str:
        """A stable id of the bucket for a persistent store: short and of fixed size
        however long the rule name and group values are."""
        ident = json.dumps([self.rule, list(self.group), self.seconds], ensure_ascii=False)
        digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return f"{digest}#{self.start}"


def bucket_of(rule: str, spec: Threshold, group: tuple[str, ...], time_ns: int) -> Bucket:
    """The bucket an event at ``time_ns`` falls in."""
    seconds = time_ns // 1_000_000_000
    return Bucket(rule, group, seconds - seconds % spec.window, spec.window)


class ThresholdStore(Protocol):
    """Counts the matches of threshold rules."""

    def hit(self, bucket: Bucket, count: int, event: str) -> bool:
        """Records one match, by the event whose id is ``event``, in ``bucket``. True
        exactly once per bucket: for the match that brings it to ``count``. Raises
        ThresholdStoreError when the match could not be recorded."""
        ...


class InMemoryStore:
    """A process's own counts (``lanner scan``, ``lanner rules test``, the default).

    Every match counts, repeated events included: a file given to scan is taken as
    it is. (The detectors' store counts each event id once, because the cloud
    delivers the same record more than once by design.) Memory is bounded: past
    ``max_buckets`` live buckets, those ended more than a day before the latest
    one seen are dropped, then the oldest; a dropped bucket counts from zero again.
    """

    def __init__(self, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self._counts: dict[Bucket, int] = {}
        self._latest = 0

    def hit(self, bucket: Bucket, count: int, event: str) -> bool:
        n = self._counts.get(bucket, 0) + 1
        if n == 1:
            self._make_room(bucket)
        if n <= count:  # past the count nothing changes: it fired once
            self._counts[bucket] = n
        return n == count

    def _make_room(self, bucket: Bucket) -> None:
        self._latest = max(self._latest, bucket.end)
        if len(self._counts) < self.max_buckets:
            return
        horizon = self._latest - MAX_WINDOW_SECONDS
        self._counts = {b: n for b, n in self._counts.items() if b.end > horizon}
        if len(self._counts) >= self.max_buckets:
            keep = list(self._counts.items())[len(self._counts) // 2 :]
            self._counts = dict(keep)

    def clear(self) -> None:
        self._counts.clear()
        self._latest = 0


__all__ = [
    "MAX_COUNT",
    "MAX_WINDOW_SECONDS",
    "MIN_COUNT",
    "Bucket",
    "InMemoryStore",
    "Threshold",
    "ThresholdStore",
    "ThresholdStoreError",
    "bucket_of",
    "parse_window",
]
