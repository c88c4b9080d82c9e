"""The Kinesis detector: the sensors' syscall events, evaluated against the syscall rules.

Each Kinesis record is one ``lanner.batch`` batch from a node: its events are
evaluated, and the alerts the node made itself (Falco's "syscall event drop") are
published in Falco's schema.

A node is trusted for nothing but itself (``functions.publish.node_alert``): every
alert from a record, made on the node or by the rules on its events, is attributed
to the record's partition key (the sensor puts its node name there), whatever
hostname the node wrote, and is published under a uuid of that node's own
(``node_uuid``), so a node can never take the dedup slot of a CloudTrail or audit
alert, nor of another node's. A node alert of any other kind (another source, a
summary, another internal rule) is quarantined with the reason, never published.

A record may also be a single flat syscall document as JSON (an object with
``evt.type``): a producer that is not the lanner sensor, or a hand-made test
event (``aws kinesis put-record``), then needs no batch encoder.

Failures, per record (powertools BatchProcessor, ReportBatchItemFailures):
- unreadable data (not base64, not a batch, a corrupt or truncated batch, JSON nested
  too deep or with absurd numbers) goes to the quarantine queue with the reason and
  the shard/sequence number; the record counts as processed, so it never blocks the
  shard nor fails the good records;
- an alert that cannot be published fails its record only: Lambda retries it, and
  the publisher's dedup keeps what already went out from going out twice.
  Threshold counts that cannot be written (ThresholdStoreError) fail the record the
  same way: a retried match counts once.
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

from functions.publish import AlertMessage, InvalidAlert, PublishError, node_alert, node_uuid
from functions.runtime import detector_handler, get_runtime, logger
from lanner import Alert, boundedjson
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
        # Bounded: nesting or a huge integer is this record's fault, not the batch's.
        doc = boundedjson.loads(data)
    except boundedjson.JsonInputError as exc:
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
    # Who sent the record, as Kinesis knows it: never a field the node wrote.
    node = record.kinesis.partition_key
    node_alerts: list[AlertMessage] = []
    for n, doc in enumerate(unpacked.alerts):
        try:
            node_alerts.append(node_alert(doc, node))
        except InvalidAlert as exc:
            reason = f"node alert {n} from {node}: {exc}"
            rt.quarantine.put(SOURCE, reason, _payload(doc, data), origin)
    alerts = [attributed(a, node) for a in rt.evaluate(unpacked.events, SOURCE)]
    try:
        rt.publisher.publish([*alerts, *node_alerts])
    except PublishError as exc:
        logger.warning(f"record {origin} will be retried: {exc}", extra={"failed": exc.failed})
        raise


def attributed(alert: Alert, node: str) -> Alert:
    """An alert on one of ``node``'s events, as the node's: its hostname is the node that
    sent the record, and its uuid one of that node's own, so that an event copied from
    another node (or forged in its name) cannot take that node's dedup slot."""
    alert.hostname = node
    alert.uuid = node_uuid(node, "event", alert.uuid)
    return alert


def _payload(doc: Any, data: bytes) -> str | bytes:
    """What to quarantine for a refused node alert: the alert as JSON, or the whole
    record when the alert cannot be written back (nested too deep to re-encode)."""
    try:
        return json.dumps(boundedjson.check(doc), default=str)
    except (ValueError, RecursionError):
        return data


@detector_handler(SOURCE)
def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
