"""One send attempt's answer, and the one retry policy every destination shares.

A destination sends once and says what happened as an ``Answer``; ``send_with_retries``
decides whether and when to try again: 2xx is done; 429 waits what ``Retry-After`` says;
408, 5xx and network errors back off exponentially with full jitter; any other 4xx
(a revoked Slack URL, a bad routing key) is permanent and goes to the dead-letter queue
with the destination's answer. Waiting stops at the caller's deadline: what is still
transient then is handed back with when to try again, never dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_ANSWER_CHARS = 512


@dataclass(frozen=True, slots=True)
class Answer:
    """What a destination said to one attempt. ``status`` None: no HTTP answer at all."""

    status: int | None
    body: str = ""
    retry_after: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        """A redirect (not followed: it would send the alert elsewhere) or a 4xx that trying
        again will not fix (429, 425 and 408 are not permanent)."""
        s = self.status
        return s is not None and 300 <= s < 500 and s not in (408, 425, 429)

    @property
    def transient(self) -> bool:
        return not self.ok and not self.permanent

    def describe(self) -> str:
        """``HTTP 404: no_service`` or ``network: timed out``: what a person reads in the DLQ."""
        if self.status is None:
            return f"network: {self.error or 'no answer'}"[:MAX_ANSWER_CHARS]
        text = f"HTTP {self.status}"
        detail = (self.body or self.error).strip()
        return (f"{text}: {detail}" if detail else text)[:MAX_ANSWER_CHARS]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    # A Retry-After longer than this is not slept through inside one call: the caller
    # defers the alert (SQS visibility) and a later invocation tries again.
    max_inline_wait: float = 60.0


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: Answer
    attempts: int
    # Transient failure only: how long to wait before the next try (seconds).
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.answer.ok

    @property
    def permanent(self) -> bool:
        return self.answer.permanent


def backoff(attempt: int, policy: RetryPolicy, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng() * min(policy.cap_seconds, policy.base_seconds * (2**attempt))


def send_with_retries(
    send: Callable[[], Answer],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Answer, float], None] | None = None,
) -> Outcome:
    """Sends until delivered, permanent, out of attempts, or the next wait would pass
    ``deadline`` (a ``clock()`` value)."""
    attempt = 0
    while True:
        answer = send()
        attempt += 1
        if answer.ok or answer.permanent:
            return Outcome(answer, attempt)
        wait = answer.retry_after if answer.retry_after is not None else backoff(attempt, policy)
        wait = max(0.0, wait)
        out_of_time = deadline is not None and clock() + wait > deadline
        if attempt >= policy.attempts or out_of_time or wait > policy.max_inline_wait:
            return Outcome(answer, attempt, retry_after=max(wait, policy.base_seconds))
        if on_retry is not None:
            on_retry(answer, wait)
        sleep(wait)
