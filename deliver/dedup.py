"""Deduplication windows and their summaries.

Per incident fingerprint, a window (default 5 minutes) opens with the first alert, which
is delivered at once. Copies inside the window are only counted: events, hosts, first
and last seen. When a window with copies closes, one summary is delivered ("N times on
M hosts between T1 and T2"): by the next alert of the incident (which opens the next
window), or by the periodic ``due()`` sweep, whichever comes first. A summary's uuid is
derived from the window, so the publisher's once-only claim makes a race between the
two harmless.

The counting lives behind ``WindowStore``: ``MemoryStore`` here (``lanner notify``, tests),
DynamoDB in ``functions/dedup_table.py`` (conditional writes, safe across concurrent
invocations). Counts are at least once: a Lambda retry of a record counts its copies again.
A retry of the window's first alert is recognised by its uuid and delivered again (the
publisher's claim keeps it to once), so a first alert whose publish failed is not lost.
"""

from __future__ import annotations

import json
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from deliver.alert import DeliveryAlert

DEFAULT_WINDOW_SECONDS = 300
HOST_NAMES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Window:
    """One incident's window: who opened it and what was counted since."""

    key: str  # the fingerprint
    start: float  # wall clock, seconds
    end: float
    first_uuid: str
    sample: str  # the first alert's JSON: what the summary repeats
    count: int = 1
    hosts: frozenset[str] = frozenset()
    first_seen: str = ""  # event times (ISO 8601) of the earliest and latest copy
    last_seen: str = ""
    settled: bool = False  # its summary was handed over

    def summary(self) -> DeliveryAlert:
        """The summary alert: the first alert's document plus ``repeat``, with its own uuid."""
        from deliver.alert import parse_alert  # pydantic: only when there is a summary

        doc = json.loads(self.sample)
        hosts = sorted(self.hosts)
        doc["repeat"] = {
            "count": self.count,
            "hosts": len(hosts),
            "host_names": hosts[:HOST_NAMES_SHOWN],
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "window_seconds": round(self.end - self.start),
        }
        doc["uuid"] = summary_uuid(self.key, self.start)
        return parse_alert(doc)


def summary_uuid(key: str, start: float) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"lanner-summary:{key}:{start:.6f}"))


class CopyResult(Enum):
    COUNTED = "counted"  # a copy, inside an open window
    FIRST_AGAIN = "first-again"  # the window's own first alert, retried
    NO_WINDOW = "no-window"  # none open: this alert opens one


class WindowStore(Protocol):
    def count_copy(
        self, key: str, uuid: str, host: str, seen: str, now: float
    ) -> CopyResult: ...

    def open_window(self, window: Window, now: float) -> tuple[bool, Window | None]:
        """Opens ``window`` unless one is open: (opened, the closed window it replaced)."""
        ...

    def due(self, now: float, limit: int) -> list[Window]:
        """Closed windows with copies whose summary was not handed over."""
        ...

    def settle(self, window: Window) -> bool:
        """Marks a window's summary handed over; False if someone else did, or it was replaced."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    deliver: bool  # deliver this alert now (first of its window)
    summaries: tuple[DeliveryAlert, ...] = ()  # closed windows this alert found


class Deduplicator:
    """``observe(alert, fingerprint)`` says whether to deliver it now; ``due()`` gives the
    summaries of windows that closed with copies."""

    def __init__(
        self,
        store: WindowStore,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.window_seconds = window_seconds
        self.clock = clock

    def observe(self, alert: DeliveryAlert, key: str) -> Decision:
        if alert.is_summary or self.window_seconds <= 0:
            return Decision(True)  # a summary (from an intake, say) is never a copy
        seen = alert.time or _iso(self.clock())
        host = alert.hostname or alert.where.node or "-"
        for _ in range(4):  # each loop means another writer won a race; it converges
            now = self.clock()
            result = self.store.count_copy(key, alert.uuid, host, seen, now)
            if result is CopyResult.COUNTED:
                return Decision(False)
            if result is CopyResult.FIRST_AGAIN:
                return Decision(True)
            window = Window(
                key=key,
                start=now,
                end=now + self.window_seconds,
                first_uuid=alert.uuid,
                sample=alert.to_json(),
                hosts=frozenset({host}),
                first_seen=seen,
                last_seen=seen,
            )
            opened, previous = self.store.open_window(window, now)
            if opened:
                pending = previous is not None and previous.count > 1 and not previous.settled
                return Decision(True, (previous.summary(),) if previous and pending else ())
        # Still racing after four rounds: deliver rather than risk losing it.
        return Decision(True)

    def due(self, limit: int = 100, now: float | None = None) -> list[Window]:
        """Windows closed by ``now`` (default: the clock) with copies and no summary yet;
        ``now=math.inf`` closes them all (the input ended)."""
        return self.store.due(self.clock() if now is None else now, limit)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class MemoryStore:
    """Windows in this process (``lanner notify``); thread-safe."""

    windows: dict[str, Window] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_copy(self, key: str, uuid: str, host: str, seen: str, now: float) -> CopyResult:
        with self.lock:
            w = self.windows.get(key)
            if w is None or w.end <= now:
                return CopyResult.NO_WINDOW
            if w.first_uuid == uuid:
                return CopyResult.FIRST_AGAIN
            self.windows[key] = replace(
                w,
                count=w.count + 1,
                hosts=w.hosts | {host},
                first_seen=min(w.first_seen, seen),
                last_seen=max(w.last_seen, seen),
            )
            return CopyResult.COUNTED

    def open_window(self, window: Window, now: float) -> tuple[bool, Window | None]:
        with self.lock:
            old = self.windows.get(window.key)
            if old is not None and old.end > now:
                return False, None
            self.windows[window.key] = window
            return True, old

    def due(self, now: float, limit: int) -> list[Window]:
        with self.lock:
            # Closed windows with nothing left to say are forgotten: a long-running
            # `lanner sensor --json | lanner notify` must not grow without bound.
            for key in [
                k for k, w in self.windows.items() if w.end <= now and (w.count < 2 or w.settled)
            ]:
                del self.windows[key]
            found = [w for w in self.windows.values() if w.end <= now and w.count > 1]
        return sorted(found, key=lambda w: w.end)[:limit]

    def settle(self, window: Window) -> bool:
        with self.lock:
            w = self.windows.get(window.key)
            if w is None or w.start != window.start or w.settled:
                return False
            self.windows[window.key] = replace(w, settled=True)
            return True


__all__: list[Any] = [
    "CopyResult",
    "Decision",
    "Deduplicator",
    "MemoryStore",
    "Window",
    "WindowStore",
    "summary_uuid",
]
