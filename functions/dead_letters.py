"""Dead letters of the delivery queues, and sending them again.

A destination's dead-letter queue holds alerts it would not take: permanent answers (a
revoked Slack URL, a bad routing key) put there by the delivery Lambda with the
destination's answer, and alerts whose transient failures outlasted the queue's
``maxReceiveCount``. The message body is the alert exactly as it came from the topic;
the reason is in message attributes ``destination``, ``answer``, ``failed_at``.

``redrive`` sends them back to the queue they came from (the DLQ's one source queue,
or ``to``), where the destination's Lambda delivers them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deliver.inert import inert

MAX_BATCH = 10


def dead_letter(
    sqs: Any, queue_url: str, body: str, destination: str, answer: str, clock: Callable[[], float]
) -> None:
    """Keeps an alert a destination refused, with why; raises if SQS refuses it."""
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            "destination": {"DataType": "String", "StringValue": destination},
            # inert: SQS refuses most control characters, and a person reads this.
            "answer": {"DataType": "String", "StringValue": inert(answer) or "-"},
            "failed_at": {
                "DataType": "String",
                "StringValue": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock())),
            },
        },
    )


class RedriveError(RuntimeError):
    pass


@dataclass
class RedriveResult:
    moved: int = 0
    target: str = ""


def source_queue(sqs: Any, dlq_url: str) -> str:
    """The one queue whose redrive policy points at ``dlq_url``."""
    urls = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(urls) != 1:
        raise RedriveError(
            f"{dlq_url} is the dead-letter queue of {len(urls)} queues; name one with --to"
        )
    return str(urls[0])


def redrive(
    sqs: Any, dlq_url: str, to: str | None = None, limit: int | None = None
) -> RedriveResult:
    """Moves messages from ``dlq_url`` back to their source queue: sent first, then deleted,
    so a failure in between repeats an alert rather than losing it."""
    target = to or source_queue(sqs, dlq_url)
    if target.rstrip("/") == dlq_url.rstrip("/"):
        raise RedriveError("--to names the dead-letter queue itself: that would never end")
    result = RedriveResult(target=target)
    while limit is None or result.moved < limit:
        want = MAX_BATCH if limit is None else min(MAX_BATCH, limit - result.moved)
        got = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=want,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not got:
            break
        for m in got:
            sqs.send_message(QueueUrl=target, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            result.moved += 1
    return result
