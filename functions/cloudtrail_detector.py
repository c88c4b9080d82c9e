"""The CloudTrail detector: CloudTrail records, evaluated against the aws_cloudtrail rules.

Records arrive two ways, and a deployment may use both:

- log files: S3 notifies of each new ``AWSLogs/[o-org/]ACCOUNT/CloudTrail/...json.gz``
  (straight to Lambda, or through an SQS queue, possibly via SNS); the file is
  read as a stream and its records evaluated as they are decoded. Digest files,
  Insights files and keys that are not CloudTrail logs are skipped and counted
  (SkippedObjects), never read.
- EventBridge: "AWS API Call via CloudTrail" and the other "... via CloudTrail"
  events carry one record each, seconds after the call rather than the ~5
  minutes a log file takes; S3's own "Object Created" events (a bucket sending
  its notifications to EventBridge) announce log files like S3 notifications.

An event seen both ways alerts once: alert uuids derive from the record's
eventID, so both paths make the same uuid and the publisher's dedup table lets
one through.

Failures:
- bad input is quarantined with its reason and origin and never retried: a
  record that is not a JSON object, nests deeper than boundedjson's limit or holds
  a number of more than 4,300 digits (``s3://bucket/key:Records[3]``; the other
  records are evaluated), a damaged file (truncated gzip, not JSON; the records
  before the damage are evaluated), a notice of no known shape;
- an object deleted before it was read (NoSuchKey) is logged and counted
  (MissingObjects): there is nothing to retry;
- anything transient (PublishError, ThresholdStoreError when the threshold counts
  cannot be written, any other S3 error, the quarantine queue refusing a message)
  fails the SQS message alone (powertools BatchProcessor, ReportBatchItemFailures),
  or the whole invocation for S3 and EventBridge, whose asynchronous invocation
  retries it and then goes to the on-failure destination. A retry re-reads the whole
  object; the dedup table keeps what was already published from going out twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.cloudtrail_input import (
    SOURCE,
    BadRecord,
    Damaged,
    Ignored,
    LogItem,
    LogRecord,
    NotALog,
    Notice,
    ObjectsCreated,
    S3Object,
    TrailEvent,
    Unrecognised,
    is_sqs_event,
    parse_log_key,
    parse_message_body,
    parse_notice,
    read_log,
)
from functions.publish import PublishError
from functions.runtime import Runtime, detector_handler, get_runtime, logger
from lanner import Alert

# Records evaluated (and their alerts published) per step: bounds memory on a
# large file, and gets alerts out before the whole file is read.
STEP = 1000

# Every message gets its own outcome, even when all fail: SQS redrives exactly
# the failed ones.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dataclass(slots=True)
class Tally:
    """What an invocation did, returned by direct (S3, EventBridge) invocations."""

    objects: int = 0
    skipped: int = 0
    missing: int = 0
    events: int = 0
    alerts: int = 0
    duplicates: int = 0
    quarantined: int = 0


@detector_handler(SOURCE)
def handler(event: dict[str, Any], context: Any) -> Any:
    if is_sqs_event(event):
        return process_partial_response(
            event=event, record_handler=message_handler, processor=processor, context=context
        )
    origin = f"lambda/request/{getattr(context, 'aws_request_id', '?')}"
    tally = handle(get_runtime(), parse_notice(event), event, origin)
    return {"status": "ok", **asdict(tally)}


def message_handler(record: SQSRecord) -> None:
    queue = record.event_source_arn.rsplit(":", 1)[-1]
    origin = f"sqs/{queue}/{record.message_id}"
    handle(get_runtime(), parse_message_body(record.body), record.body, origin)


def handle(rt: Runtime, notice: Notice, raw: Any, origin: str) -> Tally:
    """Does what one notice asks; ``raw`` is the notice as received (for the quarantine)."""
    tally = Tally()
    match notice:
        case ObjectsCreated(objects=objects):
            for obj in objects:
                scan_object(rt, obj, tally)
        case TrailEvent(record=record, origin=event_origin):
            evaluate(rt, [record], event_origin, tally)
        case Ignored(reason=reason):
            logger.info(f"{origin}: {reason}, nothing to do")
        case Unrecognised(reason=reason):
            rt.quarantine.put(SOURCE, reason, _as_payload(raw), origin)
            tally.quarantined += 1
            logger.warning(f"{origin}: quarantined: {reason}")
    return tally


def _as_payload(raw: Any) -> str:
    """The notice as received, as text for the quarantine."""
    if isinstance(raw, str):
        return raw
    try:
        return json.dumps(raw, default=str)
    except (RecursionError, ValueError) as exc:
        # A direct event the Lambda runtime decoded with no depth limit can be too
        # deep to write back out: keep why, the origin says which request it was.
        return f"<event not serialisable: {type(exc).__name__}>"


def scan_object(rt: Runtime, obj: S3Object, tally: Tally) -> None:
    """Evaluates every record of one log file, STEP records at a time."""
    where = parse_log_key(obj.key)
    if isinstance(where, NotALog):
        logger.info(f"{obj.origin} skipped: {where.reason}")
        rt.count("SkippedObjects", 1)
        tally.skipped += 1
        return
    s3 = rt.clients.get("s3")
    try:
        body = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
    except s3.exceptions.NoSuchKey:
        # Deleted (a lifecycle rule, a test) since the notification: nothing to retry.
        logger.warning(f"{obj.origin} no longer exists; skipped")
        rt.count("MissingObjects", 1)
        tally.missing += 1
        return
    tally.objects += 1
    before = (tally.events, tally.alerts)
    logger.append_keys(object=obj.origin, account=where.account, region=where.region)
    try:
        docs = good_records(rt, obj, read_log(body), tally)
        while step := list(islice(docs, STEP)):
            evaluate(rt, step, obj.origin, tally)
        events, alerts = tally.events - before[0], tally.alerts - before[1]
        logger.info(f"{obj.origin}: {events} records, {alerts} alerts published")
    finally:
        body.close()
        logger.remove_keys(["object", "account", "region"])


def good_records(
    rt: Runtime, obj: S3Object, items: Iterator[LogItem], tally: Tally
) -> Iterator[Any]:
    """The records of a log file that can be evaluated; the rest are quarantined."""
    for item in items:
        match item:
            case LogRecord(doc=doc):
                yield doc
            case BadRecord(index=index, reason=reason, text=text):
                rt.quarantine.put(SOURCE, reason, text, f"{obj.origin}:Records[{index}]")
                tally.quarantined += 1
            case Damaged(reason=reason, records=read):
                # The object itself is too big for a queue message: where to find it is enough.
                where = {"bucket": obj.bucket, "key": obj.key, "records_read": read}
                rt.quarantine.put(SOURCE, reason, json.dumps(where), obj.origin)
                tally.quarantined += 1
                logger.warning(f"{obj.origin}: {reason}; the {read} records before it were read")


def evaluate(rt: Runtime, docs: list[Any], origin: str, tally: Tally) -> None:
    alerts: list[Alert] = rt.evaluate(docs, SOURCE)
    tally.events += len(docs)
    try:
        result = rt.publisher.publish(alerts)
    except PublishError as exc:
        logger.warning(
            f"{origin}: publish failed, will be retried: {exc}", extra={"failed": exc.failed}
        )
        raise
    tally.alerts += result.published
    tally.duplicates += result.duplicates
