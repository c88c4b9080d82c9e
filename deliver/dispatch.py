"""Alerts in, destinations out: priority filter, deduplication, retries, summaries.

``lanner notify`` runs this in one process (windows in memory). In AWS the same steps
are split where the data flows: the publisher counts windows before the topic, and each
destination's Lambda sends with the same ``send_with_retries``; both use the pieces
this module puts together, so formatting, escaping, signing, retries and deduplication
are the same code.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from deliver.alert import DeliveryAlert
from deliver.dedup import Deduplicator
from deliver.destination import Destination
from deliver.fingerprint import fingerprint
from deliver.retry import DEFAULT_POLICY, Answer, Outcome, RetryPolicy, send_with_retries
from lanner import Priority

# Summaries of closed windows are looked for at most this often while alerts stream in.
FLUSH_EVERY_S = 1.0
# How many delivered alert uuids are remembered to drop the same alert seen again.
REMEMBERED_UUIDS = 100_000


@dataclass
class DeliveryStats:
    """Per destination: delivered, retried (attempts), failed; and alerts deduplicated."""

    delivered: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    deduplicated: int = 0
    filtered: int = 0
    summaries: int = 0

    def closing_line(self) -> str:
        """The line ``lanner notify`` ends with."""
        return (
            f"delivered {sum(self.delivered.values())}, deduplicated {self.deduplicated}, "
            f"failed {sum(self.failed.values())}"
        )


@dataclass(frozen=True, slots=True)
class Failure:
    destination: str
    alert: DeliveryAlert
    outcome: Outcome


class Dispatcher:
    """Delivers each submitted alert to every destination, once per incident window."""

    def __init__(
        self,
        destinations: Sequence[Destination],
        *,
        dedup: Deduplicator | None = None,
        min_priority: Priority = Priority.DEBUG,
        fingerprint_fields: Mapping[str, Sequence[str]] | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        on_failure: Callable[[Failure], None] | None = None,
        on_retry: Callable[[str, Answer, float], None] | None = None,
    ) -> None:
        self.destinations = list(destinations)
        self.dedup = dedup
        self.min_priority = min_priority
        self.fingerprint_fields = dict(fingerprint_fields or {})
        self.policy = policy
        self.sleep = sleep
        self.on_failure = on_failure
        self.on_retry = on_retry
        self.stats = DeliveryStats()
        self._delivered: dict[str, None] = {}  # uuids delivered, oldest first
        self._last_flush = float("-inf")

    def submit(self, alert: DeliveryAlert) -> None:
        if not alert.priority.at_least(self.min_priority):
            self.stats.filtered += 1
            return
        if alert.uuid in self._delivered:
            # The same alert again (the same input twice): what the publisher's uuid claim
            # does in AWS, here in memory.
            self.stats.deduplicated += 1
            return
        key = fingerprint(alert, self.fingerprint_fields)
        if self.dedup is None:
            self._deliver(alert, key)
            return
        decision = self.dedup.observe(alert, key)
        for summary in decision.summaries:
            self._summary(summary)
        if decision.deliver:
            self._deliver(alert, key)
        else:
            self.stats.deduplicated += 1

    def flush(self, *, final: bool = False) -> None:
        """Delivers the summaries of windows that closed with copies; ``final``: of every
        window (the input ended)."""
        if self.dedup is None:
            return
        now = time.monotonic()
        if not final and now - self._last_flush < FLUSH_EVERY_S:
            return
        self._last_flush = now
        while True:
            windows = self.dedup.due(now=math.inf if final else None)
            for window in windows:
                if self.dedup.store.settle(window):
                    self._summary(window.summary())
            if not windows:
                break

    def _remember(self, uuid: str) -> None:
        self._delivered[uuid] = None
        if len(self._delivered) > REMEMBERED_UUIDS:
            del self._delivered[next(iter(self._delivered))]  # the oldest

    def _summary(self, summary: DeliveryAlert) -> None:
        self.stats.summaries += 1
        self._deliver(summary, fingerprint(summary, self.fingerprint_fields))

    def _deliver(self, alert: DeliveryAlert, key: str) -> None:
        for dest in self.destinations:

            def retried(answer: Answer, wait: float, name: str = dest.name) -> None:
                self.stats.retried[name] += 1
                if self.on_retry is not None:
                    self.on_retry(name, answer, wait)

            outcome = send_with_retries(
                lambda d=dest: d.send(alert, key),  # type: ignore[misc]
                self.policy,
                sleep=self.sleep,
                on_retry=retried,
            )
            if outcome.delivered:
                self.stats.delivered[dest.name] += 1
                self._remember(alert.uuid)
            else:
                self.stats.failed[dest.name] += 1
                if self.on_failure is not None:
                    self.on_failure(Failure(dest.name, alert, outcome))
