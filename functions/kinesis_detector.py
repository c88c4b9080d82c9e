"""The Kinesis detector: the sensors' syscall events, evaluated against the syscall rules.

Each Kinesis record is one ``lanner.batch`` batch from a node: its events are
evaluated, and the alerts the node made itself (Falco's "syscall event drop") are
published as they are, in Falco's schema, with their own uuid.

A record may also be a single flat syscall document as JSON (an object with
``evt.type``): a producer that is not the lanner sensor, or a hand-made test
event (``aws kinesis put-record``), then needs no batch encoder.

Failures, per record (powertools BatchProcessor, ReportBatchItemFailures):
- unreadable data (not base64, not a batch, a corrupt or truncated batch) goes to
  the quarantine queue with the reason and the shard/sequence number; the record
  counts as processed, so it never blocks the shard nor fails the good records;
- an alert that cannot be published fails its record only: Lambda retries it, and
  the publisher's dedup keeps what already went out from going out twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)

from functions.publish import AlertMessage, InvalidAlert, PublishError
from functions.runtime import detector_handler, get_runtime, logger
from lanner.batch import BatchError, Unpacked, is_batch, unpack

SOURCE = "syscall"

# Every record gets its own outcome, even when all fail: Lambda retries exactly
# the failed ones instead of the whole batch.
processor = BatchProcessor(
    event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False
)


def decode_record(data: bytes) -> Unpacked:
    """A record's events and node alerts: a lanner batch, or one flat syscall event
    as JSON. BatchError says why a record is neither."""
    if is_batch(data) or data.lstrip()[:1] != b"{":
        return unpack(data)
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise BatchError(f"not a lanner batch, and not a JSON event: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("evt.type"), str):
        raise BatchError("not a lanner batch, and not a JSON syscall event (no 'evt.type')")
    return Unpacked(events=[doc])


def origin_of(record: KinesisStreamRecord) -> str:
    """``stream/shard/sequence number``: where to find the record again."""
    stream = record.event_source_arn.rsplit("/", 1)[-1]
    shard = record.event_id.split(":", 1)[0]
    return f"{stream}/{shard}/{record.kinesis.sequence_number}"


def record_handler(record: KinesisStreamRecord) -> None:
    rt = get_runtime()
    origin = origin_of(record)
    try:
        data = base64.b64decode(record.kinesis.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        rt.quarantine.put(SOURCE, f"record data is not base64: {exc}", record.kinesis.data, origin)
        return
    try:
        unpacked = decode_record(data)
    except BatchError as exc:
        rt.quarantine.put(SOURCE, str(exc), data, origin)
        return
    node_alerts: list[AlertMessage] = []
    for n, doc in enumerate(unpacked.alerts):
        try:
            node_alerts.append(AlertMessage.of(doc))
        except InvalidAlert as exc:
            rt.quarantine.put(SOURCE, f"node alert {n}: {exc}", json.dumps(doc), origin)
    alerts = rt.evaluate(unpacked.events, SOURCE)
    try:
        rt.publisher.publish([*alerts, *node_alerts])
    except PublishError as exc:
        logger.warning(f"record {origin} will be retried: {exc}", extra={"failed": exc.failed})
        raise


@detector_handler(SOURCE)
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
