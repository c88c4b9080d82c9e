"""CloudWatch Logs subscription payloads, as a subscription filter delivers them to Lambda.

The event is ``{"awslogs": {"data": base64(gzip(json))}}``; the JSON is::

    {"messageType": "DATA_MESSAGE" | "CONTROL_MESSAGE", "owner": "123456789012",
     "logGroup": "/aws/eks/demo/cluster", "logStream": "kube-apiserver-audit-...",
     "subscriptionFilters": ["..."], "logEvents": [{"id", "timestamp", "message"}, ...]}

CONTROL_MESSAGE is CloudWatch checking that the destination is reachable; it
carries no log data. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner import boundedjson

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
# A subscription delivers at most about 1 MB compressed; audit JSON compresses
# 10-20x. Past this the payload is refused rather than allowed to take the memory.
MAX_DECOMPRESSED = 64 * 1024 * 1024


class PayloadError(ValueError):
    """The event is not a readable subscription payload; the message says why."""


@dataclass(frozen=True, slots=True)
class LogEvent:
    id: str
    timestamp: int
    message: str


@dataclass(slots=True)
class LogsPayload:
    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: list[str] = field(default_factory=list)
    log_events: list[LogEvent] = field(default_factory=list)

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


def raw_data(event: Any) -> str:
    """The ``awslogs.data`` string of a Lambda event ("" when there is none)."""
    if isinstance(event, Mapping):
        logs = event.get("awslogs")
        if isinstance(logs, Mapping) and isinstance(logs.get("data"), str):
            return str(logs["data"])
    return ""


def gunzip(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """gzip data, whole: PayloadError names a truncated or corrupt stream."""
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise PayloadError(f"corrupt gzip data: {exc}") from None
    if inflater.unconsumed_tail:
        raise PayloadError(f"payload decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise PayloadError(
            f"truncated gzip data: the stream ends early ({len(data)} compressed bytes read)"
        )
    return out


def decode(event: Any) -> LogsPayload:
    """The payload of a subscription event; PayloadError says what is wrong."""
    data = raw_data(event)
    if not data:
        raise PayloadError("not a CloudWatch Logs subscription event: no awslogs.data")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"awslogs.data is not base64: {exc}") from None
    raw = gunzip(compressed)
    try:
        # Bounded, so that no payload can raise anything but PayloadError.
        doc = boundedjson.loads(raw)
    except ValueError as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError(f"payload is not a JSON object but {type(doc).__name__}")
    message_type = doc.get("messageType")
    if message_type not in (DATA_MESSAGE, CONTROL_MESSAGE):
        raise PayloadError(f"unknown messageType {message_type!r}")
    events = doc.get("logEvents", [])
    if not isinstance(events, list):
        raise PayloadError("logEvents is not a list")
    out = LogsPayload(
        message_type=str(message_type),
        owner=str(doc.get("owner", "")),
        log_group=str(doc.get("logGroup", "")),
        log_stream=str(doc.get("logStream", "")),
        subscription_filters=[str(s) for s in _list(doc.get("subscriptionFilters"))],
    )
    for n, e in enumerate(events):
        if not isinstance(e, dict) or not isinstance(e.get("message"), str):
            raise PayloadError(f"logEvents[{n}] has no message")
        ts = e.get("timestamp", 0)
        out.log_events.append(
            LogEvent(str(e.get("id", n)), ts if isinstance(ts, int) else 0, e["message"])
        )
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def encode(payload: LogsPayload) -> dict[str, Any]:
    """The Lambda event CloudWatch Logs would deliver for ``payload`` (tests, ``lanner demo``)."""
    doc = {
        "messageType": payload.message_type,
        "owner": payload.owner,
        "logGroup": payload.log_group,
        "logStream": payload.log_stream,
        "subscriptionFilters": payload.subscription_filters,
        "logEvents": [
            {"id": e.id, "timestamp": e.timestamp, "message": e.message} for e in payload.log_events
        ],
    }
    data = gzip.compress(json.dumps(doc).encode("utf-8"))
    return {"awslogs": {"data": base64.b64encode(data).decode("ascii")}}
