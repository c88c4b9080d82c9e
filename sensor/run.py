"""The sensor's main loop: capture -> enrichment -> rules -> alerts (and an optional recording).

With a shipper (``sensor.ship``), the events that leave the node are those the loaded
rules alert on: the detector downstream evaluates them again with its own rules, and
everything else stays on the node. Alerts made on the node itself (lost events) are
shipped too.

The enricher may be given a pre-filter (``lanner.PreFilter``, from the loaded rules): an
event no rule can match is then never made a document; it counts as evaluated, and
``SensorStats.prefiltered`` says how many were.

Rules can change while it runs: a ``reload`` hook is asked between batches (and told when
a SIGHUP came) and may hand back a new engine, which takes over from the next event on;
the hook itself re-targets what depends on the rules (``sensor.command``). With
``metrics`` (``sensor.metrics.SensorMetrics``), each batch is counted by event type and
each alert by rule; everything else the metrics read from what the loop keeps anyway.

Reads like the pipeline it is; each stage lives in its own module and none of them
knows this one.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from lanner import Alert, Engine, Priority
from sensor import syscalls
from sensor.recording import Recorder

if TYPE_CHECKING:
    from sensor.metrics import SensorMetrics


# Event types the state needs whatever the rules say (process tree, fd bookkeeping): the
# ``state`` column of sensor.syscalls' rows.
STATE_EVENT_TYPES = syscalls.STATE_EVENT_TYPES


@dataclass
class SensorStats:
    """What the sensor did, for the closing summary and the drop alert."""

    captured: int = 0
    documents: int = 0  # events the rules were applied to as a document
    # events the pre-filter found no rule can match (the enricher's count, when run ends)
    prefiltered: int = 0
    alerts: int = 0
    shipped: int = 0  # events handed to the shipper (it counts what reached Kinesis)
    drops: dict[str, int] = field(default_factory=dict)

    @property
    def evaluated(self) -> int:
        """Events the rules were applied to: as a document, or by the pre-filter."""
        return self.documents + self.prefiltered


class Shipper(Protocol):
    """Where the events that leave the node go (``sensor.ship.KinesisShipper``)."""

    def add(self, doc: dict[str, Any]) -> None: ...
    def add_alert(self, alert: dict[str, Any]) -> None: ...
    def poll(self) -> None: ...
    def close(self, timeout: float = ...) -> None: ...


class Reload(Protocol):
    """New rules when there are: asked between batches, ``requested`` when a SIGHUP came
    since the last call; returns the engine to run from now on, or None to keep the one
    running. It never raises for rules that do not load (it keeps the last good ones), and
    is called on every turn of the loop, so it is cheap when there is nothing new."""

    def __call__(self, requested: bool) -> Engine | None: ...


def capture_set(engine: Engine, supported: frozenset[str]) -> frozenset[str]:
    """The syscalls to capture: those the loaded rules can match, plus what state needs.

    A rule that can match any event type (no ``evt.type`` constraint) would need every
    syscall; that is bounded by what the capture supports.
    """
    wanted = engine.index_values("syscall", "evt.type")
    base = supported if wanted is None else frozenset(wanted) & supported
    return base | (STATE_EVENT_TYPES & supported)


def run(
    capture: Any,
    enricher: Any,
    engine: Engine,
    on_alert: Callable[[Alert], None],
    *,
    recorder: Recorder | None = None,
    duration: float | None = None,
    heartbeat: Path | None = None,
    shipper: Shipper | None = None,
    ship_timeout: float = 10.0,
    metrics: SensorMetrics | None = None,
    reload: Reload | None = None,
) -> SensorStats:
    """Runs until SIGINT/SIGTERM (or ``duration`` seconds); returns what it did.

    A shipper gets every event that raised an alert, and the node's own alerts; it is
    closed on the way out (sent, or spooled, within ``ship_timeout`` seconds) while the
    stop signals are still caught, so a second SIGTERM cannot cut that short. With
    ``reload``, SIGHUP asks it for new rules (instead of ending the process).
    """
    stats = SensorStats()
    stopping = False
    hup = False

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def hangup(_sig: int, _frame: FrameType | None) -> None:
        nonlocal hup
        hup = True

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    if reload is not None:
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, hangup)
    if metrics is not None:
        metrics.attach(stats=stats, enricher=enricher, shipper=shipper)
        metrics.running = True
    deadline = None if duration is None else time.monotonic() + duration
    last_beat = 0.0
    reported_drops = 0
    try:
        while not stopping and (deadline is None or time.monotonic() < deadline):
            batch = capture.poll(200)
            if metrics is not None and batch:
                metrics.count_batch(batch)
            for raw in batch:
                stats.captured += 1
                doc = enricher.handle(raw)
                if doc is None:
                    continue
                if recorder is not None:
                    recorder.write(doc)
                stats.documents += 1
                alerts = engine.evaluate(doc, "syscall")
                for alert in alerts:
                    stats.alerts += 1
                    on_alert(alert)
                    if metrics is not None:
                        metrics.count_alert(alert)
                if alerts and shipper is not None:
                    shipper.add(doc)
                    stats.shipped += 1
            if reload is not None:
                # Between batches, so between events: each event meets one set of rules.
                requested, hup = hup, False
                new = reload(requested)
                if new is not None:
                    engine = new
            now = time.monotonic()
            if now - last_beat >= 5:
                last_beat = now
                stats.drops = _drops(capture)
                total = sum(stats.drops.values())
                if total > reported_drops:
                    drop = drop_alert_for(stats.drops, total - reported_drops, engine.hostname)
                    on_alert(drop)
                    if metrics is not None:
                        metrics.count_alert(drop)
                    if shipper is not None:
                        shipper.add_alert(drop.to_dict())
                    reported_drops = total
                if heartbeat is not None:
                    _beat(heartbeat)
            if shipper is not None:
                shipper.poll()
    finally:
        if metrics is not None:
            metrics.running = False
        try:
            if shipper is not None:
                shipper.close(ship_timeout)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    stats.drops = _drops(capture)
    stats.prefiltered = getattr(enricher, "prefiltered", 0)
    return stats


# Capture counters that mean an event was lost. (``read_failed`` is not among them: the
# event arrived, with one argument missing.)
LOSS_REASONS = frozenset({"ringbuf_full", "stash_full", "scratch", "no_enter", "decode_errors"})


def _drops(capture: Any) -> dict[str, int]:
    """Events lost, by reason."""
    return {k: v for k, v in capture.stats().items() if k in LOSS_REASONS and v}


def drop_alert_for(drops: dict[str, int], new: int, hostname: str) -> Alert:
    """Falco's internal alert for lost events, so a blind spot is never silent."""
    detail = ", ".join(f"{k}={v}" for k, v in sorted(drops.items()))
    return Alert(
        time_ns=time.time_ns(),
        rule="Falco internal: syscall event drop",
        priority=Priority.CRITICAL,
        source="internal",
        hostname=hostname,
        message=f"Falco internal: syscall event drop. {new} system calls dropped ({detail}).",
        tags=("internal",),
        output_fields={"n_drops": new, **{f"n_drops_{k}": v for k, v in drops.items()}},
        uuid=str(uuid.uuid4()),
    )


def _beat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(time.time()))
    os.replace(tmp, path)


def heartbeat_fresh(path: Path, max_age: float = 30.0) -> bool:
    """For ``lanner sensor --check``: the loop wrote its heartbeat recently."""
    try:
        return time.time() - path.stat().st_mtime <= max_age
    except OSError:
        return False


def exclude_self() -> Iterable[int]:
    return (os.getpid(),)
