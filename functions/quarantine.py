"""The dead-letter queue for input the detectors cannot read.

A bad record is set aside with why and where it came from, so it never blocks a
shard or a log stream and can be looked at (or replayed) later. One SQS message
per bad input::

    {"source": "syscall", "reason": "truncated batch: ...", "origin": "stream/shard/seq",
     "payload": "<text>" | "<base64>", "encoding": "base64" (binary payloads only),
     "time": "2026-01-01T00:00:00Z", "size": 1234, "truncated": true (when cut)}
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

# SQS takes 256 KiB per message; the envelope and JSON escaping need room too.
MAX_PAYLOAD_CHARS = 192 * 1024


class QuarantineError(RuntimeError):
    """The quarantine queue refused the message (the caller retries the input)."""


def _as_text(payload: bytes | str) -> tuple[str, str | None]:
    """The payload as text when it is UTF-8 text, else base64; and the encoding used."""
    if isinstance(payload, str):
        return payload, None
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"
    # Compressed data sometimes decodes as UTF-8 by chance; control characters give it away.
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return base64.b64encode(payload).decode("ascii"), "base64"
    return text, None


class Quarantine:
    """Puts bad input on the quarantine queue; each one counts as a BadRecords metric."""

    def __init__(
        self,
        sqs: Callable[[], Any],
        queue_url: str,
        *,
        count: Callable[[str, float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sqs = sqs  # a factory: the client is only built when something is bad
        self.queue_url = queue_url
        self._count = count
        self._clock = clock

    def message(self, source: str, reason: str, payload: bytes | str, origin: str) -> str:
        """The JSON body of the SQS message."""
        text, encoding = _as_text(payload)
        body: dict[str, Any] = {
            "source": source,
            "reason": reason,
            "origin": origin,
            "payload": text[:MAX_PAYLOAD_CHARS],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock())),
            "size": len(payload),
        }
        if encoding:
            body["encoding"] = encoding
        if len(text) > MAX_PAYLOAD_CHARS:
            body["truncated"] = True
        # ASCII only: SQS refuses some code points, and escapes keep the payload exact.
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"))

    def put(self, source: str, reason: str, payload: bytes | str, origin: str) -> None:
        """Sends one bad input to the queue; QuarantineError if SQS refuses it."""
        body = self.message(source, reason, payload, origin)
        try:
            self._sqs().send_message(QueueUrl=self.queue_url, MessageBody=body)
        except Exception as exc:  # botocore errors have no common importable root worth the import
            raise QuarantineError(f"cannot quarantine input from {origin}: {exc}") from exc
        if self._count is not None:
            self._count("BadRecords", 1)
