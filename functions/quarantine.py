"""The dead-letter queue for input the detectors cannot read.

A bad record is set aside with why and where it came from, so it never blocks a
shard or a log stream and can be looked at (or replayed) later. One SQS message
per bad input::

    {"source": "syscall", "reason": "truncated batch: ...", "origin": "stream/shard/seq",
     "payload": "<text>" | "<base64>", "encoding": "base64" (binary payloads only),
     "time": "2026-01-01T00:00:00Z", "size": 1234, "truncated": true (when cut)}

``size`` is the original payload's size in bytes (UTF-8 for text). A payload that
does not fit in one message is cut (``truncated``): ``origin`` then says where the
whole of it is (stream/shard/sequence, s3://bucket/key:Records[n], log
group/stream/event id).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import Any

# What SQS accepts in one message, in bytes of the UTF-8 body (no attributes are sent).
MAX_MESSAGE_BYTES = 256 * 1024
# The envelope's own texts are ours or short, but a reason can quote input: cap them
# so that the payload always has most of the message.
MAX_FIELD_CHARS = 2048

# SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF. json.dumps
# already escapes the C0 controls; lone surrogates (surrogateescape'd bytes) and
# U+FFFE/U+FFFF would be refused, so they are escaped too. Everything else stays
# as UTF-8: escaping all non-ASCII (ensure_ascii) would take 6 bytes per character.
_REFUSED = re.compile("[\ud800-\udfff\ufffe\uffff]")


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


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _REFUSED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _encoded_len(text: str) -> int:
    """Bytes ``text`` takes as a JSON string in the message body."""
    return len(_json(text).encode("utf-8"))


def _size(payload: bytes | str) -> int:
    if isinstance(payload, bytes):
        return len(payload)
    return len(payload.encode("utf-8", "surrogatepass"))


def _fit(text: str, room: int, *, base64_text: bool) -> str:
    """The longest prefix of ``text`` whose JSON string takes at most ``room`` bytes.

    Escaping makes the cost of a character vary from 1 to 6 bytes (12 for a
    surrogate pair written out), so the cut is searched, not computed.
    """
    lo, hi = 0, min(len(text), room)  # each character takes at least one byte
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _encoded_len(text[:mid]) <= room:
            lo = mid
        else:
            hi = mid - 1
    if base64_text:
        lo -= lo % 4  # whole base64 quanta: the prefix still decodes
    elif 0 < lo < len(text) and "\ud800" <= text[lo - 1] <= "\udbff":
        lo -= 1  # never the first half of a surrogate pair alone
    return text[:lo]


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
        """The JSON body of the SQS message: at most MAX_MESSAGE_BYTES of UTF-8."""
        text, encoding = _as_text(payload)
        body: dict[str, Any] = {
            "source": source[:MAX_FIELD_CHARS],
            "reason": reason[:MAX_FIELD_CHARS],
            "origin": origin[:MAX_FIELD_CHARS],
            "payload": text,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock())),
            "size": _size(payload),
        }
        if encoding:
            body["encoding"] = encoding
        message = _json(body)
        if len(message.encode("utf-8")) <= MAX_MESSAGE_BYTES:
            return message
        # Cut in bytes, after escaping: the envelope (with the truncated flag) is
        # measured first, the payload gets the rest of the message.
        body["truncated"] = True
        body["payload"] = ""
        room = MAX_MESSAGE_BYTES - len(_json(body).encode("utf-8")) + len('""')
        body["payload"] = _fit(text, room, base64_text=encoding == "base64")
        return _json(body)

    def put(self, source: str, reason: str, payload: bytes | str, origin: str) -> None:
        """Sends one bad input to the queue; QuarantineError if SQS refuses it."""
        body = self.message(source, reason, payload, origin)
        try:
            self._sqs().send_message(QueueUrl=self.queue_url, MessageBody=body)
        except Exception as exc:  # botocore errors have no common importable root worth the import
            raise QuarantineError(f"cannot quarantine input from {origin}: {exc}") from exc
        if self._count is not None:
            self._count("BadRecords", 1)
